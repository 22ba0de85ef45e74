//! Several server processes on one database, and a database that drops its connections.

use std::collections::HashSet;

use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

#[tokio::test]
async fn two_processes_on_one_database_never_exceed_the_limit_together() -> TestResult {
    for backend in [Backend::Sqlite, Backend::Postgres] {
        if backend == Backend::Postgres && !crate::helpers::postgres_ready().await? {
            continue;
        }
        let first = TestApp::spawn(backend).await?;
        let second = first.sibling()?;
        let alice = first.customer("alice@example.com")?;
        let category = first.category("Billing")?;
        for i in 0..4 {
            first
                .ticket(&alice, category, &format!("before {i}"))
                .await?;
        }
        let mut tasks = Vec::new();
        for i in 0..30 {
            let app = if i % 2 == 0 { &first } else { &second };
            let request = app.create_request(&alice, category, &format!("race {i}"));
            tasks.push(tokio::spawn(send(request)));
        }
        let mut created = 0;
        for task in tasks {
            let answer = task.await??;
            match answer.status.as_u16() {
                200 => created += 1,
                401 => answer.assert_errors(
                    401,
                    json!({"detail": ["Currently Open Ticket Limit Exceed."]}),
                ),
                other => {
                    return Err(format!("{backend:?}: unexpected {other}: {}", answer.body).into());
                }
            }
        }
        assert_eq!(created, 1, "{backend:?}");
        for app in [&first, &second] {
            let history =
                send(app.get("/api/v1/support/get/ticket/history/?status=1", &alice)).await?;
            assert_eq!(history.assert_ok()["count"], 5, "{backend:?}");
        }
    }
    Ok(())
}

#[tokio::test]
async fn postgres_connections_killed_under_load_give_503_never_500_and_lose_nothing() -> TestResult
{
    if !crate::helpers::postgres_ready().await? {
        return Ok(());
    }
    let app = TestApp::spawn_with(
        Backend::Postgres,
        &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100000")],
    )
    .await?;
    let pg = app.pg.clone().ok_or("no database")?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;

    // A killer task terminates every server connection again and again during the burst.
    let killer_pg = pg.clone();
    let killer = tokio::spawn(async move {
        let mut killed = 0u64;
        for _ in 0..15 {
            let sql = format!(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = '{}' AND pid <> pg_backend_pid()",
                killer_pg.name()
            );
            killed += killer_pg.execute(sql).await.unwrap_or(0);
            tokio::time::sleep(std::time::Duration::from_millis(40)).await;
        }
        killed
    });

    let mut tasks = Vec::new();
    for i in 0..200 {
        let request = app.create_request(&alice, category, &format!("burst {i}"));
        tasks.push(tokio::spawn(send(request)));
        if i % 8 == 0 {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    let mut answered_ok = HashSet::new();
    let mut unavailable = 0;
    for (i, task) in tasks.into_iter().enumerate() {
        let answer = task.await??;
        match answer.status.as_u16() {
            200 => {
                answered_ok.insert(format!("burst {i}"));
            }
            503 => {
                assert_eq!(answer.body["status_code"], 503);
                assert!(answer.headers.contains_key("retry-after"));
                unavailable += 1;
            }
            other => return Err(format!("request {i} answered {other}: {}", answer.body).into()),
        }
    }
    let killed = killer.await?;
    assert!(killed > 0, "the test must actually have cut connections");

    // Recovered without a restart: the next request works.
    let history = send(app.get("/api/v1/support/get/ticket/history/?limit=1000", &alice)).await?;
    let data = history.assert_ok();
    let subjects: Vec<String> = data["TicketList"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .filter_map(|t| t["subject"].as_str().map(str::to_owned))
        .collect();
    let unique: HashSet<&String> = subjects.iter().collect();
    assert_eq!(unique.len(), subjects.len(), "no ticket was stored twice");
    for subject in &answered_ok {
        assert!(
            subjects.contains(subject),
            "{subject} was answered 200 but is missing"
        );
    }
    eprintln!(
        "{} created, {unavailable} answered 503, {killed} connections terminated",
        answered_ok.len()
    );
    Ok(())
}
