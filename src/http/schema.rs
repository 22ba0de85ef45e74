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
