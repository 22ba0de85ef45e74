//! Notifications when something goes wrong midway: a poison outbox row among good ones, an
//! endpoint deleted while its attempt is in flight, a redelivery asked for while one is.

use std::time::Duration;

use reqwest::Method;
use serde_json::json;
use sqlx::Row;
use supportdesk::services::notify::{Dispatcher, DispatcherConfig};
use supportdesk::store::{Backend as DbBackend, Db};

use crate::helpers::{Backend, TestApp, TestResult, send};
use crate::receiver::{HOLD, Receiver};
use crate::webhooks::{WAIT, admin, deliveries_when, fast, register};

/// Makes the fan-out of any event whose webhook payload carries `POISON-PILL` fail inside the
/// database (a real error from the statement, as a broken row would give).
async fn poison(db: &Db) -> TestResult {
    let statements: &[&str] = match db.backend() {
        DbBackend::Sqlite => &["CREATE TRIGGER poison BEFORE INSERT ON webhook_deliveries
             WHEN NEW.payload LIKE '%POISON-PILL%'
             BEGIN SELECT RAISE(ABORT, 'poisoned for the test'); END"],
        DbBackend::Postgres => &[
            "CREATE FUNCTION poison() RETURNS trigger LANGUAGE plpgsql AS $$
             BEGIN
               IF NEW.payload LIKE '%POISON-PILL%' THEN
                 RAISE EXCEPTION 'poisoned for the test';
               END IF;
               RETURN NEW;
             END $$",
            "CREATE TRIGGER poison BEFORE INSERT ON webhook_deliveries
             FOR EACH ROW EXECUTE FUNCTION poison()",
        ],
    };
    for sql in statements {
        sqlx::query(sqlx::AssertSqlSafe(*sql))
            .execute(db.pool())
            .await?;
    }
    Ok(())
}

async fn cure(db: &Db) -> TestResult {
    let sql = match db.backend() {
        DbBackend::Sqlite => "DROP TRIGGER poison",
        DbBackend::Postgres => "DROP TRIGGER poison ON webhook_deliveries",
    };
    sqlx::query(sql).execute(db.pool()).await?;
    Ok(())
}

/// Each outbox row: (id, delivered, last error, due in how many ms, leased).
async fn outbox_rows(db: &Db) -> TestResult<Vec<(i64, bool, Option<String>, i64, bool)>> {
    let now = supportdesk::store::now_micros();
    let rows = sqlx::query(
        "SELECT id, done_at, last_error, available_at, lease_owner FROM outbox ORDER BY id",
    )
    .fetch_all(db.pool())
    .await?;
    rows.iter()
        .map(|r| {
            Ok((
                r.try_get("id")?,
                r.try_get::<Option<i64>, _>("done_at")?.is_some(),
                r.try_get("last_error")?,
                (r.try_get::<i64, _>("available_at")? - now) / 1000,
                r.try_get::<Option<String>, _>("lease_owner")?.is_some(),
            ))
        })
        .collect()
}

/// A row whose fan-out fails is rolled back alone and comes back after the outbox's backoff
/// with its error; the rows claimed with it in the same batch are fanned out and acknowledged
/// in the batch's one transaction.
async fn a_poison_outbox_row_is_retried_later_and_its_batch_goes_on(
    backend: Backend,
) -> TestResult {
    // The server's own dispatcher stays asleep: the test runs rounds itself, so that the
    // poison row and the good ones are claimed in one batch.
    let app =
        TestApp::spawn_with(backend, &fast(&[("SUPPORTDESK_OUTBOX_POLL_MS", "600000")])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    register(&app, &root, json!({"url": receiver.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.with_db(|db| async move { poison(&db).await })?;
    // The poison row first: before the fix, the round stopped there and left the rest leased.
    app.ticket(&alice, billing, "POISON-PILL").await?;
    for i in 0..3 {
        app.ticket(&alice, billing, &format!("fine {i}")).await?;
    }
    let (claimed, rows, deliveries) = app.with_db(|db| async move {
        let dispatcher = Dispatcher::new(
            db.clone(),
            DispatcherConfig::default(),
            tokio::sync::broadcast::channel(16).0,
        );
        let claimed = dispatcher.round().await?;
        let deliveries: i64 = sqlx::query("SELECT COUNT(*) AS n FROM webhook_deliveries")
            .fetch_one(db.pool())
            .await?
            .try_get("n")?;
        Ok((claimed, outbox_rows(&db).await?, deliveries))
    })?;
    assert_eq!(claimed, 4, "one batch: {rows:?}");
    assert_eq!(deliveries, 3, "the three good rows fanned out");
    let (_, done, error, due_in_ms, leased) = rows[0].clone();
    assert!(!done && !leased, "the poison row is given back: {rows:?}");
    assert!(
        error
            .as_deref()
            .is_some_and(|e| e.contains("poisoned for the test")),
        "{rows:?}"
    );
    assert!(due_in_ms >= 500, "after the backoff, not at once: {rows:?}");
    assert!(rows[1..].iter().all(|r| r.1 && !r.4), "{rows:?}");

    // Cured, and due: the next round delivers it, under the same outbox id.
    let poison_id = rows[0].0;
    let (claimed, rows) = app.with_db(move |db| async move {
        cure(&db).await?;
        sqlx::query("UPDATE outbox SET available_at = 0 WHERE id = $1")
            .bind(poison_id)
            .execute(db.pool())
            .await?;
        let dispatcher = Dispatcher::new(
            db.clone(),
            DispatcherConfig::default(),
            tokio::sync::broadcast::channel(16).0,
        );
        Ok((dispatcher.round().await?, outbox_rows(&db).await?))
    })?;
    assert_eq!(claimed, 1);
    assert!(rows.iter().all(|r| r.1), "{rows:?}");
    Ok(())
}

/// An endpoint deleted while its attempt is in flight: the attempt's record is dropped with
/// it, and the other endpoints' attempts of the same batch are recorded (not rolled back and
/// sent again).
async fn an_endpoint_deleted_mid_attempt_loses_nothing_of_the_others(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let doomed = Receiver::start(&[HOLD]).await?;
    let kept = Receiver::start(&[]).await?;
    let (doomed_id, _) = register(&app, &root, json!({"url": doomed.url})).await?;
    let (kept_id, _) = register(&app, &root, json!({"url": kept.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    assert_eq!(doomed.wait_for(1, WAIT).await.len(), 1, "in flight");
    assert_eq!(kept.wait_for(1, WAIT).await.len(), 1);
    send(app.request(
        Method::DELETE,
        &format!("/api/v1/admin/webhooks/{doomed_id}/"),
        Some(&root),
    ))
    .await?
    .assert_ok();
    doomed.release();
    let list = deliveries_when(&app, &root, kept_id, |l| {
        l.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await?;
    assert_eq!(list.len(), 1, "{list:?}");
    assert_eq!(
        list[0]["state"], "delivered",
        "recorded, not rolled back: {list:?}"
    );
    assert_eq!(list[0]["attempts"].as_array().map(Vec::len), Some(1));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(kept.received().len(), 1, "not sent again");
    let gone = send(app.get(&format!("/api/v1/admin/webhooks/{doomed_id}/"), &root)).await?;
    assert_eq!(gone.status, 404);
    Ok(())
}

/// Asking for a redelivery while an attempt of it is on the wire changes nothing (409): the
/// delivery is never sent twice at once. Once the attempt has ended, redelivery works.
async fn redeliver_while_in_flight_never_sends_twice_at_once(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &fast(&[])).await?;
    let root = admin(&app)?;
    let receiver = Receiver::start(&[]).await?;
    let (id, _) = register(&app, &root, json!({"url": receiver.url})).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    app.ticket(&alice, billing, "printer on fire").await?;
    let list = deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await?;
    let delivery = list[0]["id"].as_i64().ok_or("no delivery id")?;
    let path = format!("/api/v1/admin/webhooks/{id}/deliveries/{delivery}/redeliver/");

    receiver.answer_from_now_on(HOLD);
    send(app.post(&path, &root)).await?.assert_ok();
    assert_eq!(
        receiver.wait_for(2, WAIT).await.len(),
        2,
        "the redelivery is in flight"
    );
    let refused = send(app.post(&path, &root)).await?;
    assert_eq!(refused.status, 409, "{:?}", refused.body);
    assert!(
        refused
            .errors("detail")
            .iter()
            .any(|m| m.contains("being sent right now")),
        "{:?}",
        refused.body
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(
        receiver.received().len(),
        2,
        "nothing sent beside the one in flight"
    );

    receiver.answer_from_now_on(200);
    receiver.release();
    deliveries_when(&app, &root, id, |l| {
        l.first().is_some_and(|d| d["state"] == "delivered")
    })
    .await?;
    crate::helpers::eventually(|| app.post(&path, &root), |a| a.status == 200)
        .await?
        .assert_ok();
    assert_eq!(receiver.wait_for(3, WAIT).await.len(), 3);
    Ok(())
}

on_both_backends!(
    a_poison_outbox_row_is_retried_later_and_its_batch_goes_on,
    an_endpoint_deleted_mid_attempt_loses_nothing_of_the_others,
    redeliver_while_in_flight_never_sends_twice_at_once,
);
