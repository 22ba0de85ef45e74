//! Retention: done notifications (mails, webhook deliveries with their attempts, acknowledged
//! outbox rows) older than `SUPPORTDESK_NOTIFY_RETENTION` are pruned by the dispatcher; pending
//! work never is, and `/metrics` totals do not go down.

use std::time::Duration;

use serde_json::json;
use sqlx::Row;
use supportdesk::services::notify::{Dispatcher, DispatcherConfig};
use supportdesk::store::Db;

use crate::helpers::{Backend, TestApp, TestResult};
use crate::mail::{FROM, Smtp};
use crate::receiver::Receiver;
use crate::webhooks::{WAIT, admin, fast, register};

async fn count(db: &Db, sql: &'static str) -> TestResult<i64> {
    Ok(sqlx::query(sql).fetch_one(db.pool()).await?.try_get("n")?)
}

/// A `/metrics` series' value.
async fn metric(app: &TestApp, series: &str) -> TestResult<f64> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let prefix = format!("{series} ");
    Ok(text
        .lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .ok_or_else(|| format!("no {series} in {text}"))?
        .trim()
        .parse()?)
}

const TOTALS: [&str; 3] = [
    "supportdesk_notify_deliveries{channel=\"webhook\",state=\"delivered\"}",
    "supportdesk_notify_deliveries{channel=\"email\",state=\"delivered\"}",
    "supportdesk_outbox_rows{state=\"delivered\"}",
];

async fn done_notifications_are_pruned_and_pending_ones_kept(backend: Backend) -> TestResult {
    let smtp = Smtp::start(&[])?;
    let url = smtp.url();
    let mut settings = fast(&[
        // An endpoint that never answers 2xx keeps its deliveries pending for an hour.
        ("SUPPORTDESK_WEBHOOK_RETRY_SCHEDULE", "1h"),
    ]);
    settings.extend_from_slice(&[
        ("SUPPORTDESK_SMTP_URL", url.as_str()),
        ("SUPPORTDESK_MAIL_FROM", FROM),
    ]);
    let app = TestApp::spawn_with(backend, &settings).await?;
    let root = admin(&app)?;
    let good = Receiver::start(&[]).await?;
    let failing = Receiver::start(&[]).await?;
    failing.answer_from_now_on(500);
    register(&app, &root, json!({"url": good.url})).await?;
    register(&app, &root, json!({"url": failing.url})).await?;
    let alice = app.customer("alice@example.com")?;
    app.person("bob@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let n = 4;
    for i in 0..n {
        app.ticket(&alice, billing, &format!("ticket {i}")).await?;
    }
    // Each ticket mails the staff (unassigned: bob, root and the first start's administrator)
    // and reaches both endpoints.
    let staff = 3;
    smtp.wait_for(staff * n).await?;
    assert_eq!(good.wait_for(n, WAIT).await.len(), n);
    assert_eq!(failing.wait_for(n, WAIT).await.len(), n);
    let mut before = Vec::new();
    for series in TOTALS {
        let deadline = std::time::Instant::now() + WAIT;
        let mut value = metric(&app, series).await?;
        let want = if series.contains("email") {
            staff * n
        } else {
            n
        } as f64;
        while value < want && std::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(25)).await;
            value = metric(&app, series).await?;
        }
        before.push(value);
    }
    assert_eq!(
        before,
        [n as f64, (staff * n) as f64, n as f64],
        "{TOTALS:?}"
    );

    tokio::time::sleep(Duration::from_millis(20)).await;
    let (pruned, left) = app.with_db(|db| async move {
        let dispatcher = Dispatcher::new(
            db.clone(),
            DispatcherConfig {
                retention: Some(Duration::from_millis(10)),
                ..DispatcherConfig::default()
            },
            tokio::sync::broadcast::channel(16).0,
        );
        let pruned = dispatcher.prune().await?;
        let left = (
            count(&db, "SELECT COUNT(*) AS n FROM mail_messages").await?,
            count(
                &db,
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state = 'pending'",
            )
            .await?,
            count(
                &db,
                "SELECT COUNT(*) AS n FROM webhook_deliveries WHERE state <> 'pending'",
            )
            .await?,
            count(
                &db,
                "SELECT COUNT(*) AS n FROM webhook_attempts a WHERE NOT EXISTS
                   (SELECT 1 FROM webhook_deliveries d WHERE d.id = a.delivery_id)",
            )
            .await?,
            count(&db, "SELECT COUNT(*) AS n FROM outbox").await?,
            count(&db, "SELECT COUNT(*) AS n FROM mail_threads").await?,
        );
        Ok((pruned, left))
    })?;
    let (mails, pending, done, orphans, outbox, threads) = left;
    // The newest row of each table stays (its id must not be handed out again).
    assert_eq!(mails, 1, "{pruned:?}");
    assert_eq!(pruned.mails, (staff * n) as u64 - 1);
    assert_eq!(pending, n as i64, "pending deliveries are never pruned");
    assert!(done <= 1, "{done} done deliveries left: {pruned:?}");
    assert_eq!(orphans, 0, "attempts go with their deliveries");
    // The last ticket's outbox row is still referred to by the mail kept.
    assert_eq!(outbox, 1, "{pruned:?}");
    assert_eq!(
        threads, n as i64,
        "thread roots stay: replies are matched on them"
    );

    // Totals are running counts: pruning lowers none of them.
    for (series, was) in TOTALS.iter().zip(before) {
        assert_eq!(metric(&app, series).await?, was, "{series}");
    }
    // A second pass finds nothing more to delete.
    let again = app.with_db(|db| async move {
        let dispatcher = Dispatcher::new(
            db,
            DispatcherConfig {
                retention: Some(Duration::from_millis(10)),
                ..DispatcherConfig::default()
            },
            tokio::sync::broadcast::channel(16).0,
        );
        Ok(dispatcher.prune().await?)
    })?;
    assert_eq!(again.total(), 0, "{again:?}");
    Ok(())
}

/// A retention that is not one duration (or `off`) stops the start.
#[tokio::test]
async fn a_retention_that_cannot_work_refuses_to_start() -> TestResult {
    let err =
        match TestApp::spawn_with(Backend::Sqlite, &[("SUPPORTDESK_NOTIFY_RETENTION", "soon")])
            .await
        {
            Ok(_) => return Err("started".into()),
            Err(err) => err.to_string(),
        };
    assert!(err.contains("SUPPORTDESK_NOTIFY_RETENTION"), "{err}");
    Ok(())
}

on_both_backends!(done_notifications_are_pruned_and_pending_ones_kept);
