//! Search: every query form, what customers may find (their own tickets, never notes),
//! folding of case, accents and CJK, hostile queries, paging, and the index's rebuild.

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

use supportdesk::store::search::CANDIDATES;

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

struct Desk {
    app: TestApp,
    alice: Person,
    bob: Person,
    agent: Person,
    category: i64,
}

async fn desk(backend: Backend) -> TestResult<Desk> {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "50")]).await?;
    let alice = app.customer("alice@example.com")?;
    let bob = app.customer("bob@shop.example")?;
    let agent = app.person("agent@example.com", "agent")?;
    let category = app.category("General")?;
    Ok(Desk {
        app,
        alice,
        bob,
        agent,
        category,
    })
}

impl Desk {
    async fn ticket(&self, who: &Person, subject: &str, comment: &str) -> TestResult<i64> {
        let answer = send(self.app.post("/api/v1/support/create/ticket/", who).form(&[
            ("subject", subject),
            ("priority", "2"),
            ("comment", comment),
            ("category", &self.category.to_string()),
        ]))
        .await?;
        answer.assert_ok()["ticket"]["id"]
            .as_i64()
            .ok_or_else(|| format!("no id in {}", answer.body).into())
    }

    async fn staff_message(
        &self,
        ticket: i64,
        kind: &str,
        comment: &str,
        file: Option<&str>,
    ) -> TestResult {
        let mut form = Form::new().text("comment", comment.to_owned());
        if let Some(name) = file {
            form = form.part(
                "attachment",
                Part::bytes(b"file body".to_vec()).file_name(name.to_owned()),
            );
        }
        let path = format!("/api/v1/agent/tickets/{ticket}/{kind}/");
        send(self.app.post(&path, &self.agent).multipart(form))
            .await?
            .assert_ok();
        Ok(())
    }

    async fn agent_search(&self, query: &[(&str, &str)]) -> TestResult<Value> {
        let answer = send(
            self.app
                .get("/api/v1/agent/search/", &self.agent)
                .query(query),
        )
        .await?;
        Ok(answer.assert_ok().clone())
    }

    async fn customer_search(&self, who: &Person, q: &str) -> TestResult<Value> {
        let answer = send(
            self.app
                .get("/api/v1/support/search/", who)
                .query(&[("q", q)]),
        )
        .await?;
        Ok(answer.assert_ok().clone())
    }

    /// The ids an agent finds for `q`, best first.
    async fn found(&self, q: &str) -> TestResult<Vec<i64>> {
        Ok(ids(&self.agent_search(&[("q", q)]).await?))
    }
}

fn ids(data: &Value) -> Vec<i64> {
    data["tickets"]
        .as_array()
        .map(|l| l.iter().filter_map(|t| t["id"].as_i64()).collect())
        .unwrap_or_default()
}

fn sorted(mut ids: Vec<i64>) -> Vec<i64> {
    ids.sort_unstable();
    ids
}

