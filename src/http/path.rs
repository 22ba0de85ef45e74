//! Path normalisation before routing (contract section 1): every path works with and without
//! its trailing slash, and the invisible characters that clients pasted from the document (the
//! Unicode format characters, category Cf, and the mis-decoded `β€Ž` the document shows for
//! U+200E) are ignored.

use std::borrow::Cow;

use axum::extract::{FromRequestParts, Request};
use axum::http::Uri;
use axum::http::request::Parts;
use axum::http::uri::PathAndQuery;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

use crate::domain::unicode::is_format_char;

/// What U+200E looks like after its UTF-8 bytes were decoded as Windows-1253 text.
const MISDECODED_LRM: &str = "\u{3b2}\u{20ac}\u{17d}";

/// Characters re-encoded when a cleaned path is written back into the URI.
const PATH_ESCAPES: &AsciiSet = &CONTROLS
    .add(b' ')
    .add(b'"')
    .add(b'#')
    .add(b'%')
    .add(b'<')
    .add(b'>')
    .add(b'?')
    .add(b'`')
    .add(b'{')
    .add(b'}');

/// The path the router sees: format characters removed, trailing slashes dropped.
pub fn normalize_path(path: &str) -> Cow<'_, str> {
    let needs_decoding = path.contains('%') || !path.is_ascii();
    let trailing = path.len() > 1 && path.ends_with('/');
    if !needs_decoding && !trailing {
        return Cow::Borrowed(path);
    }
    let mut cleaned = match percent_decode_str(path).decode_utf8() {
        Ok(decoded) if needs_decoding => {
            let without: String = decoded
                .replace(MISDECODED_LRM, "")
                .chars()
                .filter(|c| !is_format_char(*c))
                .collect();
            utf8_percent_encode(&without, PATH_ESCAPES).to_string()
        }
        // Not UTF-8 once decoded: leave it as sent; it will simply not match a route.
        _ => path.to_owned(),
    };
    while cleaned.len() > 1 && cleaned.ends_with('/') {
        cleaned.pop();
    }
    Cow::Owned(cleaned)
}

/// The one id a route's path names (`/agent/tickets/{id}/`), or 404 `Not found.` in the
/// envelope: a path segment that is not an id (not digits, not UTF-8 once decoded) cannot name
/// anything, so it is answered like an id that does not exist, never with axum's plain text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Id(pub i64);

impl<S: Send + Sync> FromRequestParts<S> for Id {
    type Rejection = super::envelope::ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let not_found = super::envelope::ApiError::not_found;
        let axum::extract::Path(text) =
            axum::extract::Path::<String>::from_request_parts(parts, state)
                .await
                .map_err(|_| not_found())?;
        text.trim().parse().map(Self).map_err(|_| not_found())
    }
}

/// The path as the client sent it, before normalisation.
#[derive(Clone, Debug)]
pub struct OriginalPath(pub String);

/// Rewrites the request's URI in place; used as the outermost step before the router.
pub fn normalize_request(mut req: Request) -> Request {
    let original = OriginalPath(req.uri().path().to_owned());
    req.extensions_mut().insert(original);
    let uri = req.uri();
    let normalized = normalize_path(uri.path());
    if let Cow::Owned(path) = normalized {
        let path_and_query = match uri.query() {
            Some(query) => format!("{path}?{query}"),
            None => path,
        };
        if let Ok(pq) = PathAndQuery::try_from(path_and_query) {
            let mut parts = uri.clone().into_parts();
            parts.path_and_query = Some(pq);
            if let Ok(new_uri) = Uri::from_parts(parts) {
                *req.uri_mut() = new_uri;
            }
        }
    }
    req
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trailing_slashes_and_invisible_characters_are_ignored() {
        assert_eq!(
            normalize_path("/api/v1/support/ticket/status/"),
            "/api/v1/support/ticket/status"
        );
        assert_eq!(
            normalize_path("/api/v1/%E2%80%8Esupport/ticket/status/"),
            "/api/v1/support/ticket/status"
        );
        assert_eq!(
            normalize_path("/api/v1/%CE%B2%E2%82%AC%C5%BDsupport/ticket/status"),
            "/api/v1/support/ticket/status"
        );
        assert_eq!(
            normalize_path("/api/v1/%EF%BB%BFsupport//"),
            "/api/v1/support"
        );
        assert_eq!(normalize_path("/"), "/");
        assert_eq!(normalize_path("/healthz"), "/healthz");
        assert_eq!(normalize_path("/a%25b"), "/a%25b");
    }
}
