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
#[expect(
    dead_code,
    reason = "these types only describe bodies; handlers parse every encoding through FormBody"
)]
mod requests {
    use serde::Serialize;
    use utoipa::ToSchema;

    /// `1` Low, `2` Medium, `3` High.
    #[derive(Serialize, ToSchema)]
    pub enum PriorityChoice {
        #[serde(rename = "1")]
        Low,
        #[serde(rename = "2")]
        Medium,
        #[serde(rename = "3")]
        High,
    }

    /// `1` Open, `2` Processing, `3` Closed.
    #[derive(Serialize, ToSchema)]
    pub enum StatusChoice {
        #[serde(rename = "1")]
        Open,
        #[serde(rename = "2")]
        Processing,
        #[serde(rename = "3")]
        Closed,
    }

    /// `2` reopens a Closed ticket (to Processing), `3` closes an Open or Processing one.
    #[derive(Serialize, ToSchema)]
    pub enum CustomerStatusChoice {
        #[serde(rename = "2")]
        Reopen,
        #[serde(rename = "3")]
        Close,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum RoleChoice {
        Customer,
        Agent,
        Admin,
    }

    #[derive(Serialize, ToSchema)]
    #[serde(rename_all = "lowercase")]
    pub enum ScopeChoice {
        Customer,
        All,
    }

    #[derive(Serialize, ToSchema)]
    #[schema(example = json!({"subject": "Charged twice", "priority": "2", "comment": "See the receipt", "category": 1}))]
    pub struct CreateTicketFields {
        #[schema(max_length = 500, min_length = 1, example = "Charged twice")]
        pub subject: String,
        pub priority: PriorityChoice,
        #[schema(max_length = 65536, min_length = 1, example = "See the receipt")]
        pub comment: String,
        /// A category id from the category list.
        #[schema(example = 1)]
        pub category: i64,
    }

    #[derive(Serialize, ToSchema)]
    pub struct CreateTicketMultipart {
        #[schema(max_length = 500, min_length = 1)]
        pub subject: String,
        pub priority: PriorityChoice,
        #[schema(max_length = 65536, min_length = 1)]
        pub comment: String,
        pub category: i64,
        /// Up to 5 files of at most 2 MiB each.
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    #[derive(Serialize, ToSchema)]
    #[schema(example = json!({"ticket_id": 7, "priority": "3", "tags": [1, 4]}))]
    pub struct UpdateTicketFields {
        pub ticket_id: i64,
        pub priority: Option<PriorityChoice>,
        /// Tag ids; the ticket's tags become exactly these.
        #[schema(min_items = 1)]
        pub tags: Vec<i64>,
    }

    #[derive(Serialize, ToSchema)]
    #[schema(example = json!({"ticket": 7, "comment": "Any news?"}))]
    pub struct ConversationFields {
        pub ticket: i64,
        #[schema(max_length = 65536, min_length = 1)]
        pub comment: String,
    }

    #[derive(Serialize, ToSchema)]
    pub struct ConversationMultipart {
        pub ticket: i64,
        #[schema(max_length = 65536, min_length = 1)]
        pub comment: String,
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    #[derive(Serialize, ToSchema)]
    #[schema(example = json!({"ticket": 7, "status": "3"}))]
    pub struct StatusFields {
        pub ticket: i64,
        pub status: CustomerStatusChoice,
    }

    #[derive(Serialize, ToSchema)]
    pub struct SignInFields {
        #[schema(example = "alice@example.com")]
        pub email: String,
        pub password: String,
    }

    #[derive(Serialize, ToSchema)]
    pub struct RefreshFields {
        pub refresh_token: String,
    }

    #[derive(Serialize, ToSchema)]
    pub struct RegisterFields {
        pub email: String,
        #[schema(min_length = 8, max_length = 256)]
        pub password: String,
    }

    #[derive(Serialize, ToSchema)]
    pub struct MessageFields {
        #[schema(max_length = 65536, min_length = 1)]
        pub comment: String,
    }

    #[derive(Serialize, ToSchema)]
    pub struct MessageMultipart {
        #[schema(max_length = 65536, min_length = 1)]
        pub comment: String,
        #[schema(value_type = Option<Vec<String>>, format = Binary, max_items = 5)]
        pub attachment: Option<Vec<Vec<u8>>>,
    }

    /// Every field optional; what is sent changes, the rest stays.
    #[derive(Serialize, ToSchema)]
    pub struct StaffUpdateFields {
        pub status: Option<StatusChoice>,
        pub priority: Option<PriorityChoice>,
        pub category: Option<i64>,
        /// The ticket's tags become exactly these; empty clears them.
        pub tags: Option<Vec<i64>>,
        /// An agent's or administrator's id; empty or `none` unassigns.
        pub assignee: Option<i64>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct CategoryFields {
        #[schema(max_length = 100, min_length = 1)]
        pub category: String,
        #[schema(max_length = 1000)]
        pub description: Option<String>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct CategoryUpdateFields {
        #[schema(max_length = 100, min_length = 1)]
        pub category: Option<String>,
        #[schema(max_length = 1000)]
        pub description: Option<String>,
        pub active: Option<bool>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct TagFields {
        #[schema(max_length = 100, min_length = 1)]
        pub tag: String,
        #[schema(max_length = 1000)]
        pub keyword: Option<String>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct TagUpdateFields {
        #[schema(max_length = 100, min_length = 1)]
        pub tag: Option<String>,
        #[schema(max_length = 1000)]
        pub keyword: Option<String>,
        pub active: Option<bool>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct UserFields {
        pub email: String,
        pub password: String,
        pub role: Option<RoleChoice>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct UserUpdateFields {
        pub role: Option<RoleChoice>,
        pub active: Option<bool>,
        pub password: Option<String>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct ApiKeyFields {
        #[schema(max_length = 100, min_length = 1)]
        pub name: String,
        pub scope: Option<ScopeChoice>,
    }

    #[derive(Serialize, ToSchema)]
    pub struct SettingsFields {
        #[schema(minimum = 1, maximum = 100000)]
        pub open_ticket_limit: Option<i64>,
    }
}
