//! Path normalisation before routing (contract section 1): every path works with and without
//! its trailing slash, and the invisible characters that clients pasted from the document (the
//! Unicode format characters, category Cf, and the mis-decoded `β€Ž` the document shows for
//! U+200E) are ignored.

use std::borrow::Cow;

use axum::extract::Request;
use axum::http::Uri;
use axum::http::uri::PathAndQuery;
use percent_encoding::{AsciiSet, CONTROLS, percent_decode_str, utf8_percent_encode};

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

/// Unicode general category Cf (format characters), Unicode 15.
fn is_format_char(c: char) -> bool {
    matches!(c as u32,
        0x00AD | 0x0600..=0x0605 | 0x061C | 0x06DD | 0x070F | 0x0890..=0x0891 | 0x08E2
        | 0x180E | 0x200B..=0x200F | 0x202A..=0x202E | 0x2060..=0x2064 | 0x2066..=0x206F
        | 0xFEFF | 0xFFF9..=0xFFFB | 0x110BD | 0x110CD | 0x13430..=0x1343F
        | 0x1BCA0..=0x1BCA3 | 0x1D173..=0x1D17A | 0xE0001 | 0xE0020..=0xE007F)
}

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
