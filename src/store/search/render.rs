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

/// The words a prefix stands for (see `search_words`), by prefix.
pub type Completions = std::collections::HashMap<String, Vec<String>>;

/// An FTS5 `MATCH` expression: `{cols} : (("a" AND ("b c" OR "b cd")) NOT ("d"))`. A prefix
/// is written as the exact words it begins (`completions`), which FTS5 reads newest first and
/// only as far as needed; a prefix not in `completions` keeps FTS5's own `*`.
pub fn fts5(query: &Query, audience: Audience, completions: &Completions) -> String {
    // Quoted strings are FTS5's literal form; a quote inside is doubled.
    let quoted = |words: &[String]| format!("\"{}\"", words.join(" ").replace('"', "\"\""));
    let phrase = |p: &Phrase| {
        let Some((last, first)) = p.words.split_last() else {
            return "\"\"".to_owned();
        };
        match completions.get(last).filter(|_| p.prefix) {
            Some(words) if words.is_empty() => quoted(&p.words),
            Some(words) => {
                let alternatives: Vec<String> = words
                    .iter()
                    .map(|w| {
                        let mut all = first.to_vec();
                        all.push(w.clone());
                        quoted(&all)
                    })
                    .collect();
                format!("({})", alternatives.join(" OR "))
            }
            None if p.prefix => format!("{}*", quoted(&p.words)),
            None => quoted(&p.words),
        }
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

/// A `to_tsquery('simple', …)` text: `'a' & ('b' <-> 'c' | 'b' <-> 'cd') & !('d')`, each word
/// restricted to the weights the audience may match (customers: A, B, C; never D, the notes).
/// A prefix is written as the exact words it begins (`completions`), whose frequency the
/// planner knows; one not in `completions` keeps `:*`.
pub fn tsquery(query: &Query, audience: Audience, completions: &Completions) -> String {
    let weights = match audience {
        Audience::Staff => "",
        Audience::Customer => "ABC",
    };
    let lexeme = |w: &str, star: bool| {
        // A quoted lexeme; quote and backslash are escaped although words never hold them.
        let quoted = w.replace('\\', "\\\\").replace('\'', "''");
        let star = if star { "*" } else { "" };
        if star.is_empty() && weights.is_empty() {
            format!("'{quoted}'")
        } else {
            format!("'{quoted}':{star}{weights}")
        }
    };
    let sequence = |words: &[String], star: bool| {
        let n = words.len();
        let parts: Vec<String> = words
            .iter()
            .enumerate()
            .map(|(i, w)| lexeme(w, star && i + 1 == n))
            .collect();
        parts.join(" <-> ")
    };
    let phrase = |p: &Phrase| {
        let Some((last, first)) = p.words.split_last() else {
            return "''".to_owned();
        };
        match completions.get(last).filter(|_| p.prefix) {
            Some(words) if words.is_empty() => format!("({})", sequence(&p.words, false)),
            Some(words) => {
                let alternatives: Vec<String> = words
                    .iter()
                    .map(|w| {
                        let mut all = first.to_vec();
                        all.push(w.clone());
                        sequence(&all, false)
                    })
                    .collect();
                format!("({})", alternatives.join(" | "))
            }
            None => format!("({})", sequence(&p.words, p.prefix)),
        }
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
        let none = Completions::new();
        assert_eq!(
            fts5(&q, Audience::Staff, &none),
            r#"("refund" AND "credit card" AND "invoi"*) NOT ("paypal")"#
        );
        assert_eq!(
            fts5(&q, Audience::Customer, &none),
            r#"{subject messages files email} : (("refund" AND "credit card" AND "invoi"*) NOT ("paypal"))"#
        );
        let mut completions = Completions::new();
        completions.insert("invoi".into(), vec!["invoice".into(), "invoices".into()]);
        assert_eq!(
            fts5(&q, Audience::Staff, &completions),
            r#"("refund" AND "credit card" AND ("invoice" OR "invoices")) NOT ("paypal")"#
        );
        let q = parse(r#"credit car"#).unwrap_or_default();
        let mut completions = Completions::new();
        completions.insert("car".into(), vec!["card".into()]);
        assert_eq!(
            fts5(&q, Audience::Staff, &completions),
            r#"("credit" AND ("card"))"#
        );
        completions.insert("car".into(), vec![]);
        assert_eq!(
            fts5(&q, Audience::Staff, &completions),
            r#"("credit" AND "car")"#
        );
    }

    #[test]
    fn tsqueries_quote_every_word_and_restrict_customers() {
        let q = parse(r#"refund "credit card" -paypal invoi"#).unwrap_or_default();
        let none = Completions::new();
        assert_eq!(
            tsquery(&q, Audience::Staff, &none),
            "('refund') & ('credit' <-> 'card') & ('invoi':*) & !(('paypal'))"
        );
        assert_eq!(
            tsquery(&q, Audience::Customer, &none),
            "('refund':ABC) & ('credit':ABC <-> 'card':ABC) & ('invoi':*ABC) & !(('paypal':ABC))"
        );
        let mut completions = Completions::new();
        completions.insert("invoi".into(), vec!["invoice".into(), "invoices".into()]);
        assert_eq!(
            tsquery(&q, Audience::Customer, &completions),
            "('refund':ABC) & ('credit':ABC <-> 'card':ABC) & ('invoice':ABC | 'invoices':ABC) & !(('paypal':ABC))"
        );
    }
}
