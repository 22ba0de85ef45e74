//! Webhooks end to end: a real receiver on loopback, the admin API, signatures checked by an
//! implementation that is not the desk's, retries, the SSRF guard, auto-disable, redelivery,
//! roles, a server killed mid-delivery, and two servers sharing the work on PostgreSQL.

use std::collections::HashMap;
use std::time::Duration;

use reqwest::Method;
use serde_json::{Value, json};
use supportdesk::services::notify::webhooks::sender::{INSIDE, NOT_HTTP};
use supportdesk::store::webhooks::{self as store, Subscription};

use crate::helpers::{Backend, Person, TestApp, TestResult, send};
use crate::receiver::{
    Receiver, readme_snippet_accepts, reference_library_accepts, signature_is_valid,
};

pub(crate) const WAIT: Duration = Duration::from_secs(15);

/// Settings for a desk whose webhooks may reach loopback, retrying within milliseconds.
pub(crate) fn fast(extra: &[(&'static str, &'static str)]) -> Vec<(&'static str, &'static str)> {
    let mut settings = vec![
        ("SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE", "true"),
        ("SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE", "20ms,20ms,20ms,20ms"),
        ("SUPPORTDESK_OUTBOX_POLL_MS", "10"),
        ("SUPPORTDESK_OPEN_TICKET_LIMIT", "100"),
    ];
    // A setting given in `extra` replaces the default above.
    settings.retain(|(name, _)| !extra.iter().any(|(n, _)| n == name));
    settings.extend_from_slice(extra);
    settings
}

pub(crate) fn admin(app: &TestApp) -> TestResult<Person> {
    app.person("root@example.com", "admin")
}

/// Registers an endpoint through the API; answers its id and secret.
pub(crate) async fn register(
    app: &TestApp,
    admin: &Person,
    body: Value,
) -> TestResult<(i64, String)> {
    let answer = send(app.post("/api/v1/admin/webhooks/", admin).json(&body)).await?;
    let data = answer.assert_ok();
    let id = data["webhook"]["id"].as_i64().ok_or("no id")?;
    let secret = data["webhook"]["secret"]
        .as_str()
        .ok_or("no secret")?
        .to_owned();
    Ok((id, secret))
}

