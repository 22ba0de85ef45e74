//! Servers answer live credentials and the category and tag lists from memory. A change made
//! through a server is seen by it at once; a change made by another process (a second server,
//! the CLI) reaches it within its refresh interval; with the interval at 0 nothing is
//! remembered.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, eventually, send};

const CATEGORIES: &str = "/api/v1/support/get/category-list/";
const HISTORY: &str = "/api/v1/support/get/ticket/history/";

async fn a_sign_out_through_another_server_reaches_this_one(backend: Backend) -> TestResult {
    let first = TestApp::spawn(backend).await?;
    let second = first.sibling()?;
    let alice = first.customer("alice@example.com")?;
    // Both servers have seen (and remembered) the token.
    send(first.get(HISTORY, &alice)).await?.assert_ok();
    send(second.get(HISTORY, &alice)).await?.assert_ok();

    let signed_out = send(second.post("/api/v1/auth/revoke/", &alice)).await?;
    signed_out.assert_ok();
    // The server that signed her out refuses the token at once...
    send(second.get(HISTORY, &alice)).await?.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    // ...and the other one within its refresh interval.
    let answer = eventually(|| first.get(HISTORY, &alice), |a| a.status == 401).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn a_person_deactivated_through_another_server_is_refused_here(
    backend: Backend,
) -> TestResult {
    let first = TestApp::spawn(backend).await?;
    let second = first.sibling()?;
    let admin = first.person("root@example.com", "admin")?;
    let bob = first.customer("bob@example.com")?;
    send(first.get(HISTORY, &bob)).await?.assert_ok();

    let path = format!("/api/v1/admin/users/{}/", bob.id);
    send(second.post(&path, &admin).form(&[("active", "false")]))
        .await?
        .assert_ok();
    let answer = eventually(|| first.get(HISTORY, &bob), |a| a.status == 401).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn a_category_changed_elsewhere_leaves_the_list_and_one_changed_here_at_once(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("root@example.com", "admin")?;
    let billing = app.category("Billing")?;
    let shipping = app.category("Shipping")?;
    let list = || app.request(Method::GET, CATEGORIES, None);
    let ids = |answer: &crate::helpers::Answer| -> Vec<i64> {
        answer.body["data"]["CategoryList"]
            .as_array()
            .map(|l| l.iter().filter_map(|c| c["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&send(list()).await?), vec![billing, shipping]);

    // The CLI is another process.
    app.cli_ok(&["category", "deactivate", &billing.to_string()])?;
    let answer = eventually(list, |a| ids(a) == vec![shipping]).await?;
    assert_eq!(ids(&answer), vec![shipping]);

    // Through the server itself: the very next list shows it.
    let path = format!("/api/v1/admin/categories/{shipping}/");
    send(
        app.post(&path, &admin)
            .form(&[("category", "Shipping & returns")]),
    )
    .await?
    .assert_ok();
    let answer = send(list()).await?;
    assert_eq!(
        answer.assert_ok()["CategoryList"][0]["category"],
        "Shipping & returns"
    );
    Ok(())
}

async fn with_memory_off_a_revocation_elsewhere_is_seen_at_once(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_CACHE_REFRESH_MS", "0")]).await?;
    let key = app.cli_ok(&["apikey", "create", "--name", "kiosk"])?;
    let with_key = || app.client.get(app.url(CATEGORIES)).header("apikey", &key);
    send(with_key()).await?.assert_ok();
    let id = app.apikey_id("kiosk")?;
    app.cli_ok(&["apikey", "revoke", &id])?;
    send(with_key())
        .await?
        .assert_errors(401, json!({"apikey": ["Invalid API key."]}));
    Ok(())
}

on_both_backends!(
    a_sign_out_through_another_server_reaches_this_one,
    a_person_deactivated_through_another_server_is_refused_here,
    a_category_changed_elsewhere_leaves_the_list_and_one_changed_here_at_once,
    with_memory_off_a_revocation_elsewhere_is_seen_at_once,
);
