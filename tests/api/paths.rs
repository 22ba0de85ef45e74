//! Contract section 1: canonical and sample-code paths, trailing slashes, invisible characters,
//! 404 and 405 in the envelope; the operational routes.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, TestApp, TestResult, send};

async fn every_endpoint_answers_at_its_canonical_and_sample_paths_with_and_without_slash(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Printer").await?;

    let gets = [
        "support/get/category-list",
        "get/support-ticket/catogory-list",
        "support/get/ticket/history",
        "get/ticket/history",
        "support/get/ticket/tags",
        "get/ticket/tags",
    ];
    for path in gets {
        for slash in ["", "/"] {
            let answer = send(app.get(&format!("/api/v1/{path}{slash}"), &alice)).await?;
            answer.assert_ok();
        }
    }
    let detail = format!("/api/v1/support/ticket/detailed-view/?ticket_id={ticket}");
    send(app.get(&detail, &alice)).await?.assert_ok();
    let detail = format!("/api/v1/support/ticket/detailed-view?ticket_id={ticket}");
    send(app.get(&detail, &alice)).await?.assert_ok();

    for path in ["support/create/ticket", "creat/support/ticket"] {
        for slash in ["", "/"] {
            let answer = send(app.post(&format!("/api/v1/{path}{slash}"), &alice).form(&[
                ("subject", "s"),
                ("priority", "1"),
                ("comment", "c"),
                ("category", &category.to_string()),
            ]))
            .await?;
            answer.assert_ok();
            // Close it again so the open-ticket limit stays out of the way.
            let id = answer.body["data"]["ticket"]["id"].to_string();
            send(
                app.post("/api/v1/support/ticket/status", &alice)
                    .form(&[("ticket", id.as_str()), ("status", "3")]),
            )
            .await?
            .assert_ok();
        }
    }
    let tag = app.tag("Urgent")?;
    for path in ["support/update/ticket", "update/support/ticket"] {
        for slash in ["", "/"] {
            let answer = send(
                app.post(&format!("/api/v1/{path}{slash}"), &alice)
                    .form(&[("ticket_id", ticket.to_string()), ("tags", tag.to_string())]),
            )
            .await?;
            answer.assert_ok();
        }
    }
    for slash in ["", "/"] {
        let answer = send(
            app.post(
                &format!("/api/v1/support/ticket/conversation{slash}"),
                &alice,
            )
            .form(&[
                ("ticket", ticket.to_string()),
                ("comment", "more".to_owned()),
            ]),
        )
        .await?;
        answer.assert_ok();
    }
    Ok(())
}

async fn the_status_path_works_with_the_invisible_mark_pasted_from_the_document(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    let ticket = app.ticket(&alice, category, "Printer").await?.to_string();

    // U+200E percent-encoded, the same mis-decoded as the document shows it, and a BOM.
    let paths = [
        "/api/v1/%E2%80%8Esupport/ticket/status/",
        "/api/v1/%CE%B2%E2%82%AC%C5%BDsupport/ticket/status/",
        "/api/v1/%EF%BB%BFsupport/ticket/status",
    ];
    let answer = send(
        app.post(paths[0], &alice)
            .form(&[("ticket", ticket.as_str()), ("status", "3")]),
    )
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["status"], "3");
    let answer = send(
        app.post(paths[1], &alice)
            .form(&[("ticket", ticket.as_str()), ("status", "2")]),
    )
    .await?;
    assert_eq!(answer.assert_ok()["ticket"]["status"], "2");
    let answer = send(
        app.post(paths[2], &alice)
            .form(&[("ticket", ticket.as_str()), ("status", "2")]),
    )
    .await?;
    answer.assert_errors(400, json!({"ticket": ["Ticket is already processing."]}));
    Ok(())
}

async fn unknown_paths_and_wrong_methods_answer_in_the_envelope(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let alice = app.customer("alice@example.com")?;

    let answer = send(app.get("/api/v1/support/nothing-here/", &alice)).await?;
    answer.assert_errors(404, json!({"detail": ["Not found."]}));
    assert_eq!(answer.headers["content-type"], "application/json");
    let answer = send(app.client.get(app.url("/elsewhere"))).await?;
    answer.assert_errors(404, json!({"detail": ["Not found."]}));

    // 405 comes before any credential check.
    let answer = send(app.client.get(app.url("/api/v1/support/create/ticket/"))).await?;
    answer.assert_errors(405, json!({"detail": ["Method \"GET\" not allowed."]}));
    let answer =
        send(app.request(Method::DELETE, "/api/v1/support/get/category-list/", None)).await?;
    answer.assert_errors(405, json!({"detail": ["Method \"DELETE\" not allowed."]}));
    let answer = send(app.request(Method::PUT, "/api/v1/get/ticket/history", Some(&alice))).await?;
    answer.assert_errors(405, json!({"detail": ["Method \"PUT\" not allowed."]}));
    Ok(())
}

async fn health_and_readiness_need_no_credentials_and_every_answer_has_a_request_id(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    for path in ["/healthz", "/readyz", "/healthz/"] {
        let answer = send(app.client.get(app.url(path))).await?;
        answer.assert_ok();
        assert!(answer.headers.contains_key("x-request-id"));
    }
    let answer = send(
        app.client
            .get(app.url("/api/v1/support/get/category-list/")),
    )
    .await?;
    assert!(answer.headers.contains_key("x-request-id"));
    Ok(())
}

async fn the_prefix_and_version_are_configurable(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_API_PREFIX", "desk"),
            ("SUPPORTDESK_API_VERSION", "v2"),
        ],
    )
    .await?;
    let alice = app.customer("alice@example.com")?;
    send(app.get("/desk/v2/support/get/category-list/", &alice))
        .await?
        .assert_ok();
    let answer = send(app.get("/api/v1/support/get/category-list/", &alice)).await?;
    answer.assert_errors(404, json!({"detail": ["Not found."]}));
    Ok(())
}

on_both_backends!(
    every_endpoint_answers_at_its_canonical_and_sample_paths_with_and_without_slash,
    the_status_path_works_with_the_invisible_mark_pasted_from_the_document,
    unknown_paths_and_wrong_methods_answer_in_the_envelope,
    health_and_readiness_need_no_credentials_and_every_answer_has_a_request_id,
    the_prefix_and_version_are_configurable,
);
