//! The deployment as it runs: Debian's nginx (deploy/nginx.conf) in front of two `serve`
//! processes configured by deploy/supportdesk.env, on PostgreSQL, S3 (`s3s-fs`) and Redis.

use std::time::{Duration, Instant};

use futures_util::future::join_all;
use reqwest::Method;
use reqwest::multipart::{Form, Part};

use crate::helpers::{Backend, TestApp, TestResult, postgres_ready, send};
use crate::infra::{
    Nginx, REDIS_URL, S3Server, deployment_settings, redis_cleanup, redis_prefix, tool_ready,
};

#[tokio::test]
async fn two_processes_behind_nginx_share_files_limits_and_revocations_and_stop_cleanly()
-> TestResult {
    for tool in ["nginx", "s3s-fs", "wrk"] {
        if !tool_ready(tool)? {
            return Ok(());
        }
    }
    if !postgres_ready().await? {
        return Ok(());
    }
    let s3 = S3Server::start()?;
    let prefix = redis_prefix("deploy");
    let mut settings = deployment_settings()?;
    settings.extend(s3.settings("deploy"));
    settings.push(("SUPPORTDESK_REDIS_URL".to_owned(), REDIS_URL.to_owned()));
    settings.push(("SUPPORTDESK_REDIS_PREFIX".to_owned(), prefix.clone()));
    let limit: usize = settings
        .iter()
        .find(|(k, _)| k == "SUPPORTDESK_RATE_LIMIT_PER_KEY")
        .and_then(|(_, v)| v.parse().ok())
        .ok_or("deploy/supportdesk.env sets no per-key rate limit")?;
    let pairs: Vec<(&str, &str)> = settings
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    let mut first = TestApp::spawn_process_with(Backend::Postgres, &pairs).await?;
    let second = first.sibling()?;
    let nginx = Nginx::start([
        first.origin.trim_start_matches("http://"),
        second.origin.trim_start_matches("http://"),
    ])?;
    let client = first.client.clone();
    let through = |method: Method, path: &str, key: &str| {
        client
            .request(method, format!("{}{path}", nginx.origin))
            .header("apikey", key)
    };
    let alice = first.customer("alice@example.com")?;
    let category = first.category("Files")?;

    // An attachment uploaded through the balancer is served by either process.
    let bytes: Vec<u8> = (0..500_000u32).map(|i| (i % 251) as u8).collect();
    let form = Form::new()
        .text("subject", "receipt")
        .text("priority", "1")
        .text("comment", "attached")
        .text("category", category.to_string())
        .part("attachment", Part::bytes(bytes.clone()).file_name("r.bin"));
    let created = send(
        through(
            Method::POST,
            "/api/v1/support/create/ticket/",
            &first.apikey,
        )
        .bearer_auth(&alice.token)
        .multipart(form),
    )
    .await?;
    let ticket = created.assert_ok()["ticket"]["id"]
        .as_i64()
        .ok_or("no id")?;
    let detail = send(first.get(
        &format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}"),
        &alice,
    ))
    .await?;
    let attachment = detail.assert_ok()["attachments"][0]["id"]
        .as_i64()
        .ok_or("no file")?;
    for server in [&first, &second] {
        let download = send(server.get(
            &format!("/api/v1/support/ticket/download/{attachment}/"),
            &alice,
        ))
        .await?;
        assert_eq!(download.status, 200, "{}", download.body);
        assert_eq!(download.bytes, bytes);
    }

    // A rate limit is shared by both: twice the limit at once through the balancer (which
    // spreads them over both), within one second of Redis's clock, lets the limit through.
    let burst_key = first.cli_ok(&["apikey", "create", "--name", "burst"])?;
    let mut outcome = None;
    for _ in 0..5 {
        let requests = (0..2 * limit).map(|_| {
            send(through(
                Method::GET,
                "/api/v1/support/get/category-list/",
                &burst_key,
            ))
        });
        let answers = join_all(requests).await;
        let mut statuses = Vec::new();
        for answer in answers {
            statuses.push(answer?.status.as_u16());
        }
        let ok = statuses.iter().filter(|s| **s == 200).count();
        if ok > limit {
            // Straddled two seconds (or Redis was too slow and each process counted alone):
            // retry in a fresh one. Exactly the limit is only ever let through when both
            // processes count together.
            tokio::time::sleep(Duration::from_secs(1)).await;
            continue;
        }
        outcome = Some(statuses);
        break;
    }
    let statuses = outcome.ok_or("no burst fell within one window")?;
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        limit,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 429).count(),
        limit,
        "{statuses:?}"
    );

    // A key revoked through one process is refused by the other within 100 ms.
    let doomed = first.cli_ok(&["apikey", "create", "--name", "doomed"])?;
    let doomed_id = first.apikey_id("doomed")?;
    let on_second = || {
        second
            .client
            .get(second.url("/api/v1/support/get/category-list/"))
            .header("apikey", &doomed)
    };
    assert_eq!(send(on_second()).await?.status, 200);
    let admin = first.person("root@example.com", "admin")?;
    send(first.post(
        &format!("/api/v1/admin/apikeys/{doomed_id}/revoke/"),
        &admin,
    ))
    .await?
    .assert_ok();
    let revoked_at = Instant::now();
    loop {
        let status = send(on_second()).await?.status;
        if status == 401 {
            break;
        }
        assert!(
            revoked_at.elapsed() < Duration::from_millis(100),
            "the other process still accepted the revoked key after {:?}",
            revoked_at.elapsed()
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let propagation = revoked_at.elapsed();
    assert!(propagation < Duration::from_millis(100), "{propagation:?}");

    // SIGTERM one process under load: /readyz fails at once, nothing fails through nginx
    // (requests reaching a closed listener go to the other process), and it exits 0.
    let wrk = std::process::Command::new("wrk")
        .args(["-t1", "-c8", "-d3s", "--timeout", "5s"])
        .arg(format!("{}/healthz", nginx.origin))
        .output();
    let load = tokio::task::spawn_blocking(move || wrk);
    tokio::time::sleep(Duration::from_millis(800)).await;
    first.terminate()?;
    let ready = crate::helpers::eventually(
        || first.client.get(first.url("/readyz")),
        |a| a.status == 503,
    )
    .await?;
    assert_eq!(ready.status, 503);
    assert_eq!(ready.body["status_code"], 503);
    let exit = first.wait_for_exit(Duration::from_secs(40))?;
    assert!(exit.success(), "exit status {exit:?}");
    let out = load.await??;
    let report = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{report}");
    assert!(!report.contains("Non-2xx"), "{report}");
    assert!(!report.contains("Socket errors"), "{report}");
    let requests: u64 = report
        .lines()
        .find_map(|l| l.trim().split_once(" requests in "))
        .and_then(|(n, _)| n.trim().parse().ok())
        .ok_or_else(|| format!("no request count in {report}"))?;
    assert!(requests > 100, "{report}");
    // The balancer served on, from the other process.
    assert_eq!(
        send(through(Method::GET, "/readyz", &second.apikey))
            .await?
            .status,
        200
    );
    let _ = nginx.error_log();
    redis_cleanup(&prefix).await
}
