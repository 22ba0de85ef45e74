//! `GET /metrics` in the Prometheus text format: request counts and latency histograms per route
//! and status, the database pool, attachment bytes stored and tickets by status.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sqlx::Row;

use crate::app::AppState;
use crate::http::envelope::ApiError;
use crate::services::pace::Load;

/// Upper bounds of the latency buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 5.0,
];

#[derive(Default)]
struct Series {
    count: u64,
    sum_seconds: f64,
    buckets: [u64; BUCKETS.len()],
}

/// Route pattern, method, status.
type SeriesKey = (String, String, u16);

/// Each series by its key. One short lock per request; the route is the matched pattern, so
/// the label set stays small whatever ids clients send.
#[derive(Clone, Default)]
pub struct Metrics {
    series: Arc<Mutex<BTreeMap<SeriesKey, Series>>>,
    /// The requests being answered, which the notification workers give way to.
    load: Load,
}

impl Metrics {
    pub fn load(&self) -> Load {
        self.load.clone()
    }

    fn record(&self, route: String, method: String, status: u16, seconds: f64) {
        let Ok(mut series) = self.series.lock() else {
            return;
        };
        let entry = series.entry((route, method, status)).or_default();
        entry.count += 1;
        entry.sum_seconds += seconds;
        for (bucket, bound) in entry.buckets.iter_mut().zip(BUCKETS) {
            if seconds <= bound {
                *bucket += 1;
            }
        }
    }

    fn render_requests(&self, out: &mut String) {
        let Ok(series) = self.series.lock() else {
            return;
        };
        let _ = writeln!(
            out,
            "# HELP supportdesk_http_requests_in_flight Requests being answered (this one \
             too, when /metrics shares the API's listener); from {} on, notifications give \
             way to them.",
            crate::services::pace::BUSY_IN_FLIGHT
        );
        out.push_str("# TYPE supportdesk_http_requests_in_flight gauge\n");
        let _ = writeln!(
            out,
            "supportdesk_http_requests_in_flight {}",
            self.load.in_flight()
        );
        out.push_str(
            "# HELP supportdesk_http_requests_total Requests answered, by route and status.\n",
        );
        out.push_str("# TYPE supportdesk_http_requests_total counter\n");
        for ((route, method, status), s) in series.iter() {
            let _ = writeln!(
                out,
                "supportdesk_http_requests_total{{route=\"{route}\",method=\"{method}\",status=\"{status}\"}} {}",
                s.count
            );
        }
        out.push_str("# HELP supportdesk_http_request_duration_seconds Time to answer, by route and status.\n");
        out.push_str("# TYPE supportdesk_http_request_duration_seconds histogram\n");
        for ((route, method, status), s) in series.iter() {
            let labels = format!("route=\"{route}\",method=\"{method}\",status=\"{status}\"");
            for (count, bound) in s.buckets.iter().zip(BUCKETS) {
                let _ = writeln!(
                    out,
                    "supportdesk_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {count}"
                );
            }
            let _ = writeln!(
                out,
                "supportdesk_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}",
                s.count
            );
            let _ = writeln!(
                out,
                "supportdesk_http_request_duration_seconds_sum{{{labels}}} {}",
                s.sum_seconds
            );
            let _ = writeln!(
                out,
                "supportdesk_http_request_duration_seconds_count{{{labels}}} {}",
                s.count
            );
        }
    }
}

/// Records every request's route, status and latency.
pub async fn track(State(metrics): State<Metrics>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let _in_flight = metrics.load.enter();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map_or_else(|| "unmatched".to_owned(), |p| p.as_str().to_owned());
    let method = req.method().to_string();
    let response = next.run(req).await;
    metrics.record(
        route,
        method,
        response.status().as_u16(),
        started.elapsed().as_secs_f64(),
    );
    response
}

