//! The types the OpenAPI document describes requests and answers with. Answers are built from
//! these same types (see `views`), so the description follows the code. Request types document
//! the fields the handlers read; the handlers parse bodies of every encoding through
//! `extract::FormBody` and the `domain::fields` rules, whose messages the document lists.

use std::collections::BTreeMap;

use serde::Serialize;
use utoipa::ToSchema;

use super::views::{
    AttachmentItem, CategoryItem, ConversationItem, DetailTicket, EventItem, HistoryItem,
    QueueItem, StaffAttachmentItem, StaffConversationItem, StaffTicket, TagItem,
};

/// The success envelope: `errors` is `{}`, `data` the answer.
#[derive(Serialize, ToSchema)]
pub struct Envelope<T> {
    #[schema(example = 200)]
    pub status_code: u16,
    pub errors: Empty,
    pub data: T,
}

/// The failure envelope: messages per field (`detail` for none), `data` is `{}`.
#[derive(Serialize, ToSchema)]
#[schema(example = json!({"status_code": 400, "errors": {"subject": ["This field is required."]}, "data": {}}))]
pub struct ErrorEnvelope {
    pub status_code: u16,
    pub errors: BTreeMap<String, Vec<String>>,
    pub data: Empty,
}

/// `{}`.
#[derive(Serialize, ToSchema, Default)]
pub struct Empty {}

#[derive(Serialize, ToSchema)]
pub struct CategoryListData {
    #[serde(rename = "CategoryList")]
    pub category_list: Vec<CategoryItem>,
}

