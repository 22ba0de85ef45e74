//! Search, free of SQL: how text becomes the words the index holds, and the query language
//! parsed into a typed [`Query`]. The store renders a `Query` into each backend's own syntax
//! from these words only, so nothing a client types reaches FTS5 or `tsquery` as syntax.
//!
//! Folding is done here, once, for both backends (not by FTS5's tokenizer options or
//! PostgreSQL's `unaccent`): compatibility decomposition (NFKD), combining marks dropped, lower
//! case. `Résumé`, `RESUME` and `ｒｅｓｕｍｅ` are all `resume`. The index then holds words
//! separated by single spaces, which FTS5's `unicode61` tokenizer and PostgreSQL's `simple`
//! configuration both split the same way, so the two backends match the same tickets.
//!
//! CJK scripts (Han, Hiragana, Katakana, Hangul) write words without spaces; a run of them is
//! indexed as overlapping pairs of characters (bigrams: `東京都` is `東京 京都`), and a query run
//! becomes the phrase of its pairs, so any substring of two or more characters is found. One
//! character alone finds the pairs it begins.

use unicode_normalization::UnicodeNormalization;
use unicode_normalization::char::is_combining_mark;

use crate::domain::ticket::Status;

/// The longest query accepted, in characters.
pub const QUERY_MAX_CHARS: usize = 500;
/// The most words (after splitting, excluded ones included) one query may hold.
pub const QUERY_MAX_WORDS: usize = 32;
/// Longer words are cut to this many characters, in the index and in queries alike (an
/// unbounded word would only grow the index; PostgreSQL drops words over 2 KB).
pub const WORD_MAX_CHARS: usize = 64;

pub const NOTHING_TO_SEARCH: &str =
    "Enter a word, a \"phrase\", #ticket-number, from:email or status: to search for.";
pub const ONLY_EXCLUDED: &str = "Add a word to search for besides the excluded ones.";
pub const EMPTY_FROM: &str = "from: needs an email address or a part of one.";

pub fn too_many_words() -> String {
    format!("Use at most {QUERY_MAX_WORDS} words.")
}

pub fn invalid_status(sent: &str) -> String {
    format!("\"{sent}\" is not a valid status; use open, processing or closed.")
}

/// A word of some text, with where it is in that text (byte offsets), for snippets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Word {
    pub text: String,
    pub start: usize,
    pub end: usize,
}

/// Han, Hiragana, Katakana, Hangul syllables and jamo: scripts written without spaces.
pub fn is_cjk(c: char) -> bool {
    matches!(c as u32,
        0x1100..=0x11FF
        | 0x3040..=0x30FF
        | 0x3130..=0x318F
        | 0x31F0..=0x31FF
        | 0x3400..=0x4DBF
        | 0x4E00..=0x9FFF
        | 0xAC00..=0xD7AF
        | 0xF900..=0xFAFF
        | 0xFF66..=0xFF9F
        | 0x20000..=0x2FA1F)
}

/// Case and accents folded, compatibility forms unified; CJK characters are kept as they are
/// (decomposing kana would drop their voicing marks and change the word).
pub fn fold(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        fold_char(c, &mut out);
    }
    out
}

fn fold_char(c: char, out: &mut String) {
    if is_cjk(c) {
        out.push(c);
        return;
    }
    for d in std::iter::once(c).nfkd() {
        if !is_combining_mark(d) {
            out.extend(d.to_lowercase());
        }
    }
}

/// The words of `text`, folded, in order: runs of letters and digits, and the character pairs
/// of CJK runs.
pub fn words(text: &str) -> Vec<Word> {
    let mut out = Vec::new();
    let mut word = Pending::default();
    let mut cjk: Vec<(char, usize, usize)> = Vec::new();
    let mut folded = String::new();
    for (at, c) in text.char_indices() {
        let end = at + c.len_utf8();
        if is_cjk(c) {
            word.flush(&mut out);
            cjk.push((c, at, end));
            continue;
        }
        flush_cjk(&mut cjk, &mut out);
        folded.clear();
        fold_char(c, &mut folded);
        if folded.is_empty() && is_combining_mark(c) {
            // A mark on a letter belongs to its word; the folded text simply drops it.
            if !word.text.is_empty() {
                word.end = end;
            }
            continue;
        }
        for f in folded.chars() {
            if f.is_alphanumeric() {
                word.push(f, at, end);
            } else {
                word.flush(&mut out);
            }
        }
    }
    flush_cjk(&mut cjk, &mut out);
    word.flush(&mut out);
    out
}