async fn every_query_form_finds_what_it_should(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let card = d
        .ticket(&d.alice, "Refund for my credit card", "Charged twice")
        .await?;
    let paypal = d
        .ticket(&d.alice, "Refund via PayPal", "Card credit was not used")
        .await?;
    let login = d
        .ticket(&d.bob, "Cannot log in", "The password reset fails")
        .await?;
    d.staff_message(login, "reply", "Try the recovery link", None)
        .await?;
    d.staff_message(
        login,
        "note",
        "Escalated to platypus team",
        Some("trace-2026.log"),
    )
    .await?;
    d.staff_message(
        card,
        "reply",
        "See the attached statement",
        Some("statement-march.pdf"),
    )
    .await?;
    send(
        d.app
            .post(&format!("/api/v1/agent/tickets/{paypal}/update/"), &d.agent)
            .form(&[("status", "3")]),
    )
    .await?
    .assert_ok();

    // Words: all must match, anywhere in the ticket.
    assert_eq!(sorted(d.found("refund card").await?), vec![card, paypal]);
    assert_eq!(d.found("refund twice").await?, vec![card]);
    assert_eq!(d.found("refund nowhere").await?, Vec::<i64>::new());
    // The last word is a prefix; the others are whole words.
    assert_eq!(sorted(d.found("refu").await?), vec![card, paypal]);
    assert_eq!(sorted(d.found("card refu").await?), vec![card, paypal]);
    assert_eq!(d.found("refu twice").await?, Vec::<i64>::new());
    // "exact phrase"
    assert_eq!(d.found("\"credit card\"").await?, vec![card]);
    assert_eq!(d.found("\"card credit\"").await?, vec![paypal]);
    // -excluded
    assert_eq!(d.found("refund -paypal").await?, vec![card]);
    assert_eq!(d.found("refund -\"credit card\"").await?, vec![paypal]);
    // #123 goes straight to the ticket.
    assert_eq!(d.found(&format!("#{login}")).await?, vec![login]);
    assert_eq!(
        d.found(&format!("#{login} refund")).await?,
        Vec::<i64>::new()
    );
    // from: any part of the author's email.
    assert_eq!(d.found("from:bob").await?, vec![login]);
    assert_eq!(d.found("from:SHOP.example").await?, vec![login]);
    assert_eq!(
        sorted(d.found("from:alice refund").await?),
        vec![card, paypal]
    );
    // status:
    assert_eq!(d.found("refund status:closed").await?, vec![paypal]);
    assert_eq!(d.found("refund status:processing").await?, vec![card]);
    assert_eq!(d.found("refund status:open").await?, Vec::<i64>::new());
    assert_eq!(
        sorted(d.found("status:open status:processing").await?),
        vec![card, login]
    );
    // The query string's filters narrow too.
    let data = d.agent_search(&[("q", "refund"), ("status", "3")]).await?;
    assert_eq!(ids(&data), vec![paypal]);

    // Replies, notes, file names and the email are searched, and each hit says where.
    let data = d.agent_search(&[("q", "recovery")]).await?;
    assert_eq!(ids(&data), vec![login]);
    assert_eq!(data["tickets"][0]["matched_in"], json!(["message"]));
    assert_eq!(data["tickets"][0]["snippet"], "Try the recovery link");
    assert_eq!(data["tickets"][0]["author"], "bob@shop.example");
    let data = d.agent_search(&[("q", "platypus")]).await?;
    assert_eq!(ids(&data), vec![login]);
    assert_eq!(data["tickets"][0]["matched_in"], json!(["note"]));
    let data = d.agent_search(&[("q", "trace 2026")]).await?;
    assert_eq!(data["tickets"][0]["matched_in"], json!(["note"]));
    let data = d.agent_search(&[("q", "statement")]).await?;
    assert_eq!(data["tickets"][0]["matched_in"], json!(["message", "file"]));
    let data = d.agent_search(&[("q", "refund")]).await?;
    assert_eq!(data["tickets"][0]["matched_in"], json!(["subject"]));
    assert_eq!(data["total"], 2);
    assert_eq!(data["total_exact"], true);
    let data = d.agent_search(&[("q", "shop")]).await?;
    assert_eq!(data["tickets"][0]["matched_in"], json!(["email"]));
    // A subject match ranks above matches in the body, newer or not.
    d.ticket(&d.bob, "Other", "my card is blocked").await?;
    let ranked = d.found("card").await?;
    assert_eq!(ranked.first(), Some(&card), "{ranked:?}");
    assert_eq!(ranked.len(), 3);
    Ok(())
}

