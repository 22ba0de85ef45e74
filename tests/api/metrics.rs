//! `/metrics`: Prometheus text, off the API prefix, on a separate address or off by setting.

use crate::helpers::{Backend, TestApp, TestResult, send};

#[tokio::test]
async fn metrics_count_requests_by_route_and_show_the_desk() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    app.ticket(&alice, category, "one").await?;
    for _ in 0..3 {
        send(app.get("/api/v1/support/get/ticket/history/", &alice))
            .await?
            .assert_ok();
    }
    send(app.get("/api/v1/support/ticket/download/77/", &alice)).await?;
    let response = app.client.get(app.url("/metrics")).send().await?;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()?
            .starts_with("text/plain")
    );
    let text = response.text().await?;
    assert!(text.contains(
        r#"supportdesk_http_requests_total{route="/api/v1/support/get/ticket/history",method="GET",status="200"} 3"#
    ), "{text}");
    assert!(
        text.contains(
            r#"route="/api/v1/support/ticket/download/{attachment_id}",method="GET",status="404""#
        ),
        "ids never become labels: {text}"
    );
    assert!(text.contains(r#"supportdesk_http_request_duration_seconds_bucket{route="/api/v1/support/get/ticket/history",method="GET",status="200",le="+Inf"} 3"#));
    assert!(
        text.contains(r#"supportdesk_tickets{status="1"} 1"#),
        "{text}"
    );
    assert!(text.contains("supportdesk_attachment_bytes_stored 0"));
    assert!(text.contains(r#"supportdesk_db_pool_connections{state="idle"}"#));
    // The five answered requests are no longer counted; the one asking is (it shares the
    // listener). What the notification workers give way to.
    assert!(
        text.contains("\nsupportdesk_http_requests_in_flight 1\n"),
        "{text}"
    );
    Ok(())
}

#[tokio::test]
async fn metrics_can_be_turned_off() -> TestResult {
    let app = TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_METRICS", "off")]).await?;
    let answer = send(app.client.get(app.url("/metrics"))).await?;
    assert_eq!(answer.status, 404);
    Ok(())
}

#[tokio::test]
async fn metrics_can_live_on_an_address_of_their_own() -> TestResult {
    let port = {
        let probe = std::net::TcpListener::bind("127.0.0.1:0")?;
        probe.local_addr()?.port()
    };
    let address = format!("127.0.0.1:{port}");
    let app =
        TestApp::spawn_process_with(Backend::Sqlite, &[("SUPPORTDESK_METRICS", &address)]).await?;
    assert_eq!(send(app.client.get(app.url("/metrics"))).await?.status, 404);
    let text = app
        .client
        .get(format!("http://{address}/metrics"))
        .send()
        .await?
        .text()
        .await?;
    assert!(text.contains("supportdesk_db_pool_connections"));
    Ok(())
}