#[derive(Serialize, ToSchema)]
pub struct TagListData {
    #[serde(rename = "TicketTagList")]
    pub ticket_tag_list: Vec<TagItem>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedTicketData {
    pub ticket: HistoryItem,
}

#[derive(Serialize, ToSchema)]
pub struct HistoryData {
    #[serde(rename = "TicketList")]
    pub ticket_list: Vec<HistoryItem>,
    /// Tickets matching the filters, ignoring offset and limit.
    pub count: i64,
}

#[derive(Serialize, ToSchema)]
pub struct TicketData {
    pub ticket: DetailTicket,
}

#[derive(Serialize, ToSchema)]
pub struct DetailData {
    pub ticket: DetailTicket,
    /// The ticket author's email.
    pub author: String,
    pub conversations: Vec<ConversationItem>,
    pub attachments: Vec<AttachmentItem>,
}

#[derive(Serialize, ToSchema)]
pub struct ConversationData {
    pub conversation: ConversationItem,
}

#[derive(Serialize, ToSchema)]
pub struct SessionData {
    pub access_token: String,
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds the access token lives.
    pub expires_in: u64,
    pub refresh_token: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredUser {
    pub id: i64,
    pub email: String,
    #[schema(example = "customer")]
    pub role: String,
}

#[derive(Serialize, ToSchema)]
pub struct RegisteredData {
    pub user: RegisteredUser,
}

#[derive(Serialize, ToSchema)]
pub struct HealthData {
    #[schema(example = "ok")]
    pub status: String,
}

#[derive(Serialize, ToSchema)]
pub struct QueueData {
    pub tickets: Vec<QueueItem>,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffTicketData {
    pub ticket: StaffTicket,
    pub author: String,
    /// The assigned agent's email.
    pub assignee: Option<String>,
    pub conversations: Vec<StaffConversationItem>,
    pub attachments: Vec<StaffAttachmentItem>,
    pub events: Vec<EventItem>,
}

#[derive(Serialize, ToSchema)]
pub struct StaffConversationData {
    pub conversation: StaffConversationItem,
}

#[derive(Serialize, ToSchema)]
pub struct AdminCategory {
    pub id: i64,
    pub category: String,
    pub description: String,
    pub active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTag {
    pub id: i64,
    pub tag: String,
    pub keyword: String,
    pub active: bool,
}

#[derive(Serialize, ToSchema)]
pub struct AdminCategoriesData {
    pub categories: Vec<AdminCategory>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminCategoryData {
    pub category: AdminCategory,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTagsData {
    pub tags: Vec<AdminTag>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminTagData {
    pub tag: AdminTag,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUser {
    pub id: i64,
    pub email: String,
    #[schema(example = "agent")]
    pub role: String,
    pub active: bool,
    /// Whether the desk emails this person its notifications.
    pub email_notifications: bool,
    pub created_at: String,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUsersData {
    pub users: Vec<AdminUser>,
}

#[derive(Serialize, ToSchema)]
pub struct AdminUserData {
    pub user: AdminUser,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeyItem {
    pub id: i64,
    pub name: String,
    /// The first characters of the key, to tell keys apart; never the secret.
    pub prefix: String,
    /// `customer` or `all`.
    pub scope: String,
    pub created_at: String,
    pub revoked_at: Option<String>,
}

#[derive(Serialize, ToSchema)]
pub struct ApiKeysData {
    pub apikeys: Vec<ApiKeyItem>,
}

#[derive(Serialize, ToSchema)]
pub struct CreatedKeyData {
    pub id: i64,
    pub name: String,
    pub scope: String,
    /// The key: shown this once only.
    pub apikey: String,
}

#[derive(Serialize, ToSchema)]
pub struct RevokedKeyData {
    pub id: i64,
    pub revoked: bool,
}

#[derive(Serialize, ToSchema)]
pub struct SettingsData {
    pub open_ticket_limit: i64,
}

pub use requests::*;

/// Request bodies as the document describes them: multipart, urlencoded or JSON, the same
/// fields in each; values may be sent as strings (`"2"`) in every encoding.
mod requests {
    use utoipa::ToSchema;
    use utoipa::openapi::RefOr;
    use utoipa::openapi::schema::{ObjectBuilder, Schema, SchemaType, Type};

    use crate::domain::fields::{COMMENT_MAX_CHARS, Choice, SUBJECT_MAX_CHARS};
    use crate::domain::password;
    use crate::domain::people::{KeyScope, Role};
    use crate::domain::ticket::{CustomerStatusRequest, Priority, Status};
    use crate::http::inputs::admin::{DETAIL_MAX_CHARS, NAME_MAX_CHARS};

    /// The limits of a text field as documented: the same constants its parser checks.
    pub trait TextLimits {
        const MAX: usize;
        const MIN: usize;
        const NULLABLE: bool = false;
        const EXAMPLE: Option<&'static str> = None;
    }

    /// A text field's schema, from its limits.
    pub struct Text<L>(std::marker::PhantomData<L>);

    impl<L: TextLimits> utoipa::PartialSchema for Text<L> {
        // `example` is what the derived schemas write (OpenAPI 3.1 deprecates it for `examples`).
        #[expect(deprecated)]
        fn schema() -> RefOr<Schema> {
            let schema_type = if L::NULLABLE {
                SchemaType::from_iter([Type::String, Type::Null])
            } else {
                SchemaType::Type(Type::String)
            };
            ObjectBuilder::new()
                .schema_type(schema_type)
                .max_length(Some(L::MAX))
                .min_length((L::MIN > 0).then_some(L::MIN))
                .example(L::EXAMPLE.map(serde_json::Value::from))
                .into()
        }
    }
    impl<L: TextLimits> ToSchema for Text<L> {}

    macro_rules! text_limits {
        ($($name:ident = $max:expr, $min:expr, $nullable:expr, $example:expr;)+) => {$(
            pub struct $name;
            impl TextLimits for $name {
                const MAX: usize = $max;
                const MIN: usize = $min;
                const NULLABLE: bool = $nullable;
                const EXAMPLE: Option<&'static str> = $example;
            }
        )+};
    }
    text_limits! {
        SubjectLimits = SUBJECT_MAX_CHARS, 1, false, None;
        SubjectExampleLimits = SUBJECT_MAX_CHARS, 1, false, Some("Charged twice");
        CommentLimits = COMMENT_MAX_CHARS, 1, false, None;
        CommentExampleLimits = COMMENT_MAX_CHARS, 1, false, Some("See the receipt");
        NameLimits = NAME_MAX_CHARS, 1, false, None;
        OptionalNameLimits = NAME_MAX_CHARS, 1, true, None;
        DetailLimits = DETAIL_MAX_CHARS, 0, true, None;
        PasswordLimits = password::MAX_CHARS, password::MIN_CHARS, false, None;
    }
    type Subject = Text<SubjectLimits>;
    type SubjectExample = Text<SubjectExampleLimits>;
    type Comment = Text<CommentLimits>;
    type CommentExample = Text<CommentExampleLimits>;
    type Name = Text<NameLimits>;
    type OptionalName = Text<OptionalNameLimits>;
    type Detail = Text<DetailLimits>;
    type NewPassword = Text<PasswordLimits>;

    /// The schema of a domain enumeration: its codes, from `Choice::CHOICES` (written once, in
    /// `domain/`), as a named component.
    macro_rules! choice_schema {
        ($($domain:ty => $name:ident, $description:expr;)+) => {$(
            pub type $name = $domain;
            impl utoipa::PartialSchema for $domain {
                fn schema() -> RefOr<Schema> {
                    let codes = <$domain as Choice>::CHOICES.iter().map(|(code, _)| *code);
                    ObjectBuilder::new()
                        .schema_type(Type::String)
                        .description($description)
                        .enum_values(Some(codes))
                        .into()
                }
            }
            impl ToSchema for $domain {
                fn name() -> std::borrow::Cow<'static, str> {
                    stringify!($name).into()
                }
            }
        )+};
    }
    choice_schema! {
        Priority => PriorityChoice, Some("`1` Low, `2` Medium, `3` High.");
        Status => StatusChoice, Some("`1` Open, `2` Processing, `3` Closed.");
        CustomerStatusRequest => CustomerStatusChoice, Some("`2` reopens a Closed ticket (to Processing), `3` closes an Open or Processing one.");
        Role => RoleChoice, None::<&str>;
        KeyScope => ScopeChoice, None::<&str>;
    }

    #[derive(ToSchema)]
    #[schema(example = json!({"subject": "Charged twice", "priority": "2", "comment": "See the receipt", "category": 1}))]
    pub struct CreateTicketFields {
        #[schema(value_type = SubjectExample, inline)]
        pub subject: String,
        pub priority: PriorityChoice,
        #[schema(value_type = CommentExample, inline)]
        pub comment: String,
        /// A category id from the category list.
        #[schema(example = 1)]
        pub category: i64,
    }

    #[derive(ToSchema)]
    pub struct CreateTicketMultipart {
        #[schema(value_type = Subject, inline)]
        pub subject: String,
        pub priority: PriorityChoice,
        #[schema(value_type = Comment, inline)]
        pub comment: String,
        pub category: i64,
        /// Up to 5 files of at most 2 MiB each.
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    #[derive(ToSchema)]
    #[schema(example = json!({"ticket_id": 7, "priority": "3", "tags": [1, 4]}))]
    pub struct UpdateTicketFields {
        pub ticket_id: i64,
        pub priority: Option<PriorityChoice>,
        /// Tag ids; the ticket's tags become exactly these.
        #[schema(min_items = 1)]
        pub tags: Vec<i64>,
    }

    #[derive(ToSchema)]
    #[schema(example = json!({"ticket": 7, "comment": "Any news?"}))]
    pub struct ConversationFields {
        pub ticket: i64,
        #[schema(value_type = Comment, inline)]
        pub comment: String,
    }

    #[derive(ToSchema)]
    pub struct ConversationMultipart {
        pub ticket: i64,
        #[schema(value_type = Comment, inline)]
        pub comment: String,
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    #[derive(ToSchema)]
    #[schema(example = json!({"ticket": 7, "status": "3"}))]
    pub struct StatusFields {
        pub ticket: i64,
        pub status: CustomerStatusChoice,
    }

    #[derive(ToSchema)]
    pub struct SignInFields {
        #[schema(example = "alice@example.com")]
        pub email: String,
        pub password: String,
    }

    #[derive(ToSchema)]
    pub struct RefreshFields {
        pub refresh_token: String,
    }

    #[derive(ToSchema)]
    pub struct RegisterFields {
        pub email: String,
        #[schema(value_type = NewPassword, inline)]
        pub password: String,
    }

    #[derive(ToSchema)]
    pub struct MessageFields {
        #[schema(value_type = Comment, inline)]
        pub comment: String,
    }

    #[derive(ToSchema)]
    pub struct MessageMultipart {
        #[schema(value_type = Comment, inline)]
        pub comment: String,
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    /// Every field optional; what is sent changes, the rest stays.
    #[derive(ToSchema)]
    pub struct StaffUpdateFields {
        pub status: Option<StatusChoice>,
        pub priority: Option<PriorityChoice>,
        pub category: Option<i64>,
        /// The ticket's tags become exactly these; empty clears them.
        pub tags: Option<Vec<i64>>,
        /// An agent's or administrator's id; empty or `none` unassigns.
        pub assignee: Option<i64>,
    }

    #[derive(ToSchema)]
    pub struct CategoryFields {
        #[schema(value_type = Name, inline)]
        pub category: String,
        #[schema(value_type = Detail, inline, required = false)]
        pub description: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct CategoryUpdateFields {
        #[schema(value_type = OptionalName, inline, required = false)]
        pub category: Option<String>,
        #[schema(value_type = Detail, inline, required = false)]
        pub description: Option<String>,
        pub active: Option<bool>,
    }

    #[derive(ToSchema)]
    pub struct TagFields {
        #[schema(value_type = Name, inline)]
        pub tag: String,
        #[schema(value_type = Detail, inline, required = false)]
        pub keyword: Option<String>,
    }

    #[derive(ToSchema)]
    pub struct TagUpdateFields {
        #[schema(value_type = OptionalName, inline, required = false)]
        pub tag: Option<String>,
        #[schema(value_type = Detail, inline, required = false)]
        pub keyword: Option<String>,
        pub active: Option<bool>,
    }

    #[derive(ToSchema)]
    pub struct UserFields {
        pub email: String,
        pub password: String,
        pub role: Option<RoleChoice>,
    }

    #[derive(ToSchema)]
    pub struct UserUpdateFields {
        pub role: Option<RoleChoice>,
        pub active: Option<bool>,
        pub password: Option<String>,
        /// `false` opts the person out of email notifications, `true` back in.
        pub email_notifications: Option<bool>,
    }

    #[derive(ToSchema)]
    pub struct ApiKeyFields {
        #[schema(value_type = Name, inline)]
        pub name: String,
        pub scope: Option<ScopeChoice>,
    }

    #[derive(ToSchema)]
    pub struct SettingsFields {
        #[schema(minimum = 1, maximum = 100000)]
        pub open_ticket_limit: Option<i64>,
    }
}

/// A page of search hits, best first.
#[derive(Serialize, ToSchema)]
pub struct SearchData<T> {
    pub tickets: Vec<T>,
    /// Matching tickets: exact up to 100; when `total_exact` is false there are more.
    pub total: i64,
    pub total_exact: bool,
    /// Pass back as `cursor` for the next page; `null` on the last.
    pub next_cursor: Option<String>,
}