/// The endpoint's deliveries, as the admin API lists them, once `done` holds (or `WAIT` passed).
pub(crate) async fn deliveries_when(
    app: &TestApp,
    admin: &Person,
    id: i64,
    done: impl Fn(&[Value]) -> bool,
) -> TestResult<Vec<Value>> {
    let deadline = std::time::Instant::now() + WAIT;
    loop {
        let answer =
            send(app.get(&format!("/api/v1/admin/webhooks/{id}/deliveries/"), admin)).await?;
        let list = answer.assert_ok()["deliveries"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        if done(&list) || std::time::Instant::now() >= deadline {
            return Ok(list);
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
}

async fn a_failing_receiver_gets_three_attempts_with_one_verifiable_webhook_id(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[500, 500, 200]).await?;
    let (id, secret) = register(
        &app,
        &root,
        json!({"url": receiver.url, "events": ["ticket.created"], "description": "CRM"}),
    )
    .await?;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "printer on fire").await?;

    let got = receiver.wait_for(3, WAIT).await;
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(
        got.iter().all(|r| r.id == got[0].id),
        "one webhook-id: {got:?}"
    );
    assert!(got[0].id.starts_with("msg_"), "{}", got[0].id);
    for r in &got {
        assert!(signature_is_valid(&secret, r), "spec check: {r:?}");
        assert!(reference_library_accepts(&secret, r)?, "library: {r:?}");
        for lang in ["python", "node"] {
            assert!(
                readme_snippet_accepts(lang, &secret, r)?,
                "README {lang}: {r:?}"
            );
        }
        // A wrong secret must not verify: the checks can fail.
        assert!(!signature_is_valid(
            "whsec_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            r
        ));
    }
    let body = got[2].json();
    assert_eq!(body["type"], "ticket.created");
    assert_eq!(body["data"]["ticket"]["id"], ticket);
    assert_eq!(body["data"]["ticket"]["subject"], "printer on fire");
    assert_eq!(body["data"]["ticket"]["assignee"], Value::Null);
    assert_eq!(body["data"]["actor"]["email"], "alice@example.com");
    assert_eq!(body["data"]["actor"]["role"], "customer");
    assert!(body["timestamp"].as_str().is_some_and(|t| t.ends_with('Z')));

    // The log shows each attempt: 500, 500, 200, and the delivery delivered.
    let list = deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await?;
    assert_eq!(list.len(), 1, "{list:?}");
    let d = &list[0];
    assert_eq!(d["webhook_id"], got[0].id.as_str());
    assert_eq!(d["type"], "ticket.created");
    let statuses: Vec<Value> = d["attempts"]
        .as_array()
        .ok_or("no attempts")?
        .iter()
        .map(|a| a["status"].clone())
        .collect();
    assert_eq!(statuses, [json!(500), json!(500), json!(200)], "{d}");
    assert_eq!(d["attempts"][0]["error"], "HTTP status 500");
    assert_eq!(d["attempts"][2]["error"], Value::Null);

    // Not subscribed to replies: a reply reaches nobody.
    let agent = app.person("agent@example.com", "agent")?;
    send(
        app.post(&format!("/api/v1/agent/tickets/{ticket}/reply/"), &agent)
            .form(&[("comment", "on it")]),
    )
    .await?
    .assert_ok();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(receiver.received().len(), 3);
    Ok(())
}

async fn every_event_reaches_a_star_endpoint_notes_included(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    register(&app, &root, json!({"url": receiver.url, "events": ["*"]})).await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "printer on fire").await?;
    for route in ["note", "reply"] {
        send(
            app.post(&format!("/api/v1/agent/tickets/{ticket}/{route}/"), &agent)
                .form(&[("comment", format!("{route} text"))]),
        )
        .await?
        .assert_ok();
    }
    let got = receiver.wait_for(4, WAIT).await;
    let by_type: HashMap<String, Value> = got
        .iter()
        .map(|r| (r.json()["type"].as_str().unwrap_or("").to_owned(), r.json()))
        .collect();
    assert_eq!(got.len(), 4, "{got:?}");
    let note = &by_type["ticket.note_added"]["data"];
    assert_eq!(note["message"]["comment"], "note text");
    assert_eq!(note["message"]["internal"], true);
    assert_eq!(note["actor"]["role"], "agent");
    let reply = &by_type["ticket.agent_replied"]["data"];
    assert_eq!(reply["message"]["internal"], false);
    let status = &by_type["ticket.status_changed"]["data"]["change"];
    assert_eq!(status, &json!({"field": "status", "from": "1", "to": "2"}));
    Ok(())
}

async fn internal_and_malformed_targets_are_refused_at_creation(backend: Backend) -> TestResult {
    // Private targets not allowed: the default.
    let app = TestApp::spawn(backend).await?;
    let root = admin(&app)?;
    for url in [
        "http://127.0.0.1:8080/hook",
        "http://localhost/hook",
        "http://169.254.169.254/latest/meta-data/",
        "http://[::1]/",
        "http://10.0.0.7/",
    ] {
        let answer = send(
            app.post("/api/v1/admin/webhooks/", &root)
                .json(&json!({"url": url, "events": ["*"]})),
        )
        .await?;
        answer.assert_errors(400, json!({"url": [INSIDE]}));
    }
    let answer = send(
        app.post("/api/v1/admin/webhooks/", &root)
            .json(&json!({"url": "ftp://example.com/", "events": ["ticket.deleted"]})),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"url": [NOT_HTTP], "events": ["\"ticket.deleted\" is not a valid choice."]}),
    );
    // Nothing was stored.
    let list = send(app.get("/api/v1/admin/webhooks/", &root)).await?;
    assert_eq!(list.assert_ok()["webhooks"], json!([]));
    Ok(())
}

async fn a_name_resolving_to_loopback_is_refused_at_delivery(backend: Backend) -> TestResult {
    // As if `localhost` had resolved to a public address when the endpoint was registered
    // (DNS rebinding): stored directly, it must still be refused when delivering.
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE", "20ms"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "10"),
        ],
    )
    .await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    let url = receiver.url.replace("127.0.0.1", "localhost");
    let id = app.with_db(move |db| async move {
        let secret = supportdesk::services::notify::signing::new_secret();
        Ok(store::create(&db, &url, &Subscription::All, "", &secret)
            .await?
            .id)
    })?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    let list = deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| d["state"] == "failed")
    })
    .await?;
    assert_eq!(list[0]["state"], "failed", "{list:?}");
    let attempts = list[0]["attempts"].as_array().ok_or("no attempts")?;
    assert_eq!(attempts.len(), 2);
    for a in attempts {
        assert_eq!(a["status"], Value::Null);
        let error = a["error"].as_str().unwrap_or_default();
        assert!(error.contains("refused"), "{error}");
    }
    assert!(
        receiver.received().is_empty(),
        "nothing reached the receiver"
    );
    Ok(())
}