/// The word being read.
#[derive(Default)]
struct Pending {
    text: String,
    chars: usize,
    start: usize,
    end: usize,
}

impl Pending {
    fn push(&mut self, c: char, start: usize, end: usize) {
        if self.text.is_empty() {
            self.start = start;
        }
        if self.chars < WORD_MAX_CHARS {
            self.text.push(c);
            self.chars += 1;
        }
        self.end = end;
    }

    fn flush(&mut self, out: &mut Vec<Word>) {
        if !self.text.is_empty() {
            out.push(Word {
                text: std::mem::take(&mut self.text),
                start: self.start,
                end: self.end,
            });
        }
        self.chars = 0;
    }
}

fn flush_cjk(run: &mut Vec<(char, usize, usize)>, out: &mut Vec<Word>) {
    match run.len() {
        0 => {}
        1 => out.push(Word {
            text: run[0].0.to_string(),
            start: run[0].1,
            end: run[0].2,
        }),
        _ => {
            for pair in run.windows(2) {
                out.push(Word {
                    text: [pair[0].0, pair[1].0].iter().collect(),
                    start: pair[0].1,
                    end: pair[1].2,
                });
            }
        }
    }
    run.clear();
}

/// The text the index holds for `text`: its words, separated by single spaces.
pub fn index_text(text: &str) -> String {
    let words = words(text);
    let mut out = String::with_capacity(text.len());
    for w in words {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&w.text);
    }
    out
}

/// Words that must appear one after the other; `prefix` lets the last one be the beginning of
/// a longer word.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Phrase {
    pub words: Vec<String>,
    pub prefix: bool,
}

/// A parsed query: every `include` phrase must match and no `exclude` phrase may; the filters
/// narrow the tickets (all of them must hold, the statuses are alternatives).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Query {
    pub include: Vec<Phrase>,
    pub exclude: Vec<Phrase>,
    /// `#123`: only these ticket ids (more than one different id matches nothing).
    pub tickets: Vec<i64>,
    /// `from:`: the author's email contains each of these (lower-cased).
    pub from: Vec<String>,
    /// `status:`: any of these.
    pub statuses: Vec<Status>,
}

impl Query {
    /// Whether the query asks the text index anything (else it only filters tickets).
    pub fn has_text(&self) -> bool {
        !self.include.is_empty()
    }
}

/// Why a query cannot run: the message for the `q` field.
pub type QueryError = String;

enum Item {
    Word { text: String, excluded: bool },
    Phrase { text: String, excluded: bool },
    Filter(Filter),
}

enum Filter {
    Ticket(i64),
    From(String),
    Status(String),
}

/// Parses a query (already trimmed, non-empty and free of NUL, as `fields::query_text` leaves
/// it). Every input either parses or names its problem; nothing here panics.
pub fn parse(text: &str) -> Result<Query, QueryError> {
    if text.chars().count() > QUERY_MAX_CHARS {
        return Err(crate::domain::fields::too_long(QUERY_MAX_CHARS));
    }
    let items = split(text);
    let mut query = Query::default();
    let last_bare_word = items
        .iter()
        .rposition(|item| !matches!(item, Item::Filter(_)))
        .filter(|&i| {
            matches!(
                items.get(i),
                Some(Item::Word {
                    excluded: false,
                    ..
                })
            )
        });
    let mut word_count = 0;
    for (index, item) in items.into_iter().enumerate() {
        match item {
            Item::Word { text, excluded } | Item::Phrase { text, excluded } => {
                let words: Vec<String> = words(&text).into_iter().map(|w| w.text).collect();
                if words.is_empty() {
                    continue;
                }
                word_count += words.len();
                let phrase = Phrase {
                    words,
                    prefix: Some(index) == last_bare_word,
                };
                if excluded {
                    query.exclude.push(phrase);
                } else {
                    query.include.push(phrase);
                }
            }
            Item::Filter(Filter::Ticket(id)) => query.tickets.push(id),
            Item::Filter(Filter::From(part)) => {
                if part.is_empty() {
                    return Err(EMPTY_FROM.to_owned());
                }
                query.from.push(part.to_lowercase());
            }
            Item::Filter(Filter::Status(name)) => {
                let status = match name.to_lowercase().as_str() {
                    "open" | "1" => Status::Open,
                    "processing" | "2" => Status::Processing,
                    "closed" | "3" => Status::Closed,
                    _ => return Err(invalid_status(&name)),
                };
                if !query.statuses.contains(&status) {
                    query.statuses.push(status);
                }
            }
        }
    }
    if word_count > QUERY_MAX_WORDS {
        return Err(too_many_words());
    }
    let filters = !query.tickets.is_empty() || !query.from.is_empty() || !query.statuses.is_empty();
    if query.include.is_empty() && !query.exclude.is_empty() {
        return Err(ONLY_EXCLUDED.to_owned());
    }
    if query.include.is_empty() && !filters {
        return Err(NOTHING_TO_SEARCH.to_owned());
    }
    Ok(query)
}