/// `GET /metrics`.
pub async fn render(State(state): State<AppState>) -> Result<Response, ApiError> {
    let mut out = String::with_capacity(4096);
    state.metrics.render_requests(&mut out);
    let pool = state.db.pool();
    let size = pool.size();
    let idle = u32::try_from(pool.num_idle()).unwrap_or(u32::MAX);
    out.push_str("# HELP supportdesk_db_pool_connections Database connections, by state.\n");
    out.push_str("# TYPE supportdesk_db_pool_connections gauge\n");
    let _ = writeln!(
        out,
        "supportdesk_db_pool_connections{{state=\"idle\"}} {idle}"
    );
    let _ = writeln!(
        out,
        "supportdesk_db_pool_connections{{state=\"in_use\"}} {}",
        size.saturating_sub(idle)
    );
    if let Some((kept, commits)) = state.db.write_totals() {
        // Their ratio is the mean group-commit batch (see `store::lite`).
        out.push_str("# HELP supportdesk_sqlite_write_transactions_total Write transactions committed on SQLite.\n");
        out.push_str("# TYPE supportdesk_sqlite_write_transactions_total counter\n");
        let _ = writeln!(out, "supportdesk_sqlite_write_transactions_total {kept}");
        out.push_str(
            "# HELP supportdesk_sqlite_commits_total Commits (fsyncs) that made them durable.\n",
        );
        out.push_str("# TYPE supportdesk_sqlite_commits_total counter\n");
        let _ = writeln!(out, "supportdesk_sqlite_commits_total {commits}");
    }

    if let Some(redis) = &state.redis {
        out.push_str("# HELP supportdesk_redis_up Whether Redis answered the last shared count (0: limits counted per process, sign-in throttle in the database).\n");
        out.push_str("# TYPE supportdesk_redis_up gauge\n");
        let _ = writeln!(out, "supportdesk_redis_up {}", u8::from(redis.is_up()));
        out.push_str("# HELP supportdesk_redis_fallbacks_total Counts that fell back because Redis was away.\n");
        out.push_str("# TYPE supportdesk_redis_fallbacks_total counter\n");
        let _ = writeln!(
            out,
            "supportdesk_redis_fallbacks_total {}",
            redis.fallbacks()
        );
    }

    // PostgreSQL's SUM of BIGINT is NUMERIC, which the Any driver cannot read: cast back.
    let bytes: i64 =
        sqlx::query("SELECT CAST(COALESCE(SUM(size), 0) AS BIGINT) AS n FROM attachments")
            .fetch_one(pool)
            .await
            .map_err(crate::store::StoreError::from)?
            .try_get("n")
            .map_err(crate::store::StoreError::from)?;
    out.push_str("# HELP supportdesk_attachment_bytes_stored Bytes of all stored attachments.\n");
    out.push_str("# TYPE supportdesk_attachment_bytes_stored gauge\n");
    let _ = writeln!(out, "supportdesk_attachment_bytes_stored {bytes}");

    let rows = sqlx::query("SELECT status, COUNT(*) AS n FROM tickets GROUP BY status")
        .fetch_all(pool)
        .await
        .map_err(crate::store::StoreError::from)?;
    out.push_str(
        "# HELP supportdesk_tickets Tickets, by status (1 Open, 2 Processing, 3 Closed).\n",
    );
    out.push_str("# TYPE supportdesk_tickets gauge\n");
    for row in rows {
        let status: i64 = row
            .try_get("status")
            .map_err(crate::store::StoreError::from)?;
        let count: i64 = row.try_get("n").map_err(crate::store::StoreError::from)?;
        let _ = writeln!(out, "supportdesk_tickets{{status=\"{status}\"}} {count}");
    }
    let outbox = crate::store::outbox::stats(&state.db).await?;
    out.push_str("# HELP supportdesk_outbox_rows Notification outbox rows, by state.\n");
    out.push_str("# TYPE supportdesk_outbox_rows gauge\n");
    let _ = writeln!(
        out,
        "supportdesk_outbox_rows{{state=\"pending\"}} {}",
        outbox.pending
    );
    let _ = writeln!(
        out,
        "supportdesk_outbox_rows{{state=\"delivered\"}} {}",
        outbox.delivered
    );
    out.push_str("# HELP supportdesk_outbox_retries Outbox attempts beyond the first.\n");
    out.push_str("# TYPE supportdesk_outbox_retries gauge\n");
    let _ = writeln!(out, "supportdesk_outbox_retries {}", outbox.retries);
    let age = outbox.oldest_pending.map_or(0.0, |at| {
        (crate::store::now_micros() - at).max(0) as f64 / 1e6
    });
    out.push_str(
        "# HELP supportdesk_outbox_oldest_pending_seconds Age of the oldest pending row.\n",
    );
    out.push_str("# TYPE supportdesk_outbox_oldest_pending_seconds gauge\n");
    let _ = writeln!(out, "supportdesk_outbox_oldest_pending_seconds {age}");
    // One entry per notification channel (email only when configured); the lines of each
    // metric stay together.
    let mut channels = Vec::new();
    if state.mail.is_some() {
        let mail = crate::store::mail::stats(&state.db).await?;
        channels.push((
            "email",
            ChannelStats {
                pending: mail.pending,
                delivered: mail.delivered,
                failed: mail.failed,
                retries: mail.retries,
                oldest_pending: mail.oldest_pending,
            },
        ));
    }
    let webhooks = crate::store::webhook_deliveries::stats(&state.db).await?;
    channels.push((
        "webhook",
        ChannelStats {
            pending: webhooks.pending,
            delivered: webhooks.delivered,
            failed: webhooks.failed,
            retries: webhooks.retries,
            oldest_pending: webhooks.oldest_pending,
        },
    ));
    notify_lines(&mut out, &channels);
    let mut response = out.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/plain; version=0.0.4; charset=utf-8"),
    );
    Ok(response)
}