async fn customers_find_only_their_own_tickets_and_never_notes(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let mine = d.ticket(&d.alice, "Zebra crossing", "Striped").await?;
    let theirs = d.ticket(&d.bob, "Zebra stripes", "Also striped").await?;
    d.staff_message(
        mine,
        "note",
        "Customer is a platypus fan",
        Some("secretdossier.txt"),
    )
    .await?;
    d.staff_message(mine, "reply", "We are on it", Some("public-answer.txt"))
        .await?;

    // Another customer's ticket, found by a word both share: never.
    let data = d.customer_search(&d.alice, "zebra").await?;
    assert_eq!(ids(&data), vec![mine]);
    assert_eq!(data["total"], 1);
    let data = d.customer_search(&d.bob, "zebra").await?;
    assert_eq!(ids(&data), vec![theirs]);
    for q in [
        format!("#{theirs}"),
        "from:bob".to_owned(),
        "stripes".to_owned(),
    ] {
        assert_eq!(
            ids(&d.customer_search(&d.alice, &q).await?),
            Vec::<i64>::new(),
            "{q}"
        );
    }
    // A word only in a note, or in a note's file name: never, by any form of the query.
    for q in [
        "platypus",
        "platyp",
        "\"platypus fan\"",
        "secretdossier",
        "zebra platypus",
    ] {
        let data = d.customer_search(&d.alice, q).await?;
        assert_eq!(ids(&data), Vec::<i64>::new(), "{q}");
        assert_eq!(data["total"], 0, "{q}");
    }
    // Excluding a note's word tells nothing either: the ticket is still found.
    assert_eq!(
        ids(&d.customer_search(&d.alice, "zebra -platypus").await?),
        vec![mine]
    );
    // What the customer sees is found, and no hit ever names a note.
    let data = d.customer_search(&d.alice, "answer").await?;
    assert_eq!(ids(&data), vec![mine]);
    assert_eq!(data["tickets"][0]["matched_in"], json!(["file"]));
    let data = d.customer_search(&d.alice, "zebra").await?;
    assert_eq!(data["tickets"][0]["matched_in"], json!(["subject"]));
    assert!(data["tickets"][0].get("assignee").is_none());
    // The agent finds the note.
    assert_eq!(d.found("platypus").await?, vec![mine]);
    // Customers may not use the agents' route.
    let answer = send(
        d.app
            .get("/api/v1/agent/search/", &d.alice)
            .query(&[("q", "zebra")]),
    )
    .await?;
    assert_eq!(answer.status.as_u16(), 403, "{}", answer.body);
    Ok(())
}

async fn accents_case_and_cjk_fold(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let resume = d.ticket(&d.alice, "Mon Résumé", "CRÈME BRÛLÉE").await?;
    let tokyo = d
        .ticket(&d.alice, "住所変更", "東京都に住んでいます")
        .await?;
    let greek = d.ticket(&d.alice, "Ελληνικά", "Привет мир").await?;
    for q in [
        "resume",
        "RÉSUMÉ",
        "Résumé",
        "creme brulee",
        "brûl",
        "ｒｅｓｕｍｅ",
    ] {
        assert_eq!(d.found(q).await?, vec![resume], "{q}");
        assert_eq!(
            ids(&d.customer_search(&d.alice, q).await?),
            vec![resume],
            "{q}"
        );
    }
    for q in ["京都", "東京都", "住んで", "住所", "変更", "東"] {
        assert_eq!(d.found(q).await?, vec![tokyo], "{q}");
    }
    assert_eq!(d.found("京都に住む").await?, Vec::<i64>::new());
    for q in ["ελληνικα", "ΕΛΛΗΝΙΚΆ", "привет", "МИР"] {
        assert_eq!(d.found(q).await?, vec![greek], "{q}");
    }
    let data = d.agent_search(&[("q", "京都")]).await?;
    assert_eq!(data["tickets"][0]["snippet"], "東京都に住んでいます");
    Ok(())
}