/// Splits the query into words, quoted phrases and filters. An unbalanced quote runs to the
/// end of the query.
fn split(text: &str) -> Vec<Item> {
    let mut items = Vec::new();
    let mut rest = text;
    loop {
        rest = rest.trim_start_matches(|c: char| c.is_whitespace() || c.is_control());
        if rest.is_empty() {
            break;
        }
        let (excluded, body) = match rest.strip_prefix('-') {
            Some(after) if after.starts_with('"') => (true, after),
            _ => (false, rest),
        };
        if let Some(inner) = body.strip_prefix('"') {
            let (phrase, after) = match inner.find('"') {
                Some(close) => (&inner[..close], &inner[close + 1..]),
                None => (inner, ""),
            };
            items.push(Item::Phrase {
                text: phrase.to_owned(),
                excluded,
            });
            rest = after;
            continue;
        }
        let end = rest
            .find(|c: char| c.is_whitespace() || c.is_control() || c == '"')
            .unwrap_or(rest.len());
        let (token, after) = rest.split_at(end);
        rest = after;
        items.push(classify(token));
    }
    items
}

fn classify(token: &str) -> Item {
    if let Some(id) = token
        .strip_prefix('#')
        .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|d| d.parse::<i64>().ok())
    {
        return Item::Filter(Filter::Ticket(id));
    }
    let lower = token.to_lowercase();
    if lower.starts_with("from:") {
        return Item::Filter(Filter::From(token[5..].trim().to_owned()));
    }
    if lower.starts_with("status:") {
        return Item::Filter(Filter::Status(token[7..].to_owned()));
    }
    match token.strip_prefix('-') {
        Some(word) if !word.is_empty() => Item::Word {
            text: word.to_owned(),
            excluded: true,
        },
        _ => Item::Word {
            text: token.to_owned(),
            excluded: false,
        },
    }
}

/// Where `phrase` first occurs among `words` (the words of one text), as the index of its first
/// word.
pub fn find_phrase(words: &[Word], phrase: &Phrase) -> Option<usize> {
    let n = phrase.words.len();
    if n == 0 || words.len() < n {
        return None;
    }
    (0..=words.len() - n).find(|&start| {
        phrase.words.iter().enumerate().all(|(i, want)| {
            let have = &words[start + i].text;
            if phrase.prefix && i + 1 == n {
                have.starts_with(want.as_str())
            } else {
                have == want
            }
        })
    })
}

