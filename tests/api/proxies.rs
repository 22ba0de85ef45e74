//! Behind a load balancer: the client address comes from `X-Forwarded-For`/`Forwarded` only
//! when the connection's peer is a trusted proxy.

use reqwest::StatusCode;

use crate::helpers::{Backend, TestApp, TestResult, send};

const CATEGORIES: &str = "/api/v1/support/get/category-list/";

/// Status of a request carrying `header: value`.
async fn status_with(app: &TestApp, header: &str, value: &str) -> TestResult<StatusCode> {
    let answer = send(
        app.request(reqwest::Method::GET, CATEGORIES, None)
            .header(header, value),
    )
    .await?;
    Ok(answer.status)
}

#[tokio::test]
async fn a_spoofed_forwarded_header_from_an_untrusted_peer_changes_nothing() -> TestResult {
    // Loopback (the test's own address) is not among the trusted proxies.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_RATE_LIMIT_PER_IP", "1"),
            ("SUPPORTDESK_TRUSTED_PROXIES", "10.0.0.0/8"),
        ],
    )
    .await?;
    assert_eq!(
        status_with(&app, "x-forwarded-for", "198.51.100.1").await?,
        StatusCode::OK
    );
    // Another claimed address is still the same client: its budget is spent.
    assert_eq!(
        status_with(&app, "x-forwarded-for", "198.51.100.2").await?,
        StatusCode::TOO_MANY_REQUESTS
    );
    assert_eq!(
        status_with(&app, "forwarded", "for=198.51.100.3").await?,
        StatusCode::TOO_MANY_REQUESTS
    );
    Ok(())
}

#[tokio::test]
async fn a_trusted_proxy_names_the_client_that_limits_count_against() -> TestResult {
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_RATE_LIMIT_PER_IP", "1"),
            ("SUPPORTDESK_TRUSTED_PROXIES", "127.0.0.1/32"),
        ],
    )
    .await?;
    // Two clients behind the proxy: one budget each.
    assert_eq!(
        status_with(&app, "x-forwarded-for", "198.51.100.1").await?,
        StatusCode::OK
    );
    assert_eq!(
        status_with(&app, "forwarded", "for=\"198.51.100.2:4711\"").await?,
        StatusCode::OK
    );
    // The first again: its own budget is spent, whatever it forged in front of its address.
    assert_eq!(
        status_with(&app, "x-forwarded-for", "203.0.113.66, 198.51.100.1").await?,
        StatusCode::TOO_MANY_REQUESTS
    );
    Ok(())
}