async fn an_endpoint_failing_long_enough_is_disabled_and_re_enabling_it_delivers(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &fast(&[
            ("SUPPORTDESK_WEBHOOK_DISABLE_AFTER", "300ms"),
            (
                "SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE",
                "100ms,100ms,100ms,100ms,100ms,100ms,1h",
            ),
        ]),
    )
    .await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    receiver.answer_from_now_on(503);
    let (id, _) = register(&app, &root, json!({"url": receiver.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "first").await?;

    let path = format!("/api/v1/admin/webhooks/{id}/");
    let disabled = crate::helpers::eventually(
        || app.get(&path, &root),
        |a| a.body["data"]["webhook"]["enabled"] == false,
    )
    .await?;
    let hook = &disabled.assert_ok()["webhook"];
    assert_eq!(hook["enabled"], false, "{hook}");
    let reason = hook["disabled_reason"].as_str().unwrap_or_default();
    assert!(
        reason.contains("300ms") && reason.contains("503"),
        "{reason}"
    );
    assert!(hook["failing_since"].is_string());
    // Disabled: nothing more is attempted, and a new event makes no delivery.
    let tried = receiver.received().len();
    app.ticket(&alice, billing, "second").await?;
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(receiver.received().len(), tried);

    receiver.answer_from_now_on(200);
    let enabled = send(
        app.request(Method::PATCH, &path, Some(&root))
            .json(&json!({"enabled": true})),
    )
    .await?;
    let hook = &enabled.assert_ok()["webhook"];
    assert_eq!(hook["enabled"], true);
    assert_eq!(hook["disabled_reason"], Value::Null);
    // The pending delivery goes at once, and new events flow again.
    app.ticket(&alice, billing, "third").await?;
    let list = deliveries_when(&app, &root, id, |l| {
        l.len() == 2 && l.iter().all(|d| d["state"] == "delivered")
    })
    .await?;
    let subjects: Vec<String> = list
        .iter()
        .map(|d| d["state"].as_str().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(subjects, ["delivered", "delivered"], "{list:?}");
    Ok(())
}

async fn redeliver_sends_again_with_the_same_webhook_id(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    let other = Receiver::start(&[]).await?;
    let (id, secret) = register(&app, &root, json!({"url": receiver.url})).await?;
    let (other_id, _) = register(&app, &root, json!({"url": other.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    let first = receiver.wait_for(1, WAIT).await;
    assert_eq!(first.len(), 1);
    let list = deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await?;
    let delivery = list[0]["id"].as_i64().ok_or("no delivery id")?;

    // Another endpoint's delivery is not reachable through this one.
    let foreign = send(app.post(
        &format!("/api/v1/admin/webhooks/{other_id}/deliveries/{delivery}/redeliver/"),
        &root,
    ))
    .await?;
    assert_eq!(foreign.status, 404);

    let again = send(app.post(
        &format!("/api/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver/"),
        &root,
    ))
    .await?;
    assert_eq!(again.assert_ok()["webhook_id"], first[0].id.as_str());
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2);
    assert_eq!(got[1].id, got[0].id);
    assert_eq!(got[1].body, got[0].body, "the same bytes");
    assert!(signature_is_valid(&secret, &got[1]));

    // A rotated secret signs the next attempt; the old one no longer verifies.
    let rotated = send(app.post(
        &format!("/api/v1/admin/webhooks/{id}/rotate-secret/"),
        &root,
    ))
    .await?;
    let new_secret = rotated.assert_ok()["webhook"]["secret"]
        .as_str()
        .ok_or("no secret")?
        .to_owned();
    assert_ne!(new_secret, secret);
    // The receiver has the second attempt before the worker records it; until then the delivery
    // is in flight and a redelivery is refused (409), so wait for the record.
    deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| {
            d["state"] == "delivered" && d["attempts"].as_array().is_some_and(|a| a.len() >= 2)
        })
    })
    .await?;
    send(app.post(
        &format!("/api/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver/"),
        &root,
    ))
    .await?
    .assert_ok();
    let got = receiver.wait_for(3, WAIT).await;
    assert!(signature_is_valid(&new_secret, &got[2]));
    assert!(!signature_is_valid(&secret, &got[2]));
    Ok(())
}

async fn only_administrators_reach_webhook_routes_and_secrets_are_shown_once(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    let (id, secret) = register(&app, &root, json!({"url": receiver.url})).await?;
    let customer = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let routes = [
        (Method::GET, "/api/v1/admin/webhooks/".to_owned()),
        (Method::POST, "/api/v1/admin/webhooks/".to_owned()),
        (Method::GET, format!("/api/v1/admin/webhooks/{id}/")),
        (Method::PATCH, format!("/api/v1/admin/webhooks/{id}/")),
        (Method::DELETE, format!("/api/v1/admin/webhooks/{id}/")),
        (
            Method::POST,
            format!("/api/v1/admin/webhooks/{id}/rotate-secret/"),
        ),
        (
            Method::GET,
            format!("/api/v1/admin/webhooks/{id}/deliveries/"),
        ),
        (
            Method::POST,
            format!("/api/v1/admin/webhooks/{id}/deliveries/1/redeliver/"),
        ),
    ];
    for who in [&customer, &agent] {
        for (method, path) in &routes {
            let answer = send(
                app.request(method.clone(), path, Some(who))
                    .json(&json!({"url": "http://127.0.0.1:1/", "enabled": false})),
            )
            .await?;
            assert_eq!(answer.status, 403, "{} {method} {path}", who.email);
            assert_eq!(answer.body["status_code"], 403);
        }
    }
    // Still there, unchanged, and the secret is in no answer but creation's.
    let list = send(app.get("/api/v1/admin/webhooks/", &root)).await?;
    assert!(!list.body.to_string().contains(&secret));
    assert_eq!(list.assert_ok()["webhooks"][0]["enabled"], true);
    let one = send(app.get(&format!("/api/v1/admin/webhooks/{id}/"), &root)).await?;
    assert!(!one.body.to_string().contains(&secret));
    for (method, path) in [
        (Method::GET, "/api/v1/admin/webhooks/999/"),
        (Method::DELETE, "/api/v1/admin/webhooks/999/"),
        (Method::GET, "/api/v1/admin/webhooks/abc/deliveries/"),
    ] {
        let answer = send(app.request(method, path, Some(&root))).await?;
        answer.assert_errors(404, json!({"detail": ["Not found."]}));
    }
    let deleted = send(app.request(
        Method::DELETE,
        &format!("/api/v1/admin/webhooks/{id}/"),
        Some(&root),
    ))
    .await?;
    assert_eq!(deleted.assert_ok()["deleted"], true);
    Ok(())
}

async fn metrics_count_webhook_deliveries(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[500]).await?;
    register(&app, &root, json!({"url": receiver.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    receiver.wait_for(2, WAIT).await;
    let text = crate::helpers::eventually(
        || app.client.get(app.url("/metrics")),
        |a| {
            String::from_utf8_lossy(&a.bytes).contains(
                "supportdesk_notify_deliveries{channel=\"webhook\",state=\"delivered\"} 1",
            )
        },
    )
    .await?;
    let text = String::from_utf8_lossy(&text.bytes).into_owned();
    for line in [
        "supportdesk_notify_deliveries{channel=\"webhook\",state=\"pending\"} 0",
        "supportdesk_notify_deliveries{channel=\"webhook\",state=\"delivered\"} 1",
        "supportdesk_notify_deliveries{channel=\"webhook\",state=\"failed\"} 0",
        "supportdesk_notify_retries{channel=\"webhook\"} 1",
        "supportdesk_notify_oldest_pending_seconds{channel=\"webhook\"} 0",
    ] {
        assert!(text.contains(line), "{line} in\n{text}");
    }
    Ok(())
}

/// The server is killed (SIGKILL) while the receiver holds its request unanswered; after a
/// restart, the delivery is made, with the same webhook-id.
async fn a_server_killed_mid_delivery_delivers_after_restart(backend: Backend) -> TestResult {
    let mut app =
        TestApp::spawn_process_with(backend, &fast(&[("SUPPORTDESK_OUTBOX_LEASE_MS", "1500")]))
            .await?;
    let root = admin(&app)?;
    // 0: the first request is never answered.
    let receiver = Receiver::start(&[0]).await?;
    let (_, secret) = register(&app, &root, json!({"url": receiver.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    let first = receiver.wait_for(1, WAIT).await;
    assert_eq!(first.len(), 1, "the delivery started");
    app.kill()?;

    let again = app.sibling()?;
    let got = receiver.wait_for(2, WAIT).await;
    assert_eq!(got.len(), 2, "delivered after the restart");
    assert_eq!(got[1].id, got[0].id);
    assert!(signature_is_valid(&secret, &got[1]));
    // Delivered once the lease of the killed process ran out: it is not sent a third time.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(receiver.received().len(), 2);
    drop(again);
    Ok(())
}

/// Two processes on one PostgreSQL database: each event reaches each endpoint exactly once.
async fn two_processes_deliver_each_event_to_each_endpoint_once(backend: Backend) -> TestResult {
    let first = TestApp::spawn_process_with(backend, &fast(&[])).await?;
    let second = first.sibling()?;
    let root = admin(&first)?;
    let (a, b) = (Receiver::start(&[]).await?, Receiver::start(&[]).await?);
    register(&first, &root, json!({"url": a.url})).await?;
    register(&first, &root, json!({"url": b.url})).await?;
    let alice = first.customer("alice@example.com")?;
    let billing = first.category("Billing")?;
    let n = 40;
    for i in 0..n {
        let app = if i % 2 == 0 { &first } else { &second };
        app.ticket(&alice, billing, &format!("ticket {i}")).await?;
    }
    for receiver in [&a, &b] {
        let got = receiver.wait_for(n, WAIT).await;
        tokio::time::sleep(Duration::from_millis(300)).await;
        let got_after = receiver.received();
        assert_eq!(got.len(), n, "every event arrived");
        let mut ids: Vec<String> = got_after.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), n, "distinct webhook-ids");
        assert_eq!(got_after.len(), n, "none twice");
    }
    Ok(())
}

async fn the_command_line_registers_lists_and_deletes_webhooks(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let refused = app.cli(&["webhook", "create", "--url", "http://127.0.0.1:9/hook"])?;
    assert!(!refused.status.success());
    assert!(
        String::from_utf8_lossy(&refused.stderr).contains("internal address"),
        "{}",
        String::from_utf8_lossy(&refused.stderr)
    );
    let secret = app.cli_ok(&[
        "webhook",
        "create",
        "--url",
        "http://127.0.0.1:9/hook",
        "--events",
        "ticket.assigned,ticket.created",
        "--allow-private",
    ])?;
    assert!(secret.starts_with("whsec_"), "{secret}");
    let list = app.cli(&["webhook", "list"])?;
    let list = String::from_utf8_lossy(&list.stdout).into_owned();
    assert!(
        list.contains("http://127.0.0.1:9/hook\tticket.created,ticket.assigned"),
        "{list}"
    );
    assert!(!list.contains(&secret));
    let root = admin(&app)?;
    let api = send(app.get("/api/v1/admin/webhooks/", &root)).await?;
    let id = api.assert_ok()["webhooks"][0]["id"]
        .as_i64()
        .ok_or("no id")?;
    app.cli_ok(&["webhook", "delete", &id.to_string()])?;
    let api = send(app.get("/api/v1/admin/webhooks/", &root)).await?;
    assert_eq!(api.assert_ok()["webhooks"], json!([]));
    Ok(())
}

on_both_backends!(
    the_command_line_registers_lists_and_deletes_webhooks,
    a_failing_receiver_gets_three_attempts_with_one_verifiable_webhook_id,
    every_event_reaches_a_star_endpoint_notes_included,
    internal_and_malformed_targets_are_refused_at_creation,
    a_name_resolving_to_loopback_is_refused_at_delivery,
    an_endpoint_failing_long_enough_is_disabled_and_re_enabling_it_delivers,
    redeliver_sends_again_with_the_same_webhook_id,
    only_administrators_reach_webhook_routes_and_secrets_are_shown_once,
    metrics_count_webhook_deliveries,
    a_server_killed_mid_delivery_delivers_after_restart,
);

/// Several processes share one database on PostgreSQL only (SQLite: one process).
mod postgres_only {
    #[tokio::test]
    async fn two_processes_deliver_each_event_to_each_endpoint_once() -> crate::helpers::TestResult
    {
        if !crate::helpers::postgres_ready().await? {
            return Ok(());
        }
        super::two_processes_deliver_each_event_to_each_endpoint_once(
            crate::helpers::Backend::Postgres,
        )
        .await
    }
}
