//! Revocations and catalog edits reach every process within 50 ms through PostgreSQL
//! `LISTEN/NOTIFY`, polling left far behind (a refresh interval of 10 s here).

use std::time::{Duration, Instant};

use reqwest::Method;

use crate::helpers::{Answer, Backend, TestApp, TestResult, postgres_ready, send};

/// Sends `build()` until `done` holds; answers how long that took after `since`. Fails past 1 s.
async fn time_until(
    since: Instant,
    build: impl Fn() -> reqwest::RequestBuilder,
    done: impl Fn(&Answer) -> bool,
) -> TestResult<Duration> {
    loop {
        let answer = send(build()).await?;
        if done(&answer) {
            return Ok(since.elapsed());
        }
        if since.elapsed() > Duration::from_secs(1) {
            return Err(format!("not seen after 1 s: {}", answer.body).into());
        }
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}

#[tokio::test]
async fn a_revocation_and_a_catalog_edit_reach_the_other_process_within_50_ms() -> TestResult {
    if !postgres_ready().await? {
        return Ok(());
    }
    let first = TestApp::spawn_with(
        Backend::Postgres,
        &[("SUPPORTDESK_CACHE_REFRESH_MS", "10000")],
    )
    .await?;
    let second = first.sibling()?;
    let admin = first.person("root@example.com", "admin")?;
    let doomed = first.cli_ok(&["apikey", "create", "--name", "doomed"])?;
    let doomed_id = first.apikey_id("doomed")?;
    let with_doomed = || {
        second
            .client
            .get(second.url("/api/v1/support/get/category-list/"))
            .header("apikey", &doomed)
    };
    // The second process remembers the key (and the empty list) now.
    let before = send(with_doomed()).await?;
    assert_eq!(
        before.assert_ok()["CategoryList"].as_array().map(Vec::len),
        Some(0)
    );
    // Give the listeners a moment to be listening (they start with the process).
    tokio::time::sleep(Duration::from_millis(300)).await;

    send(
        first
            .request(Method::POST, "/api/v1/admin/categories/", Some(&admin))
            .form(&[("category", "Billing"), ("description", "Invoices")]),
    )
    .await?
    .assert_ok();
    let edited = Instant::now();
    let seen = time_until(
        edited,
        || second.request(Method::GET, "/api/v1/support/get/category-list/", None),
        |a| {
            a.body["data"]["CategoryList"]
                .as_array()
                .is_some_and(|l| l.len() == 1)
        },
    )
    .await?;
    assert!(
        seen < Duration::from_millis(50),
        "catalog edit seen after {seen:?}"
    );

    send(first.post(
        &format!("/api/v1/admin/apikeys/{doomed_id}/revoke/"),
        &admin,
    ))
    .await?
    .assert_ok();
    let revoked = Instant::now();
    let refused = time_until(revoked, with_doomed, |a| a.status == 401).await?;
    assert!(
        refused < Duration::from_millis(50),
        "revocation seen after {refused:?}"
    );

    // The CLI (another process with no server) announces its changes too.
    let cli_key = first.cli_ok(&["apikey", "create", "--name", "cli"])?;
    let cli_id = first.apikey_id("cli")?;
    let with_cli_key = || {
        second
            .client
            .get(second.url("/api/v1/support/get/category-list/"))
            .header("apikey", &cli_key)
    };
    assert_eq!(send(with_cli_key()).await?.status, 200);
    first.cli_ok(&["apikey", "revoke", &cli_id])?;
    let refused = time_until(Instant::now(), with_cli_key, |a| a.status == 401).await?;
    assert!(
        refused < Duration::from_millis(50),
        "CLI revocation seen after {refused:?}"
    );
    Ok(())
}
