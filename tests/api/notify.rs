//! Notifications: every notifying ticket change writes its outbox row in its own transaction,
//! and the dispatcher of the serving process handles each row.

use std::time::Duration;

use supportdesk::store::outbox;

use crate::helpers::{Backend, TestApp, TestResult, send};

/// The outbox's rows by state, as `/metrics` shows them: (pending, delivered).
async fn outbox(app: &TestApp) -> TestResult<(i64, i64)> {
    let text = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await?
        .text()
        .await?;
    let read = |state: &str| -> TestResult<i64> {
        let prefix = format!("supportdesk_outbox_rows{{state=\"{state}\"}} ");
        let line = text
            .lines()
            .find_map(|l| l.strip_prefix(&prefix))
            .ok_or_else(|| format!("no {state} line in {text}"))?;
        Ok(line.trim().parse()?)
    };
    Ok((read("pending")?, read("delivered")?))
}

/// Waits until nothing is pending (or a few seconds have passed); answers the last reading.
async fn drained(app: &TestApp) -> TestResult<(i64, i64)> {
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    loop {
        let now = outbox(app).await?;
        if now.0 == 0 || std::time::Instant::now() >= deadline {
            return Ok(now);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

async fn each_change_is_dispatched_once_and_a_refused_write_leaves_no_row(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_OPEN_TICKET_LIMIT", "1"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "10"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let billing = app.category("Billing")?;
    let ticket = app.ticket(&alice, billing, "printer on fire").await?;
    for route in ["note", "reply"] {
        send(
            app.post(&format!("/api/v1/agent/tickets/{ticket}/{route}/"), &agent)
                .form(&[("comment", "looking into it")]),
        )
        .await?
        .assert_ok();
    }
    // The reply also moves the ticket to Processing: a status change of its own.
    assert_eq!(drained(&app).await?, (0, 4), "created, note, reply, status");

    // Refused by the open-ticket limit: the transaction rolls back with its outbox row.
    let refused = send(app.create_request(&alice, billing, "second")).await?;
    assert_eq!(refused.status, 401, "{:?}", refused.body);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(outbox(&app).await?, (0, 4));
    Ok(())
}

/// A claim is a lease: while it holds nobody else takes the row; once it has expired (the
/// claimer was killed) another process does, with the same delivery id, and the first
/// claimer's late acknowledgement is refused.
async fn a_dead_claimers_rows_are_delivered_after_its_lease(backend: Backend) -> TestResult {
    // The server's own dispatcher stays asleep: this test plays two dispatchers itself.
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OUTBOX_POLL_MS", "600000")]).await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    // The dispatcher's first round may have run before this; it found nothing then.
    tokio::time::sleep(Duration::from_millis(50)).await;
    app.ticket(&alice, billing, "printer on fire").await?;
    let lease = Duration::from_millis(300);
    let (dead, taken_early, retaken) = app.with_db(move |db| async move {
        let dead = outbox::claim(&db, "killed", lease, 10).await?;
        let taken_early = outbox::claim(&db, "survivor", lease, 10).await?;
        tokio::time::sleep(lease + Duration::from_millis(50)).await;
        let retaken = outbox::claim(&db, "survivor", lease, 10).await?;
        Ok((dead, taken_early, retaken))
    })?;
    assert_eq!(dead.len(), 1, "{dead:?}");
    assert!(taken_early.is_empty(), "{taken_early:?}");
    assert_eq!(retaken.len(), 1);
    assert_eq!(retaken[0].id, dead[0].id, "one delivery id across attempts");
    assert_eq!(retaken[0].attempts, 2);
    let id = dead[0].id;
    let (late, acked, stats) = app.with_db(move |db| async move {
        let late = outbox::ack(&db, id, "killed").await?;
        let acked = outbox::ack(&db, id, "survivor").await?;
        Ok((late, acked, outbox::stats(&db).await?))
    })?;
    assert!(!late, "the lost lease cannot acknowledge");
    assert!(acked);
    assert_eq!((stats.pending, stats.delivered, stats.retries), (0, 1, 1));
    Ok(())
}

/// Two dispatchers claiming at once share the rows without overlap (PostgreSQL's SKIP LOCKED;
/// SQLite's single writer).
async fn concurrent_claims_never_share_a_row(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_OUTBOX_POLL_MS", "600000"),
            ("SUPPORTDESK_OPEN_TICKET_LIMIT", "50"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    let billing = app.category("Billing")?;
    tokio::time::sleep(Duration::from_millis(50)).await;
    for i in 0..20 {
        app.ticket(&alice, billing, &format!("ticket {i}")).await?;
    }
    let ids = app.with_db(|db| async move {
        let lease = Duration::from_secs(60);
        let mut claimers = Vec::new();
        for n in 0..4 {
            let db = db.clone();
            claimers.push(tokio::spawn(async move {
                let mut mine = Vec::new();
                loop {
                    let batch = outbox::claim(&db, &format!("d{n}"), lease, 3).await?;
                    if batch.is_empty() {
                        return Ok::<_, supportdesk::store::StoreError>(mine);
                    }
                    mine.extend(batch.into_iter().map(|c| c.id));
                }
            }));
        }
        let mut all = Vec::new();
        for c in claimers {
            all.extend(c.await??);
        }
        Ok(all)
    })?;
    let mut unique = ids.clone();
    unique.sort_unstable();
    unique.dedup();
    assert_eq!(unique.len(), 20, "every row claimed: {ids:?}");
    assert_eq!(ids.len(), 20, "no row claimed twice: {ids:?}");
    Ok(())
}

on_both_backends!(
    each_change_is_dispatched_once_and_a_refused_write_leaves_no_row,
    a_dead_claimers_rows_are_delivered_after_its_lease,
    concurrent_claims_never_share_a_row,
);
