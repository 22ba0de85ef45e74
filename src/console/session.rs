//! Console sessions: a random token in an `HttpOnly`, `SameSite=Lax` cookie (`Secure` when the
//! desk's public URL is https), only its SHA-256 in the database (`store::console_sessions`),
//! idle and absolute lifetimes from the settings. Every state-changing request carries a CSRF
//! token derived from the session's secret, which a page of another site cannot read.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use sha2::Digest;
use subtle::ConstantTimeEq;

use crate::app::AppState;
use crate::domain::people::Person;
use crate::domain::secrets::hash_secret;
use crate::store::console_sessions::{self, Lifetimes};
use crate::store::now_micros;

/// The session cookie's name.
pub const COOKIE: &str = "sd_console";
/// The sign-in form's own CSRF cookie (there is no session yet to derive a token from).
pub const PRE_COOKIE: &str = "sd_console_signin";

/// A session is marked used at most this often (a write per request would be wasted).
const TOUCH_EVERY_MICROS: i64 = 60_000_000;

/// The console's settings, from the serve configuration.
#[derive(Clone, Copy, Debug)]
pub struct Settings {
    pub lifetimes: Lifetimes,
    pub absolute_secs: u64,
    /// Cookies get `Secure` (the desk is reached over https).
    pub secure: bool,
}

impl Settings {
    pub fn new(idle_secs: u64, absolute_secs: u64, public_url: Option<&str>) -> Self {
        let micros = |secs: u64| {
            i64::try_from(secs)
                .unwrap_or(i64::MAX / 1_000_000)
                .saturating_mul(1_000_000)
        };
        Self {
            lifetimes: Lifetimes {
                idle_micros: micros(idle_secs.max(1)),
                absolute_micros: micros(absolute_secs.max(1)),
            },
            absolute_secs: absolute_secs.max(1),
            secure: public_url.is_some_and(|u| u.trim().to_ascii_lowercase().starts_with("https:")),
        }
    }

    /// A `Set-Cookie` value for the console's path.
    pub fn cookie(&self, name: &str, value: &str, max_age: u64, same_site: &str) -> HeaderValue {
        let secure = if self.secure { "; Secure" } else { "" };
        let text = format!(
            "{name}={value}; Path=/console; Max-Age={max_age}; HttpOnly; SameSite={same_site}{secure}"
        );
        // Our own ASCII: always a valid header value.
        HeaderValue::from_str(&text).unwrap_or_else(|_| HeaderValue::from_static(""))
    }
}

/// A new session token: shown to the browser once (the cookie), stored hashed.
pub fn new_token() -> String {
    format!("sdc_{}", hex::encode(rand::random::<[u8; 32]>()))
}

/// The CSRF token of a session (or of a sign-in form): a hash of its secret, so that it is
/// stable for the session, needs no storage, and tells nothing about the secret.
pub fn csrf_of(secret: &str) -> String {
    hex::encode(sha2::Sha256::digest(
        format!("console-csrf:{secret}").as_bytes(),
    ))
}

/// Whether the sent CSRF token is the one expected (in constant time).
pub fn csrf_matches(expected: &str, sent: Option<&str>) -> bool {
    sent.is_some_and(|sent| expected.as_bytes().ct_eq(sent.as_bytes()).into())
}

/// A cookie's value as the request carried it.
pub fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.trim())
        .filter(|v| !v.is_empty())
}

/// A signed-in agent or administrator, with the session's CSRF token.
pub struct Agent {
    pub person: Person,
    pub session_id: i64,
    pub csrf: String,
}

/// Where a request without a live session goes: the sign-in page (for htmx, by its header).
pub fn to_sign_in(parts_headers: &HeaderMap) -> Response {
    if parts_headers.contains_key("hx-request") {
        let mut response = StatusCode::UNAUTHORIZED.into_response();
        response
            .headers_mut()
            .insert("hx-redirect", HeaderValue::from_static("/console/sign-in"));
        return response;
    }
    Redirect::to("/console/sign-in").into_response()
}

impl FromRequestParts<AppState> for Agent {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Response> {
        let Some(token) = cookie(&parts.headers, COOKIE) else {
            return Err(to_sign_in(&parts.headers));
        };
        let settings = state.console;
        let found = console_sessions::find(&state.db, &hash_secret(token), settings.lifetimes)
            .await
            .map_err(|e| super::pages::failure(e.into()))?;
        // A person who is no longer staff (or inactive) has no console, whatever the session.
        let Some(found) = found.filter(|f| f.active && f.person.role.is_staff()) else {
            return Err(to_sign_in(&parts.headers));
        };
        // Often enough that a short idle timeout still counts the requests made within it.
        let touch_every = TOUCH_EVERY_MICROS.min(settings.lifetimes.idle_micros / 2);
        if now_micros().saturating_sub(found.last_seen_at) > touch_every {
            console_sessions::touch(&state.db, found.id)
                .await
                .map_err(|e| super::pages::failure(e.into()))?;
        }
        Ok(Self {
            person: found.person,
            session_id: found.id,
            csrf: csrf_of(token),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_are_found_by_exact_name_and_csrf_tokens_compare_exactly() {
        let mut headers = HeaderMap::new();
        headers.insert(
            header::COOKIE,
            HeaderValue::from_static("x_sd_console=no; sd_console=sdc_1; other=2"),
        );
        assert_eq!(cookie(&headers, COOKIE), Some("sdc_1"));
        assert_eq!(cookie(&headers, "missing"), None);
        let token = csrf_of("sdc_1");
        assert!(csrf_matches(&token, Some(&token)));
        assert!(!csrf_matches(&token, Some(&csrf_of("sdc_2"))));
        assert!(!csrf_matches(&token, None));
        assert!(!csrf_matches(&token, Some("")));
    }

    #[test]
    fn secure_cookies_only_for_an_https_desk() {
        assert!(Settings::new(1, 1, Some("https://desk.example.com")).secure);
        assert!(!Settings::new(1, 1, Some("http://desk.example.com")).secure);
        assert!(!Settings::new(1, 1, None).secure);
        let cookie = Settings::new(1, 60, Some("HTTPS://x")).cookie(COOKIE, "v", 60, "Lax");
        assert_eq!(
            cookie.to_str().ok(),
            Some("sd_console=v; Path=/console; Max-Age=60; HttpOnly; SameSite=Lax; Secure")
        );
    }
}
