//! Limits shared across processes through Redis (`SUPPORTDESK_REDIS_URL`, the machine's Redis at
//! 127.0.0.1:6379, each test under a key prefix of its own), and what happens without it.

use futures_util::future::join_all;
use reqwest::Method;

use crate::helpers::{Backend, TestApp, TestResult, send};
use crate::infra::{REDIS_URL, redis_cleanup, redis_keys, redis_prefix};

const CATEGORIES: &str = "/api/v1/support/get/category-list/";

/// Redis's clock, in whole seconds (the rate window the servers count in).
async fn redis_second() -> TestResult<i64> {
    let client = redis::Client::open(REDIS_URL)?;
    let mut conn = client.get_multiplexed_async_connection().await?;
    let (seconds, _micros): (i64, i64) = redis::cmd("TIME").query_async(&mut conn).await?;
    Ok(seconds)
}

#[tokio::test]
async fn a_rate_limit_is_shared_by_every_process() -> TestResult {
    let prefix = redis_prefix("rate");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_REDIS_URL", REDIS_URL),
            ("SUPPORTDESK_REDIS_PREFIX", &prefix),
            ("SUPPORTDESK_RATE_LIMIT_PER_KEY", "4"),
        ],
    )
    .await?;
    let other = app.sibling()?;
    // Both connect to Redis in the background; wait until both count there.
    crate::helpers::eventually(
        || other.client.get(other.url("/metrics")),
        |a| String::from_utf8_lossy(&a.bytes).contains("supportdesk_redis_up 1"),
    )
    .await?;
    // Eight requests at once, four through each process, within one second of Redis's clock
    // (retried should they straddle two): the two processes together let four through.
    let mut outcome = None;
    for _ in 0..5 {
        // Start right after a second begins.
        let start = redis_second().await?;
        while redis_second().await? == start {
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        let second = redis_second().await?;
        let requests = (0..8).map(|i| {
            let server = if i % 2 == 0 { &app } else { &other };
            send(server.request(Method::GET, CATEGORIES, None))
        });
        let answers = join_all(requests).await;
        if redis_second().await? != second {
            continue;
        }
        let mut statuses = Vec::new();
        for answer in answers {
            statuses.push(answer?.status.as_u16());
        }
        outcome = Some(statuses);
        break;
    }
    let statuses = outcome.ok_or("never managed eight requests within one second")?;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        4,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        4,
        "{statuses:?}"
    );
    redis_cleanup(&prefix).await
}

#[tokio::test]
async fn the_sign_in_throttle_counts_in_redis_across_processes() -> TestResult {
    let prefix = redis_prefix("signin");
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_REDIS_URL", REDIS_URL),
            ("SUPPORTDESK_REDIS_PREFIX", &prefix),
            ("SUPPORTDESK_SIGNIN_MAX_FAILURES", "3"),
        ],
    )
    .await?;
    let other = app.sibling()?;
    app.customer("bob@example.com")?;
    crate::helpers::eventually(
        || other.client.get(other.url("/metrics")),
        |a| String::from_utf8_lossy(&a.bytes).contains("supportdesk_redis_up 1"),
    )
    .await?;
    crate::helpers::eventually(
        || app.client.get(app.url("/metrics")),
        |a| String::from_utf8_lossy(&a.bytes).contains("supportdesk_redis_up 1"),
    )
    .await?;
    // Ten wrong guesses at once, spread over both processes: three passwords are checked.
    let guesses = (0..10).map(|i| {
        let server = if i % 2 == 0 { &app } else { &other };
        send(
            server
                .request(Method::POST, "/api/v1/auth/token/", None)
                .form(&[("email", "bob@example.com"), ("password", "wrong guess")]),
        )
    });
    let mut statuses = Vec::new();
    for answer in join_all(guesses).await {
        statuses.push(answer?.status.as_u16());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 401).count(),
        3,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        7,
        "{statuses:?}"
    );
    // Counted in Redis (hashed subjects), not in the database.
    let keys = redis_keys(&prefix).await?;
    assert!(keys.iter().any(|k| k.contains("signin:")), "{keys:?}");
    assert!(keys.iter().all(|k| !k.contains("bob")), "{keys:?}");
    redis_cleanup(&prefix).await
}

#[tokio::test]
async fn with_redis_away_limits_fall_back_and_no_request_fails() -> TestResult {
    // Nothing listens on port 1.
    let app = TestApp::spawn_with(
        Backend::Sqlite,
        &[
            ("SUPPORTDESK_REDIS_URL", "redis://127.0.0.1:1/0"),
            ("SUPPORTDESK_RATE_LIMIT_PER_KEY", "2"),
            ("SUPPORTDESK_SIGNIN_MAX_FAILURES", "1"),
        ],
    )
    .await?;
    app.customer("bob@example.com")?;
    // Per-process rate limit: two through, the third refused.
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(
            send(app.request(Method::GET, CATEGORIES, None))
                .await?
                .status
                .as_u16(),
        );
    }
    assert_eq!(statuses, [200, 200, 429]);
    // The sign-in throttle keeps working, in the database.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let guess = || {
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", "bob@example.com"), ("password", "wrong guess")])
    };
    assert_eq!(send(guess()).await?.status, 401);
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(send(guess()).await?.status, 429);
    // Said on /metrics (and in the log, once).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let metrics = send(app.client.get(app.url("/metrics"))).await?;
    let text = String::from_utf8_lossy(&metrics.bytes);
    assert!(text.contains("supportdesk_redis_up 0"), "{text}");
    let fallbacks: u64 = text
        .lines()
        .find_map(|l| l.strip_prefix("supportdesk_redis_fallbacks_total "))
        .and_then(|n| n.trim().parse().ok())
        .ok_or("no fallback counter")?;
    assert!(fallbacks >= 5, "{fallbacks}");
    Ok(())
}