/// A short excerpt of `text` around its first match of any of `phrases` (about `width`
/// characters), with `…` where it was cut; `None` when none matches.
pub fn snippet(text: &str, phrases: &[Phrase], width: usize) -> Option<String> {
    let words = words(text);
    let hit = phrases
        .iter()
        .filter_map(|p| find_phrase(&words, p).map(|i| (i, p.words.len())))
        .min()?;
    let (first, count) = hit;
    let start = words[first].start;
    let end = words[first + count - 1].end;
    // Up to a third of the width before the match, the rest after it.
    let before: usize = width / 3;
    let from = text[..start]
        .char_indices()
        .rev()
        .nth(before.saturating_sub(1))
        .map_or(0, |(i, _)| i);
    let to = text[end..]
        .char_indices()
        .nth(width.saturating_sub(before))
        .map_or(text.len(), |(i, _)| end + i);
    let mut out = String::new();
    if from > 0 {
        out.push('…');
    }
    out.push_str(text[from..to].trim());
    if to < text.len() {
        out.push('…');
    }
    Some(out.split_whitespace().collect::<Vec<_>>().join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn texts(words: &[Word]) -> Vec<&str> {
        words.iter().map(|w| w.text.as_str()).collect()
    }

    #[test]
    fn folding_drops_case_accents_and_width() {
        assert_eq!(
            index_text("Résumé RESUME ｒｅｓｕｍｅ"),
            "resume resume resume"
        );
        assert_eq!(index_text("Crème-brûlée, naïve!"), "creme brulee naive");
        assert_eq!(index_text("Ελληνικά Привет"), "ελληνικα привет");
    }

    #[test]
    fn cjk_runs_become_pairs() {
        assert_eq!(index_text("東京都に住む"), "東京 京都 都に に住 住む");
        assert_eq!(index_text("a東b"), "a 東 b");
        assert_eq!(index_text("서울 특별시"), "서울 특별 별시");
    }

    #[test]
    fn words_know_where_they_are() {
        let text = "Hé, wörld";
        let w = words(text);
        assert_eq!(texts(&w), ["he", "world"]);
        assert_eq!(&text[w[0].start..w[0].end], "Hé");
        assert_eq!(&text[w[1].start..w[1].end], "wörld");
    }

    #[test]
    fn long_words_are_cut() {
        let long = "x".repeat(200);
        assert_eq!(index_text(&long).len(), WORD_MAX_CHARS);
    }

    #[test]
    fn the_query_forms_parse() {
        let q = parse(
            r#"refund "credit card" -paypal #12 from:Alice@ex status:open status:closed invoi"#,
        )
        .unwrap_or_default();
        assert_eq!(
            q.include,
            vec![
                Phrase {
                    words: vec!["refund".into()],
                    prefix: false
                },
                Phrase {
                    words: vec!["credit".into(), "card".into()],
                    prefix: false
                },
                Phrase {
                    words: vec!["invoi".into()],
                    prefix: true
                },
            ]
        );
        assert_eq!(
            q.exclude,
            vec![Phrase {
                words: vec!["paypal".into()],
                prefix: false
            }]
        );
        assert_eq!(q.tickets, vec![12]);
        assert_eq!(q.from, vec!["alice@ex".to_owned()]);
        assert_eq!(q.statuses, vec![Status::Open, Status::Closed]);
    }

    #[test]
    fn only_a_trailing_bare_word_is_a_prefix() {
        let q = parse(r#"alpha "beta""#).unwrap_or_default();
        assert!(q.include.iter().all(|p| !p.prefix));
        let q = parse("alpha beta status:open").unwrap_or_default();
        assert!(q.include[1].prefix);
        let q = parse("alpha -beta").unwrap_or_default();
        assert!(!q.include[0].prefix);
    }

    #[test]
    fn hostile_queries_parse_or_say_why() {
        assert_eq!(parse(r#"""#), Err(NOTHING_TO_SEARCH.to_owned()));
        assert_eq!(
            parse("* ^ ( ) : NEAR"),
            Ok(Query {
                include: vec![Phrase {
                    words: vec!["near".into()],
                    prefix: true
                }],
                ..Query::default()
            })
        );
        assert_eq!(parse("-x"), Err(ONLY_EXCLUDED.to_owned()));
        assert_eq!(parse("status:nope"), Err(invalid_status("nope")));
        assert_eq!(parse("from:"), Err(EMPTY_FROM.to_owned()));
        assert!(parse(&"a ".repeat(40)).is_err());
        assert!(parse(&"x".repeat(10_000)).is_err());
        let q = parse(r#"say "unbalanced quote"#).unwrap_or_default();
        assert_eq!(q.include[1].words, ["unbalanced", "quote"]);
        assert_eq!(
            parse("#99999999999999999999999").map(|q| q.tickets.len()),
            Ok(0)
        );
    }

    #[test]
    fn snippets_cut_around_the_match() {
        let text = format!(
            "{} the refund was sent {}",
            "word ".repeat(50),
            "tail ".repeat(50)
        );
        let q = parse("refund").unwrap_or_default();
        let s = snippet(&text, &q.include, 60).unwrap_or_default();
        assert!(
            s.starts_with('…') && s.ends_with('…') && s.contains("refund"),
            "{s}"
        );
        assert_eq!(snippet("nothing here", &q.include, 60), None);
    }

    proptest! {
        #[test]
        fn any_query_parses_or_names_its_problem(text in "\\PC{0,600}") {
            let _ = parse(&text);
        }

        #[test]
        fn parsed_words_are_plain_letters_and_digits(text in ".{0,200}") {
            if let Ok(q) = parse(&text) {
                for p in q.include.iter().chain(&q.exclude) {
                    prop_assert!(!p.words.is_empty());
                    for w in &p.words {
                        prop_assert!(!w.is_empty());
                        prop_assert!(w.chars().all(|c| c.is_alphanumeric() || is_cjk(c)), "{w:?}");
                    }
                }
            }
        }

        #[test]
        fn word_offsets_are_char_boundaries(text in ".{0,200}") {
            for w in words(&text) {
                prop_assert!(text.is_char_boundary(w.start) && text.is_char_boundary(w.end));
                prop_assert!(w.start < w.end);
            }
        }
    }
}
