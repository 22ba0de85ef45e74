//! Start-up and shutdown: a stopping server finishes what it started.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::helpers::{Backend, TestApp, TestResult, send};

async fn sigterm_lets_an_in_flight_request_finish_then_exits_cleanly(
    backend: Backend,
) -> TestResult {
    let mut app = TestApp::spawn_process(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;

    let body = format!("subject=in+flight&priority=1&comment=c&category={category}");
    let (first, rest) = body.split_at(10);
    let address = app.origin.trim_start_matches("http://").to_owned();
    let mut stream = tokio::net::TcpStream::connect(&address).await?;
    let head = format!(
        "POST /api/v1/support/create/ticket/ HTTP/1.1\r\nHost: {address}\r\napikey: {}\r\n\
         Authorization: Bearer {}\r\nContent-Type: application/x-www-form-urlencoded\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{first}",
        app.apikey,
        alice.token,
        body.len()
    );
    stream.write_all(head.as_bytes()).await?;
    // Let the server start on the request, then ask it to stop, then finish the body.
    tokio::time::sleep(Duration::from_millis(300)).await;
    app.terminate()?;
    tokio::time::sleep(Duration::from_millis(300)).await;
    stream.write_all(rest.as_bytes()).await?;
    let mut answer = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut answer)).await??;
    let answer = String::from_utf8_lossy(&answer);
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    assert!(answer.contains("\"subject\":\"in flight\""), "{answer}");

    let status = app.wait_for_exit(Duration::from_secs(20))?;
    assert!(status.success(), "exit status {status:?}");

    // The answered ticket is there when the desk comes back.
    let again = app.sibling()?;
    let history = send(again.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    assert_eq!(history.assert_ok()["count"], 1);
    Ok(())
}

async fn sigterm_fails_readyz_at_once_serves_through_the_grace_then_exits_0(
    backend: Backend,
) -> TestResult {
    let mut app = TestApp::spawn_process_with(
        backend,
        &[
            ("SUPPORTDESK_SHUTDOWN_GRACE_MS", "1500"),
            ("SUPPORTDESK_DRAIN_TIMEOUT", "5"),
        ],
    )
    .await?;
    assert_eq!(send(app.client.get(app.url("/readyz"))).await?.status, 200);
    let signalled = std::time::Instant::now();
    app.terminate()?;
    let ready =
        crate::helpers::eventually(|| app.client.get(app.url("/readyz")), |a| a.status == 503)
            .await?;
    assert_eq!(ready.status, 503, "{}", ready.body);
    assert_eq!(ready.body["status_code"], 503);
    assert!(ready.headers.contains_key("retry-after"));
    assert!(signalled.elapsed() < Duration::from_millis(1000));
    // Still serving while the balancer notices.
    assert_eq!(send(app.client.get(app.url("/healthz"))).await?.status, 200);
    let status = app.wait_for_exit(Duration::from_secs(20))?;
    assert!(status.success(), "exit status {status:?}");
    assert!(signalled.elapsed() >= Duration::from_millis(1500));
    Ok(())
}

on_both_backends!(
    sigterm_lets_an_in_flight_request_finish_then_exits_cleanly,
    sigterm_fails_readyz_at_once_serves_through_the_grace_then_exits_0,
);
