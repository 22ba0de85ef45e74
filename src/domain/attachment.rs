//! What is kept of an uploaded file's name and type, and how it is served back safely.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Most characters kept of a file name.
const FILENAME_MAX_CHARS: usize = 255;

/// The file name as metadata: its last path component, without control or format characters, at most
/// 255 characters; `attachment` when nothing is left. It is never used as a path.
pub fn clean_filename(sent: &str) -> String {
    let last = sent.rsplit(['/', '\\']).next().unwrap_or("");
    let cleaned: String = last
        .chars()
        // Controls and format characters (a right-to-left override shows `a\u{202E}txt.exe`
        // as `aexe.txt`) are dropped: the name shown is the name it has.
        .filter(|c| !crate::domain::unicode::is_invisible(*c))
        .take(FILENAME_MAX_CHARS)
        .collect();
    let trimmed = cleaned.trim();
    if trimmed.is_empty() || trimmed == "." || trimmed == ".." {
        "attachment".to_owned()
    } else {
        trimmed.to_owned()
    }
}

/// The content type to store: the declared `type/subtype` in lower case without parameters, or
/// `application/octet-stream` when it is missing or not a well-formed media type.
pub fn clean_content_type(declared: Option<&str>) -> String {
    let essence = declared
        .and_then(|d| d.split(';').next())
        .map(|d| d.trim().to_ascii_lowercase())
        .unwrap_or_default();
    let token = |s: &str| {
        !s.is_empty()
            && s.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b"!#$&^_.+-".contains(&b))
    };
    match essence.split_once('/') {
        Some((kind, sub)) if token(kind) && token(sub) => essence,
        _ => "application/octet-stream".to_owned(),
    }
}

/// The content type to serve: the stored one, except that anything a browser would run or
/// render as a document (HTML, SVG, XML, JavaScript) is served as opaque bytes.
pub fn served_content_type(stored: &str) -> &str {
    const ACTIVE: &[&str] = &[
        "html",
        "xml",
        "svg",
        "javascript",
        "ecmascript",
        "x-shockwave",
    ];
    if stored.is_empty() || ACTIVE.iter().any(|a| stored.contains(a)) {
        "application/octet-stream"
    } else {
        stored
    }
}

/// RFC 5987 `attr-char`: everything else is percent-encoded in `filename*`.
const ATTR_CHAR: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'!')
    .remove(b'#')
    .remove(b'$')
    .remove(b'&')
    .remove(b'+')
    .remove(b'-')
    .remove(b'.')
    .remove(b'^')
    .remove(b'_')
    .remove(b'`')
    .remove(b'|')
    .remove(b'~');

/// `Content-Disposition: attachment` per RFC 6266: an ASCII `filename` (quotes, backslashes and
/// non-ASCII replaced) and, when that lost anything, the exact name in `filename*`.
pub fn content_disposition(filename: &str) -> String {
    let fallback: String = filename
        .chars()
        .map(|c| {
            if c.is_ascii() && !c.is_ascii_control() && c != '"' && c != '\\' {
                c
            } else {
                '_'
            }
        })
        .collect();
    if fallback == filename {
        format!("attachment; filename=\"{fallback}\"")
    } else {
        format!(
            "attachment; filename=\"{fallback}\"; filename*=UTF-8''{}",
            utf8_percent_encode(filename, ATTR_CHAR)
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_lose_paths_and_control_characters() {
        assert_eq!(clean_filename("../../etc/passwd"), "passwd");
        assert_eq!(clean_filename("C:\\temp\\report.pdf"), "report.pdf");
        assert_eq!(clean_filename("a\u{0}b\r\nc.txt"), "abc.txt");
        assert_eq!(clean_filename(".."), "attachment");
        assert_eq!(clean_filename(""), "attachment");
        assert_eq!(clean_filename("Grüße.txt"), "Grüße.txt");
    }

    #[test]
    fn active_content_is_served_as_bytes() {
        assert_eq!(served_content_type("text/html"), "application/octet-stream");
        assert_eq!(
            served_content_type("image/svg+xml"),
            "application/octet-stream"
        );
        assert_eq!(
            served_content_type("application/javascript"),
            "application/octet-stream"
        );
        assert_eq!(served_content_type("image/png"), "image/png");
        assert_eq!(
            clean_content_type(Some("Text/Plain; charset=utf-8")),
            "text/plain"
        );
        assert_eq!(
            clean_content_type(Some("nonsense")),
            "application/octet-stream"
        );
        assert_eq!(clean_content_type(None), "application/octet-stream");
    }

    #[test]
    fn dispositions_stay_one_valid_header() {
        assert_eq!(
            content_disposition("log.txt"),
            "attachment; filename=\"log.txt\""
        );
        assert_eq!(
            content_disposition("a\"b.txt"),
            "attachment; filename=\"a_b.txt\"; filename*=UTF-8''a%22b.txt"
        );
        assert_eq!(
            content_disposition("Grüße.txt"),
            "attachment; filename=\"Gr__e.txt\"; filename*=UTF-8''Gr%C3%BC%C3%9Fe.txt"
        );
    }
}
