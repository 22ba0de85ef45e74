//! Rules of inbound mail with no I/O: which mails are automatic (never answered, never a
//! ticket), the signed reply token, `[#123]` in a subject, and cutting quoted text.

use hmac::{Hmac, Mac};
use sha2::Sha256;

/// Why a mail counts as automatic, from its headers (names compared case-insensitively by the
/// caller's lookup) and its return path: `None` for a mail a person wrote.
pub fn automatic_reason(
    header: impl Fn(&str) -> Option<String>,
    from: &str,
    return_path: Option<&str>,
) -> Option<String> {
    if let Some(v) = header("Auto-Submitted") {
        let v = v.trim().to_ascii_lowercase();
        if !v.is_empty() && !v.starts_with("no") {
            return Some(format!("Auto-Submitted: {v}"));
        }
    }
    if header("X-Auto-Response-Suppress").is_some() {
        return Some("X-Auto-Response-Suppress".to_owned());
    }
    if let Some(v) = header("Precedence") {
        let v = v.trim().to_ascii_lowercase();
        if matches!(v.as_str(), "bulk" | "junk" | "list" | "auto_reply") {
            return Some(format!("Precedence: {v}"));
        }
    }
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if matches!(local.as_str(), "mailer-daemon" | "postmaster") {
        return Some(format!("sender {local}"));
    }
    // `Return-Path: <>` marks a bounce (RFC 5321 null reverse path).
    if let Some(path) = return_path
        && path
            .trim()
            .trim_start_matches('<')
            .trim_end_matches('>')
            .trim()
            .is_empty()
    {
        return Some("empty return path".to_owned());
    }
    None
}

/// The ticket id named as `[#123]` in a subject, if any.
pub fn subject_ticket(subject: &str) -> Option<i64> {
    let start = subject.find("[#")?;
    let rest = &subject[start + 2..];
    let end = rest.find(']')?;
    let digits = &rest[..end];
    if digits.is_empty() || digits.len() > 18 || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|id| *id > 0)
}

type HmacSha256 = Hmac<Sha256>;

/// Hex characters of the signature kept in a token: 96 bits, far beyond guessing by mail.
const SIGNATURE_HEX: usize = 24;

/// The token a reply address carries for a ticket: `t<id>-<signature>`.
pub fn reply_token(secret: &[u8], ticket_id: i64) -> String {
    format!("t{ticket_id}-{}", signature(secret, ticket_id))
}

fn signature(secret: &[u8], ticket_id: i64) -> String {
    // A key of any length is accepted by HMAC; `new_from_slice` cannot fail for it.
    let mut mac = match HmacSha256::new_from_slice(secret) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(b"supportdesk reply-to ticket ");
    mac.update(ticket_id.to_string().as_bytes());
    let mut text = hex::encode(mac.finalize().into_bytes());
    text.truncate(SIGNATURE_HEX);
    text
}

/// The ticket a token names, when its signature is right (compared in constant time).
pub fn verify_token(secret: &[u8], token: &str) -> Option<i64> {
    use subtle::ConstantTimeEq;
    let rest = token.trim().to_ascii_lowercase();
    let rest = rest.strip_prefix('t')?;
    let (id, sig) = rest.split_once('-')?;
    let id: i64 = id.parse().ok().filter(|id| *id > 0)?;
    let expected = signature(secret, id);
    (!expected.is_empty() && bool::from(expected.as_bytes().ct_eq(sig.as_bytes()))).then_some(id)
}

/// `local+token@domain` for the inbound address `local@domain`.
pub fn reply_address(inbound_address: &str, token: &str) -> Option<String> {
    let (local, domain) = inbound_address.trim().rsplit_once('@')?;
    if local.is_empty() || domain.is_empty() {
        return None;
    }
    Some(format!("{local}+{token}@{domain}"))
}

/// The `+detail` of an address's local part (`support+t1-ab@x` → `t1-ab`).
pub fn address_detail(address: &str) -> Option<&str> {
    let (local, _) = address.rsplit_once('@')?;
    let (_, detail) = local.split_once('+')?;
    (!detail.is_empty()).then_some(detail)
}

