//! A parsed [`Query`] in each backend's own match syntax. Only the words the desk's own
//! tokenizer produced reach this text (letters, digits, CJK characters), and each is quoted
//! all the same, so no client text is ever read as FTS5 or `tsquery` syntax.

use crate::domain::search::{Phrase, Query};

/// Who is searching decides which parts of a ticket a query may match.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Audience {
    /// Every part, internal notes included.
    Staff,
    /// The subject, the messages the customer sees, file names and the email: never notes.
    Customer,
}

/// An FTS5 `MATCH` expression: `{cols} : (("a" AND "b c"*) NOT ("d"))`.
pub fn fts5(query: &Query, audience: Audience) -> String {
    let phrase = |p: &Phrase| {
        let words = p.words.join(" ");
        // Quoted strings are FTS5's literal form; a quote inside is doubled.
        let mut out = format!("\"{}\"", words.replace('"', "\"\""));
        if p.prefix {
            out.push('*');
        }
        out
    };
    let include: Vec<String> = query.include.iter().map(phrase).collect();
    let mut expr = format!("({})", include.join(" AND "));
    if !query.exclude.is_empty() {
        let exclude: Vec<String> = query.exclude.iter().map(phrase).collect();
        expr = format!("{expr} NOT ({})", exclude.join(" OR "));
    }
    match audience {
        Audience::Staff => expr,
        Audience::Customer => format!("{{subject messages files email}} : ({expr})"),
    }
}

/// A `to_tsquery('simple', …)` text: `'a' & ('b' <-> 'c':*) & !('d')`, each word restricted to
/// the weights the audience may match (customers: A, B, C; never D, the notes).
pub fn tsquery(query: &Query, audience: Audience) -> String {
    let weights = match audience {
        Audience::Staff => "",
        Audience::Customer => "ABC",
    };
    let phrase = |p: &Phrase| {
        let n = p.words.len();
        let words: Vec<String> = p
            .words
            .iter()
            .enumerate()
            .map(|(i, w)| {
                // A quoted lexeme; quote and backslash are escaped although words never hold
                // them.
                let quoted = w.replace('\\', "\\\\").replace('\'', "''");
                let star = if p.prefix && i + 1 == n { "*" } else { "" };
                let label = if star.is_empty() && weights.is_empty() {
                    String::new()
                } else {
                    format!(":{star}{weights}")
                };
                format!("'{quoted}'{label}")
            })
            .collect();
        format!("({})", words.join(" <-> "))
    };
    let mut parts: Vec<String> = query.include.iter().map(phrase).collect();
    if !query.exclude.is_empty() {
        let exclude: Vec<String> = query.exclude.iter().map(phrase).collect();
        parts.push(format!("!({})", exclude.join(" | ")));
    }
    parts.join(" & ")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::search::parse;

    #[test]
    fn fts5_expressions_quote_every_word() {
        let q = parse(r#"refund "credit card" -paypal invoi"#).unwrap_or_default();
        assert_eq!(
            fts5(&q, Audience::Staff),
            r#"("refund" AND "credit card" AND "invoi"*) NOT ("paypal")"#
        );
        assert_eq!(
            fts5(&q, Audience::Customer),
            r#"{subject messages files email} : (("refund" AND "credit card" AND "invoi"*) NOT ("paypal"))"#
        );
    }

    #[test]
    fn tsqueries_quote_every_word_and_restrict_customers() {
        let q = parse(r#"refund "credit card" -paypal invoi"#).unwrap_or_default();
        assert_eq!(
            tsquery(&q, Audience::Staff),
            "('refund') & ('credit' <-> 'card') & ('invoi':*) & !(('paypal'))"
        );
        assert_eq!(
            tsquery(&q, Audience::Customer),
            "('refund':ABC) & ('credit':ABC <-> 'card':ABC) & ('invoi':*ABC) & !(('paypal':ABC))"
        );
    }
}
