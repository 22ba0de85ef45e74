//! Settings: the one the admin API lets an administrator change without a restart (the
//! open-ticket limit), and the running configuration that is safe to show: durations, limits
//! and which features are on. Never a secret, URL with credentials or key: only yes/no for
//! those.

use askama::Template;
use askama_web::WebTemplate;
use axum::extract::{RawQuery, State};
use axum::response::IntoResponse;

use super::{AdminFrame, AdminOnly, FormState, Outcome, done, frames};
use crate::app::AppState;
use crate::console::pages::{Frame, PageResult};
use crate::console::signin::check_csrf;
use crate::http::extract::FormBody;
use crate::http::inputs::admin::OPEN_TICKET_LIMIT_RANGE;
use crate::http::routes::admin::{change_settings, open_ticket_limit};

const SECTION: &str = "/console/admin/settings";

/// One line of the running configuration.
pub struct Line {
    pub name: &'static str,
    pub value: String,
    pub from: &'static str,
}

#[derive(Template, WebTemplate)]
#[template(path = "console/admin/settings.html")]
struct SettingsPage {
    frame: Frame,
    admin: AdminFrame,
    form: FormState,
    page_title: &'static str,
    limit: String,
    limit_min: i64,
    limit_max: i64,
    lines: Vec<Line>,
}

/// A duration in seconds, in words.
fn duration(secs: u64) -> String {
    match secs {
        s if s >= 86_400 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        s if s >= 3600 && s % 3600 == 0 => format!("{} hours", s / 3600),
        s if s >= 60 && s % 60 == 0 => format!("{} minutes", s / 60),
        s => format!("{s} seconds"),
    }
}

fn on_off(on: bool) -> String {
    if on { "On" } else { "Off" }.to_owned()
}

fn running(state: &AppState) -> Vec<Line> {
    let micros_secs = |m: i64| u64::try_from(m / 1_000_000).unwrap_or(0);
    vec![
        Line {
            name: "Default open-ticket limit",
            value: state.open_ticket_limit.to_string(),
            from: "SUPPORTDESK_OPEN_TICKET_LIMIT",
        },
        Line {
            name: "Self-registration of customers",
            value: on_off(state.registration),
            from: "SUPPORTDESK_REGISTRATION",
        },
        Line {
            name: "Access token lifetime",
            value: duration(state.token_ttl_secs),
            from: "SUPPORTDESK_TOKEN_TTL",
        },
        Line {
            name: "Refresh token lifetime",
            value: duration(state.refresh_ttl_secs),
            from: "SUPPORTDESK_REFRESH_TTL",
        },
        Line {
            name: "Console session idle limit",
            value: duration(micros_secs(state.console.lifetimes.idle_micros)),
            from: "SUPPORTDESK_CONSOLE_IDLE_TIMEOUT",
        },
        Line {
            name: "Console session lifetime",
            value: duration(state.console.absolute_secs),
            from: "SUPPORTDESK_CONSOLE_SESSION_LIFETIME",
        },
        Line {
            name: "Console cookies Secure (https)",
            value: on_off(state.console.secure),
            from: "SUPPORTDESK_PUBLIC_URL",
        },
        Line {
            name: "Sign-in attempts before a pause",
            value: format!(
                "{} per {}",
                state.sign_in_throttle.max_failures,
                duration(state.sign_in_throttle.window_secs)
            ),
            from: "SUPPORTDESK_SIGNIN_MAX_FAILURES, SUPPORTDESK_SIGNIN_WINDOW",
        },
        Line {
            name: "Limits shared through Redis",
            value: on_off(state.redis.is_some()),
            from: "SUPPORTDESK_REDIS_URL",
        },
        Line {
            name: "Host-platform sign-in (JWT)",
            value: on_off(state.jwt.is_some()),
            from: "SUPPORTDESK_JWT_*",
        },
        Line {
            name: "Email notifications",
            value: on_off(state.mail.is_some()),
            from: "SUPPORTDESK_SMTP_URL",
        },
        Line {
            name: "Email in (IMAP mailboxes)",
            value: state.inbound.mailboxes.len().to_string(),
            from: "SUPPORTDESK_IMAP_URL",
        },
        Line {
            name: "Webhooks disabled after failing for",
            value: duration(state.webhooks.disable_after.as_secs()),
            from: "SUPPORTDESK_WEBHOOK_DISABLE_AFTER",
        },
        Line {
            name: "Webhooks to private addresses",
            value: if state.webhooks.allow_private {
                "Allowed".to_owned()
            } else {
                "Refused".to_owned()
            },
            from: "SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE",
        },
    ]
}

async fn show(state: &AppState, admin: &AdminOnly, outcome: Outcome) -> PageResult {
    let limit = open_ticket_limit(state).await?.to_string();
    let (frame, admin_frame) = frames(state, admin, SECTION, &outcome).await?;
    let page = SettingsPage {
        frame,
        admin: admin_frame,
        page_title: "Settings",
        limit: outcome
            .form
            .value("settings", "open_ticket_limit", &limit)
            .to_owned(),
        limit_min: *OPEN_TICKET_LIMIT_RANGE.start(),
        limit_max: *OPEN_TICKET_LIMIT_RANGE.end(),
        lines: running(state),
        form: outcome.form,
    };
    Ok((outcome.status, page).into_response())
}

/// `GET /console/admin/settings`.
pub async fn page(
    State(state): State<AppState>,
    admin: AdminOnly,
    RawQuery(query): RawQuery,
) -> PageResult {
    show(&state, &admin, Outcome::from_query(query.as_deref())).await
}

/// `POST /console/admin/settings`: `open_ticket_limit`.
pub async fn save(State(state): State<AppState>, admin: AdminOnly, body: FormBody) -> PageResult {
    check_csrf(&admin.0, &body)?;
    match change_settings(&state, &body).await {
        Ok(()) => Ok(done(SECTION, "settings")),
        Err(err) => {
            let outcome = Outcome::refused(err, "settings", &body, &["open_ticket_limit"])?;
            show(&state, &admin, outcome).await
        }
    }
}