/// The new text of a reply, with the quoted earlier messages cut where they are recognisable:
/// from an attribution line (`On … wrote:`, `Am … schrieb …:`, `Le … a écrit :`), an Outlook
/// separator (`-----Original Message-----`, a `From:` header block after a rule), or the first
/// run of `>` lines that runs to the end. When the cut would leave nothing, the text is kept.
pub fn cut_quote(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    let mut cut = lines.len();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let lower = t.to_lowercase();
        let attribution = (lower.starts_with("on ") && lower.ends_with("wrote:"))
            || (lower.starts_with("am ") && lower.contains("schrieb") && lower.ends_with(':'))
            || (lower.starts_with("le ") && lower.contains("a écrit") && lower.ends_with(':'))
            || lower.ends_with("wrote:") && next_is_quote(&lines, i);
        let separator = lower.starts_with("-----original message-----")
            || lower.starts_with("________________")
                && lines
                    .get(i + 1)
                    .is_some_and(|n| n.trim().to_lowercase().starts_with("from:"));
        if attribution || separator {
            cut = i;
            break;
        }
        if t.starts_with('>')
            && lines[i..]
                .iter()
                .all(|l| l.trim().is_empty() || l.trim().starts_with('>'))
        {
            cut = i;
            break;
        }
    }
    let kept = lines[..cut].join("\n");
    let kept = kept.trim_end();
    if kept.trim().is_empty() {
        text.trim().to_owned()
    } else {
        kept.trim_start_matches(['\n', '\r']).to_owned()
    }
}

fn next_is_quote(lines: &[&str], i: usize) -> bool {
    lines[i + 1..]
        .iter()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim_start().starts_with('>'))
}

/// The Message-IDs of a header value (`In-Reply-To`, `References`), without angle brackets.
pub fn message_ids(value: &str) -> Vec<String> {
    value
        .split(|c: char| c.is_whitespace() || c == ',')
        .map(|id| id.trim().trim_start_matches('<').trim_end_matches('>'))
        .filter(|id| !id.is_empty() && id.len() <= 998)
        .map(str::to_owned)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn none(_: &str) -> Option<String> {
        None
    }

    #[test]
    fn auto_replies_and_bounces_are_automatic() {
        let h = |name: &str| (name == "Auto-Submitted").then(|| "auto-replied".to_owned());
        assert!(automatic_reason(h, "a@b.c", None).is_some());
        let h = |name: &str| (name == "Auto-Submitted").then(|| "no".to_owned());
        assert!(automatic_reason(h, "a@b.c", None).is_none());
        let h = |name: &str| (name == "Precedence").then(|| "Bulk".to_owned());
        assert!(automatic_reason(h, "a@b.c", None).is_some());
        let h = |name: &str| (name == "X-Auto-Response-Suppress").then(|| "All".to_owned());
        assert!(automatic_reason(h, "a@b.c", None).is_some());
        assert!(automatic_reason(none, "MAILER-DAEMON@b.c", None).is_some());
        assert!(automatic_reason(none, "a@b.c", Some("<>")).is_some());
        assert!(automatic_reason(none, "a@b.c", Some("<a@b.c>")).is_none());
    }

    #[test]
    fn subject_names_a_ticket_only_in_brackets() {
        assert_eq!(subject_ticket("Re: [#123] Printer"), Some(123));
        assert_eq!(subject_ticket("#123 Printer"), None);
        assert_eq!(subject_ticket("[#12a] x"), None);
        assert_eq!(subject_ticket("[#] x"), None);
        assert_eq!(subject_ticket("[#99999999999999999999] x"), None);
    }

    #[test]
    fn a_token_verifies_only_with_its_secret_and_ticket() {
        let token = reply_token(b"secret", 42);
        assert_eq!(verify_token(b"secret", &token), Some(42));
        assert_eq!(verify_token(b"other", &token), None);
        let forged = token.replacen("t42-", "t43-", 1);
        assert_eq!(verify_token(b"secret", &forged), None);
        let address = reply_address("support@example.com", &token).unwrap_or_default();
        assert_eq!(address_detail(&address), Some(token.as_str()));
    }

    #[test]
    fn quotes_are_cut() {
        let text =
            "Thanks, it works.\n\nOn Mon, 1 Dec 2026 at 10:00, Desk <d@x> wrote:\n> old\n> text\n";
        assert_eq!(cut_quote(text), "Thanks, it works.");
        let text = "New text\n> quoted\n> more\n";
        assert_eq!(cut_quote(text), "New text");
        let text = "Top\n-----Original Message-----\nFrom: x\n";
        assert_eq!(cut_quote(text), "Top");
        let text = "> only a quote\n";
        assert_eq!(cut_quote(text), "> only a quote");
        let text = "> quoted\nmy answer below the quote\n";
        assert_eq!(cut_quote(text), text.trim());
    }

    #[test]
    fn message_ids_lose_their_brackets() {
        assert_eq!(message_ids("<a@b> <c@d>"), vec!["a@b", "c@d"]);
        assert!(message_ids("").is_empty());
    }
}