async fn hostile_queries_answer_in_the_envelope(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let ticket = d
        .ticket(
            &d.alice,
            "The printer is on fire",
            "NEAR the OR AND NOT desk",
        )
        .await?;
    let long = "word ".repeat(2_000);
    let queries: Vec<String> = [
        "\"",
        "\"\"",
        "'",
        "\\",
        "*",
        "^",
        ":",
        "(",
        ")",
        "{",
        "}",
        "-",
        "#",
        "--",
        "- -",
        "NEAR(a b)",
        "a OR b",
        "a AND NOT b",
        "printer*",
        "*printer",
        "subject:printer",
        "{subject}: printer",
        "printer:* & !fire",
        "'printer' | 'fire'",
        "!!printer",
        "<->",
        "\"unbalanced printer",
        "printer\"",
        "the",
        "the a of and or not",
        "NOT",
        "OR",
        "#0",
        "#-1",
        "#99999999999999999999",
        "status:",
        "status:bogus",
        "from:",
        "from:%",
        "from:_",
        "from:\\",
        "printer -",
        "-printer",
        "x\u{7}y",
        "\u{200b}",
        "🔥",
        "a\tb\nc",
        "printer \u{0301}",
        "ﷺ",
        "\u{FFFD}",
    ]
    .iter()
    .map(|s| (*s).to_owned())
    .chain([
        long,
        "x".repeat(10_240),
        format!("printer{}", "\"".repeat(300)),
    ])
    .collect();
    for q in &queries {
        for path in ["/api/v1/agent/search/", "/api/v1/support/search/"] {
            let who = if path.contains("agent") {
                &d.agent
            } else {
                &d.alice
            };
            let answer = send(d.app.get(path, who).query(&[("q", q)])).await?;
            match answer.status.as_u16() {
                200 => assert!(
                    answer.body["data"]["tickets"].is_array(),
                    "{q}: {}",
                    answer.body
                ),
                400 => assert!(!answer.errors("q").is_empty(), "{q}: {}", answer.body),
                other => panic!("{q:?} on {path} answered {other}: {}", answer.body),
            }
        }
    }
    // Words that are operators elsewhere are plain words here.
    for q in ["NEAR", "or", "AND NOT", "the"] {
        assert_eq!(d.found(q).await?, vec![ticket], "{q}");
    }
    // NUL, a blank query and no query at all name the field.
    let answer = send(d.app.get("/api/v1/agent/search/?q=a%00b", &d.agent)).await?;
    answer.assert_errors(400, json!({"q": ["Null characters are not allowed."]}));
    let answer = send(d.app.get("/api/v1/agent/search/?q=%20", &d.agent)).await?;
    answer.assert_errors(400, json!({"q": ["This field may not be blank."]}));
    let answer = send(d.app.get("/api/v1/support/search/", &d.alice)).await?;
    answer.assert_errors(400, json!({"q": ["This field is required."]}));
    let answer = send(d.app.get(
        &format!("/api/v1/agent/search/?q={}", "x".repeat(501)),
        &d.agent,
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({"q": ["Ensure this field has no more than 500 characters."]}),
    );
    let answer = send(d.app.get("/api/v1/agent/search/?q=-printer", &d.agent)).await?;
    answer.assert_errors(
        400,
        json!({"q": ["Add a word to search for besides the excluded ones."]}),
    );
    let answer = send(d.app.get(
        "/api/v1/agent/search/?q=status:bogus&limit=x&cursor=nope&status=9",
        &d.agent,
    ))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "q": ["\"bogus\" is not a valid status; use open, processing or closed."],
            "limit": ["A valid integer is required."],
            "cursor": ["Invalid cursor."],
            "status": ["\"9\" is not a valid choice."],
        }),
    );
    Ok(())
}

