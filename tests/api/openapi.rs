//! The OpenAPI description: served, checked in, and true to the routes.

use reqwest::Method;

use crate::helpers::{Backend, TestApp, TestResult, send};

const CHECKED_IN: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/docs/openapi.json");

#[tokio::test]
async fn the_served_description_matches_the_checked_in_copy() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let served = send(app.client.get(app.url("/api/v1/openapi.json"))).await?;
    assert_eq!(served.status, 200);
    assert_eq!(served.headers["content-type"], "application/json");
    let mut pretty = serde_json::to_string_pretty(&served.body)?;
    pretty.push('\n');
    if std::env::var("UPDATE_OPENAPI").is_ok_and(|v| v == "1") {
        std::fs::write(CHECKED_IN, &pretty)?;
    }
    let checked_in = std::fs::read_to_string(CHECKED_IN).unwrap_or_default();
    assert!(
        checked_in == pretty,
        "docs/openapi.json differs from the served description: review the API change and \
         run `UPDATE_OPENAPI=1 cargo test --test api openapi` to update the copy"
    );
    assert_eq!(served.body["openapi"], "3.1.0");
    Ok(())
}

#[tokio::test]
async fn every_documented_operation_is_served_and_refuses_missing_credentials() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let doc = send(app.client.get(app.url("/api/v1/openapi.json")))
        .await?
        .body;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().ok_or("no paths")? {
        for method in item.as_object().ok_or("no item")?.keys() {
            if !["get", "post"].contains(&method.as_str()) {
                continue;
            }
            let method: Method = method.to_uppercase().parse()?;
            let concrete = path.replace("{id}", "1").replace("{attachment_id}", "1");
            let url = if path == "/healthz" || path == "/readyz" {
                app.url(&concrete)
            } else {
                app.url(&format!("/api/v1{concrete}"))
            };
            let answer = send(app.client.request(method.clone(), url)).await?;
            let expected = if path == "/healthz" || path == "/readyz" {
                200
            } else {
                401
            };
            assert_eq!(
                answer.status.as_u16(),
                expected,
                "{method} {path}: {}",
                answer.body
            );
            checked += 1;
        }
    }
    assert!(checked >= 39, "only {checked} operations documented");
    Ok(())
}

#[tokio::test]
async fn the_docs_page_is_served_from_the_binary() -> TestResult {
    let app = TestApp::spawn(Backend::Sqlite).await?;
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    let redirect = client.get(app.url("/api/v1/docs")).send().await?;
    assert_eq!(redirect.status(), 308);
    assert_eq!(redirect.headers()["location"], "/api/v1/docs/");
    let page = client.get(app.url("/api/v1/docs/")).send().await?;
    assert_eq!(page.status(), 200);
    let csp = page.headers()["content-security-policy"]
        .to_str()?
        .to_owned();
    let html = page.text().await?;
    assert!(html.contains("swagger-ui"));
    assert!(!html.contains("https://"), "nothing loads from elsewhere");
    assert!(csp.contains("default-src 'self'"));
    for asset in [
        "swagger-ui.css",
        "swagger-ui-bundle.js",
        "swagger-initializer.js",
    ] {
        let answer = client
            .get(app.url(&format!("/api/v1/docs/{asset}")))
            .send()
            .await?;
        assert_eq!(answer.status(), 200, "{asset}");
    }
    let init = client
        .get(app.url("/api/v1/docs/swagger-initializer.js"))
        .send()
        .await?
        .text()
        .await?;
    assert!(init.contains("/api/v1/openapi.json"));
    Ok(())
}