/// One notification channel's deliveries, for [`notify_lines`].
struct ChannelStats {
    pending: i64,
    delivered: i64,
    failed: i64,
    retries: i64,
    /// When the oldest pending delivery was created (microseconds).
    oldest_pending: Option<i64>,
}

/// The `supportdesk_notify_*` lines of each channel (`webhook`, `email`).
fn notify_lines(out: &mut String, channels: &[(&str, ChannelStats)]) {
    out.push_str(
        "# HELP supportdesk_notify_deliveries Notification deliveries, by channel and state.\n",
    );
    out.push_str("# TYPE supportdesk_notify_deliveries gauge\n");
    for (channel, stats) in channels {
        for (state, n) in [
            ("pending", stats.pending),
            ("delivered", stats.delivered),
            ("failed", stats.failed),
        ] {
            let _ = writeln!(
                out,
                "supportdesk_notify_deliveries{{channel=\"{channel}\",state=\"{state}\"}} {n}"
            );
        }
    }
    out.push_str(
        "# HELP supportdesk_notify_retries Delivery attempts beyond the first, by channel.\n",
    );
    out.push_str("# TYPE supportdesk_notify_retries gauge\n");
    for (channel, stats) in channels {
        let _ = writeln!(
            out,
            "supportdesk_notify_retries{{channel=\"{channel}\"}} {}",
            stats.retries
        );
    }
    out.push_str("# HELP supportdesk_notify_oldest_pending_seconds Age of the oldest pending delivery, by channel.\n");
    out.push_str("# TYPE supportdesk_notify_oldest_pending_seconds gauge\n");
    for (channel, stats) in channels {
        let age = stats.oldest_pending.map_or(0.0, |at| {
            (crate::store::now_micros() - at).max(0) as f64 / 1e6
        });
        let _ = writeln!(
            out,
            "supportdesk_notify_oldest_pending_seconds{{channel=\"{channel}\"}} {age}"
        );
    }
}