async fn pages_follow_the_cursor_without_gaps_or_repeats(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let mut all = Vec::new();
    for i in 0..7 {
        // Different relevance: the word once, or several times.
        let comment = "walrus ".repeat(1 + i % 3);
        all.push(d.ticket(&d.alice, &format!("Ticket {i}"), &comment).await?);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..10 {
        let mut query = vec![("q", "walrus".to_owned()), ("limit", "3".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let answer = send(d.app.get("/api/v1/agent/search/", &d.agent).query(&query)).await?;
        let data = answer.assert_ok();
        assert_eq!(data["total"], 7);
        seen.extend(ids(data));
        match data["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
    }
    assert_eq!(seen.len(), 7, "{seen:?}");
    assert_eq!(sorted(seen), sorted(all));
    Ok(())
}

async fn reindex_rebuilds_and_resumes_while_the_desk_runs(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let mut tickets = Vec::new();
    for i in 0..4 {
        tickets.push(
            d.ticket(&d.alice, &format!("Gazelle {i}"), "Running")
                .await?,
        );
    }
    d.staff_message(tickets[0], "note", "okapi sighting", None)
        .await?;
    let table = match backend {
        Backend::Sqlite => "ticket_fts",
        Backend::Postgres => "ticket_search",
    };
    let wipe = format!("DELETE FROM {table}");
    d.app.with_db(move |db| async move {
        sqlx::query(sqlx::AssertSqlSafe(wipe))
            .execute(db.pool())
            .await?;
        Ok(())
    })?;
    assert_eq!(d.found("gazelle").await?, Vec::<i64>::new());

    // An interrupted build continues after the ticket it had reached.
    let after = tickets[1].to_string();
    d.app.with_db(move |db| async move {
        supportdesk::store::settings::set(&db, "search_reindex_after", &after).await?;
        Ok(())
    })?;
    let out = d.app.cli_ok(&["reindex"])?;
    assert!(out.contains("search index built"), "{out}");
    assert_eq!(sorted(d.found("gazelle").await?), tickets[2..].to_vec());

    // A message on a ticket the index lacks rebuilds that ticket's row with it.
    d.staff_message(tickets[1], "reply", "zebu", None).await?;
    assert_eq!(d.found("gazelle zebu").await?, vec![tickets[1]]);

    d.app.cli_ok(&["reindex", "--from-start"])?;
    assert_eq!(sorted(d.found("gazelle").await?), tickets);
    assert_eq!(d.found("okapi").await?, vec![tickets[0]]);
    assert!(ids(&d.customer_search(&d.alice, "okapi").await?).is_empty());
    Ok(())
}

/// A prefix stands for words of the whole desk: a customer finds their own ticket by a prefix
/// whatever others wrote (the desk's word list, notes and other customers' words included,
/// must not decide it: that would let a customer probe for what others wrote), and an agent
/// finds every ticket however many words the prefix begins.
async fn a_prefix_finds_every_ticket_whatever_others_wrote(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    // Bob's ticket and a note on it hold the prefix's first 80 words of the desk.
    let message: Vec<String> = (0..40).map(|i| format!("quokka{i:03}")).collect();
    let bobs = d.ticket(&d.bob, "Filler", &message.join(" ")).await?;
    let note: Vec<String> = (40..80).map(|i| format!("quokka{i:03}")).collect();
    d.staff_message(bobs, "note", &note.join(" "), None).await?;
    let alices = d.ticket(&d.alice, "Mine", "quokkazz").await?;

    assert_eq!(
        ids(&d.customer_search(&d.alice, "quokka").await?),
        vec![alices]
    );
    assert_eq!(ids(&d.customer_search(&d.bob, "quokka").await?), vec![bobs]);
    assert_eq!(sorted(d.found("quokka").await?), sorted(vec![bobs, alices]));
    Ok(())
}

/// What a customer's search orders by (and shows in its cursor) counts only what the customer
/// may see: two tickets alike but for an internal note rank alike, newest first.
async fn a_note_moves_neither_a_customers_order_nor_cursor(backend: Backend) -> TestResult {
    let d = desk(backend).await?;
    let older = d.ticket(&d.alice, "Printer", "wombat jam").await?;
    let newer = d.ticket(&d.alice, "Printer", "wombat jam").await?;
    d.staff_message(older, "note", "wombat wombat wombat wombat wombat", None)
        .await?;

    let mut seen = Vec::new();
    let mut scores = Vec::new();
    let mut cursor: Option<String> = None;
    for _ in 0..2 {
        let mut query = vec![("q", "wombat".to_owned()), ("limit", "1".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let answer = send(d.app.get("/api/v1/support/search/", &d.alice).query(&query)).await?;
        let data = answer.assert_ok();
        seen.extend(ids(data));
        let next = data["next_cursor"]
            .as_str()
            .ok_or_else(|| format!("no next_cursor in {data}"))?
            .to_owned();
        let (score, _) = next
            .rsplit_once(':')
            .ok_or_else(|| format!("cursor {next}"))?;
        scores.push(score.to_owned());
        cursor = Some(next);
    }
    assert_eq!(seen, vec![newer, older]);
    assert_eq!(
        scores[0], scores[1],
        "the note changed the rank: {scores:?}"
    );
    Ok(())
}

/// However much distinct text a ticket gathers, writing to it keeps working: PostgreSQL refuses
/// a `tsvector` over 1 MB, and the index stops growing before that (a comment answering 500 for
/// good would let a customer break their own ticket).
async fn a_ticket_with_more_words_than_the_index_holds_still_takes_messages(
    backend: Backend,
) -> TestResult {
    let d = desk(backend).await?;
    let ticket = d.ticket(&d.alice, "Big", "start").await?;
    // Distinct, alike words compress well: 20 messages of 5,900 words each, about 1.2 MB of
    // words in all.
    for round in 0..20 {
        let text: Vec<String> = (0..5_900)
            .map(|i| format!("aaaa{:06}", round * 5_900 + i))
            .collect();
        d.staff_message(ticket, "reply", &text.join(" "), None)
            .await?;
    }
    d.staff_message(ticket, "reply", "still here", None).await?;
    assert_eq!(d.found("start").await?, vec![ticket]);
    Ok(())
}

/// Ranking is bounded (`CANDIDATES`, see docs/API.md): relevance orders the newest matching
/// tickets up to the bound, `total` stops at the bound and says so, and the cursor pages
/// through exactly those tickets. An older ticket with the word in its subject, which would
/// rank first, is beyond the bound and not listed.
async fn ranking_and_total_stop_at_the_documented_bound(backend: Backend) -> TestResult {
    let bound = usize::try_from(CANDIDATES)?;
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100000")]).await?;
    let d = Desk {
        alice: app.customer("alice@example.com")?,
        bob: app.customer("bob@shop.example")?,
        agent: app.person("agent@example.com", "agent")?,
        category: app.category("General")?,
        app,
    };
    let oldest = d.ticket(&d.alice, "Walrus", "first").await?;
    let mut newest = Vec::new();
    for i in 0..bound {
        newest.push(d.ticket(&d.bob, &format!("Ticket {i}"), "a walrus").await?);
    }
    // One more in the subject among the newest: ranked first.
    let top = d.ticket(&d.bob, "Walrus again", "b").await?;
    newest.remove(0);
    newest.push(top);

    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let mut query = vec![("q", "walrus".to_owned()), ("limit", "50".to_owned())];
        if let Some(c) = &cursor {
            query.push(("cursor", c.clone()));
        }
        let answer = send(d.app.get("/api/v1/agent/search/", &d.agent).query(&query)).await?;
        let data = answer.assert_ok();
        assert_eq!(data["total"], CANDIDATES);
        assert_eq!(data["total_exact"], false);
        if seen.is_empty() {
            assert_eq!(ids(data).first(), Some(&top));
        }
        seen.extend(ids(data));
        match data["next_cursor"].as_str() {
            Some(next) => cursor = Some(next.to_owned()),
            None => break,
        }
        assert!(seen.len() <= bound, "more pages than the bound");
    }
    assert_eq!(seen.len(), bound);
    assert!(!seen.contains(&oldest));
    assert_eq!(sorted(seen), sorted(newest.clone()));

    // Exactly as many matches as the bound: counted exactly.
    let data = d.agent_search(&[("q", "walrus -again -first")]).await?;
    assert_eq!(data["total"], CANDIDATES);
    assert_eq!(data["total_exact"], true);

    // With a filter (the query then joins the tickets): the same bound, the same tickets.
    let pages = |who: &Person, path: &'static str, extra: Vec<(&'static str, String)>| {
        let app = &d.app;
        let who = who.clone();
        async move {
            let mut seen = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let mut query = vec![("q", "walrus".to_owned()), ("limit", "50".to_owned())];
                query.extend(extra.iter().cloned());
                if let Some(c) = &cursor {
                    query.push(("cursor", c.clone()));
                }
                let answer = send(app.get(path, &who).query(&query)).await?;
                let data = answer.assert_ok();
                assert_eq!(data["total"], CANDIDATES, "{path}");
                assert_eq!(data["total_exact"], false, "{path}");
                seen.extend(ids(data));
                match data["next_cursor"].as_str() {
                    Some(next) => cursor = Some(next.to_owned()),
                    None => break,
                }
                assert!(seen.len() <= bound, "more pages than the bound");
            }
            TestResult::Ok(seen)
        }
    };
    let filtered = pages(
        &d.agent,
        "/api/v1/agent/search/",
        vec![("status", "1".to_owned())],
    )
    .await?;
    assert_eq!(sorted(filtered), sorted(newest.clone()));

    // A customer's search over more tickets than one read of their index rows (128) holds,
    // the newest of them not matching: the bound is reached in the second read.
    for i in 0..30 {
        d.ticket(&d.bob, &format!("Unrelated {i}"), "nothing here")
            .await?;
    }
    let mine = pages(&d.bob, "/api/v1/support/search/", Vec::new()).await?;
    assert_eq!(mine.len(), bound);
    assert_eq!(sorted(mine), sorted(newest));
    Ok(())
}

on_both_backends!(
    ranking_and_total_stop_at_the_documented_bound,
    every_query_form_finds_what_it_should,
    customers_find_only_their_own_tickets_and_never_notes,
    accents_case_and_cjk_fold,
    hostile_queries_answer_in_the_envelope,
    pages_follow_the_cursor_without_gaps_or_repeats,
    reindex_rebuilds_and_resumes_while_the_desk_runs,
    a_prefix_finds_every_ticket_whatever_others_wrote,
    a_note_moves_neither_a_customers_order_nor_cursor,
    a_ticket_with_more_words_than_the_index_holds_still_takes_messages,
);

/// How the planner runs the statement FTS5 removes a merged segment's pages with, on the
/// write connection (where FTS5 runs).
async fn segment_delete_plan(db: &supportdesk::store::Db, tag: &str) -> TestResult<String> {
    use sqlx::Row;
    let mut tx = db.begin_write().await?;
    // EXPLAIN plans with the schema the connection holds, and a prepared one is kept (hence the
    // tag, a new text each time): a statement that runs first makes the connection re-read a
    // changed schema and its statistics, as FTS5's own statements do.
    sqlx::query("SELECT COUNT(*) FROM ticket_fts_data")
        .execute(&mut *tx)
        .await?;
    let rows = sqlx::query(sqlx::AssertSqlSafe(format!(
        "EXPLAIN QUERY PLAN DELETE FROM ticket_fts_data WHERE id >= $1 AND id <= $2 -- {tag}"
    )))
    .bind(1_i64)
    .bind(2_i64)
    .fetch_all(&mut *tx)
    .await?;
    tx.rollback().await?;
    let mut plan = Vec::new();
    for row in &rows {
        plan.push(row.try_get::<String, _>("detail")?);
    }
    Ok(plan.join("; "))
}

/// Statistics taken while the index was near empty (a new desk, or a bulk load analysed before
/// its index was built) made every FTS5 segment delete read the whole index: 13 creates a
/// second on a freshly indexed million-ticket desk. Opening the desk (every start, after its
/// `PRAGMA optimize`) drops them, and the write connection plans with that.
#[tokio::test]
async fn stale_index_statistics_are_dropped_when_the_desk_opens() -> TestResult {
    let d = desk(Backend::Sqlite).await?;
    let (stale, after) = d.app.with_db(|db| async move {
        // What an analysis of a new desk's empty index leaves, read by every connection (a
        // schema change makes them re-read the statistics).
        sqlx::query("ANALYZE").execute(db.pool()).await?;
        sqlx::query("CREATE VIEW test_reload AS SELECT 1")
            .execute(db.pool())
            .await?;
        sqlx::query("DROP VIEW test_reload")
            .execute(db.pool())
            .await?;
        let stale = segment_delete_plan(&db, "before").await?;
        db.migrate().await?;
        let after = segment_delete_plan(&db, "after").await?;
        Ok((stale, after))
    })?;
    // The hazard is real in this SQLite: with those statistics the delete scans the table.
    assert!(stale.contains("SCAN ticket_fts_data"), "{stale}");
    assert!(after.contains("rowid>? AND rowid<?"), "{after}");
    d.ticket(&d.alice, "Gazelle", "Running").await?;
    assert_eq!(d.found("gazelle").await?.len(), 1);
    Ok(())
}
