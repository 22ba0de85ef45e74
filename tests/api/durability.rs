//! Issue 16: an answered write survives the process. SQLite's writes are committed in groups
//! (one `COMMIT` for the requests that waited together); each request answers only after the
//! commit that holds it, so a crash right after an answer loses nothing.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::helpers::{Backend, TestApp, TestResult, send};

/// A burst of creates from 16 clients at once, the server killed with SIGKILL in the middle of
/// it: after a restart on the same data, every ticket whose create was answered 200 is there,
/// with its subject and first message.
async fn every_answered_create_survives_sigkill(backend: Backend) -> TestResult {
    let mut app =
        TestApp::spawn_process_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "100000")])
            .await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let answered: Arc<Mutex<Vec<(i64, String)>>> = Arc::default();
    let mut clients = Vec::new();
    for client in 0..16 {
        let (app_url, answered) = (app.url(""), Arc::clone(&answered));
        let (apikey, token) = (app.apikey.clone(), alice.token.clone());
        clients.push(tokio::spawn(async move {
            let http = reqwest::Client::new();
            for i in 0.. {
                let subject = format!("burst {client}-{i}");
                let sent = http
                    .post(format!("{app_url}/api/v1/support/create/ticket/"))
                    .header("apikey", &apikey)
                    .bearer_auth(&token)
                    .form(&[
                        ("subject", subject.as_str()),
                        ("priority", "2"),
                        ("comment", "written before the crash"),
                        ("category", &category.to_string()),
                    ])
                    .send()
                    .await;
                let Ok(response) = sent else { break };
                if response.status() != 200 {
                    break;
                }
                let Ok(body) = response.json::<serde_json::Value>().await else {
                    break;
                };
                if let Some(id) = body["data"]["ticket"]["id"].as_i64()
                    && let Ok(mut answered) = answered.lock()
                {
                    answered.push((id, subject));
                }
            }
        }));
    }
    // Let the burst run, then kill the server while creates are in flight.
    let started = std::time::Instant::now();
    loop {
        tokio::time::sleep(Duration::from_millis(50)).await;
        let so_far = answered.lock().map(|a| a.len()).unwrap_or(0);
        if so_far >= 200 || started.elapsed() > Duration::from_secs(20) {
            break;
        }
    }
    app.kill()?;
    for client in clients {
        client.await?;
    }
    let answered = answered.lock().map(|a| a.clone()).unwrap_or_default();
    assert!(
        answered.len() >= 200,
        "the burst answered only {} creates before the kill",
        answered.len()
    );

    let again = app.sibling()?;
    for (id, subject) in &answered {
        let detail = send(again.get(
            &format!("/api/v1/support/ticket/detailed-view/?ticket_id={id}"),
            &alice,
        ))
        .await?;
        let ticket = detail.assert_ok();
        assert_eq!(ticket["ticket"]["subject"], subject.as_str(), "ticket {id}");
        assert_eq!(
            ticket["ticket"]["comment"], "written before the crash",
            "ticket {id}: {ticket}"
        );
    }
    let history = send(again.get("/api/v1/support/get/ticket/history/", &alice)).await?;
    let count = history.assert_ok()["count"].as_u64().ok_or("no count")?;
    assert!(
        count >= answered.len() as u64,
        "{count} tickets after the restart, {} answered",
        answered.len()
    );
    Ok(())
}

on_both_backends!(every_answered_create_survives_sigkill);
