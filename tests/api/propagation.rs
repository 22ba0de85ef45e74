//! Servers answer live credentials and the category and tag lists from memory. A change made
//! through a server is seen by it at once; a change made by another process (a second server,
//! the CLI) reaches it within its refresh interval; with the interval at 0 nothing is
//! remembered.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Answer, Backend, Person, TestApp, TestResult, eventually, send};

const CATEGORIES: &str = "/api/v1/support/get/category-list/";
const TAGS: &str = "/api/v1/support/get/ticket/tags/";
const HISTORY: &str = "/api/v1/support/get/ticket/history/";
const QUEUE: &str = "/api/v1/agent/tickets/";

async fn a_sign_out_through_another_server_reaches_this_one(backend: Backend) -> TestResult {
    let first = TestApp::spawn(backend).await?;
    let second = first.sibling()?;
    let alice = first.customer("alice@example.com")?;
    // Both servers have seen (and remembered) the token.
    send(first.get(HISTORY, &alice)).await?.assert_ok();
    send(second.get(HISTORY, &alice)).await?.assert_ok();

    let signed_out = send(second.post("/api/v1/auth/revoke/", &alice)).await?;
    signed_out.assert_ok();
    // The server that signed her out refuses the token at once...
    send(second.get(HISTORY, &alice)).await?.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    // ...and the other one within its refresh interval.
    let answer = eventually(|| first.get(HISTORY, &alice), |a| a.status == 401).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn a_person_deactivated_through_another_server_is_refused_here(
    backend: Backend,
) -> TestResult {
    let first = TestApp::spawn(backend).await?;
    let second = first.sibling()?;
    let admin = first.person("root@example.com", "admin")?;
    let bob = first.customer("bob@example.com")?;
    send(first.get(HISTORY, &bob)).await?.assert_ok();

    let path = format!("/api/v1/admin/users/{}/", bob.id);
    send(second.post(&path, &admin).form(&[("active", "false")]))
        .await?
        .assert_ok();
    let answer = eventually(|| first.get(HISTORY, &bob), |a| a.status == 401).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn a_category_changed_elsewhere_leaves_the_list_and_one_changed_here_at_once(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("root@example.com", "admin")?;
    let billing = app.category("Billing")?;
    let shipping = app.category("Shipping")?;
    let list = || app.request(Method::GET, CATEGORIES, None);
    let ids = |answer: &crate::helpers::Answer| -> Vec<i64> {
        answer.body["data"]["CategoryList"]
            .as_array()
            .map(|l| l.iter().filter_map(|c| c["id"].as_i64()).collect())
            .unwrap_or_default()
    };
    assert_eq!(ids(&send(list()).await?), vec![billing, shipping]);

    // The CLI is another process.
    app.cli_ok(&["category", "deactivate", &billing.to_string()])?;
    let answer = eventually(list, |a| ids(a) == vec![shipping]).await?;
    assert_eq!(ids(&answer), vec![shipping]);

    // Through the server itself: the very next list shows it.
    let path = format!("/api/v1/admin/categories/{shipping}/");
    send(
        app.post(&path, &admin)
            .form(&[("category", "Shipping & returns")]),
    )
    .await?
    .assert_ok();
    let answer = send(list()).await?;
    assert_eq!(
        answer.assert_ok()["CategoryList"][0]["category"],
        "Shipping & returns"
    );
    Ok(())
}

async fn with_memory_off_a_revocation_elsewhere_is_seen_at_once(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_CACHE_REFRESH_MS", "0")]).await?;
    let key = app.cli_ok(&["apikey", "create", "--name", "kiosk"])?;
    let with_key = || app.client.get(app.url(CATEGORIES)).header("apikey", &key);
    send(with_key()).await?.assert_ok();
    let id = app.apikey_id("kiosk")?;
    app.cli_ok(&["apikey", "revoke", &id])?;
    send(with_key())
        .await?
        .assert_errors(401, json!({"apikey": ["Invalid API key."]}));
    Ok(())
}

/// Waits until `first` answers `path` for `who` with `status`, and asserts it did.
async fn until_status(first: &TestApp, path: &str, who: &Person, status: u16) -> TestResult {
    let answer = eventually(|| first.get(path, who), |a| a.status == status).await?;
    assert_eq!(answer.status.as_u16(), status, "{path}: {}", answer.body);
    Ok(())
}

/// Every write that changes credentials or people, made by another process (a second server,
/// the CLI), reaches a server that remembered the old state: key revocations, role changes,
/// deactivation, password resets, a replayed refresh token (sign-out: above).
async fn every_credentials_change_elsewhere_reaches_this_server(backend: Backend) -> TestResult {
    let first = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_JWT_HS256_SECRET", HS_SECRET),
            ("SUPPORTDESK_JWT_ROLE_CLAIM", "desk_role"),
        ],
    )
    .await?;
    let second = first.sibling()?;
    let admin = first.person("root@example.com", "admin")?;

    // API keys, revoked through the other server and through the CLI.
    let kiosk = first.cli_ok(&["apikey", "create", "--name", "kiosk"])?;
    let lobby = first.cli_ok(&["apikey", "create", "--name", "lobby"])?;
    let with_key = |key: &str| {
        first
            .client
            .get(first.url(CATEGORIES))
            .header("apikey", key)
    };
    send(with_key(&kiosk)).await?.assert_ok();
    send(with_key(&lobby)).await?.assert_ok();
    let kiosk_id = first.apikey_id("kiosk")?;
    send(second.post(&format!("/api/v1/admin/apikeys/{kiosk_id}/revoke/"), &admin))
        .await?
        .assert_ok();
    let answer = eventually(|| with_key(&kiosk), |a| a.status == 401).await?;
    answer.assert_errors(401, json!({"apikey": ["Invalid API key."]}));
    first.cli_ok(&["apikey", "revoke", &first.apikey_id("lobby")?])?;
    let answer = eventually(|| with_key(&lobby), |a| a.status == 401).await?;
    answer.assert_errors(401, json!({"apikey": ["Invalid API key."]}));

    // Roles, changed through the other server and through the CLI (a role change ends the
    // person's sessions, so the remembered token is refused).
    let ann = first.person("ann@example.com", "agent")?;
    let ben = first.person("ben@example.com", "agent")?;
    send(first.get(QUEUE, &ann)).await?.assert_ok();
    send(first.get(QUEUE, &ben)).await?.assert_ok();
    send(
        second
            .post(&format!("/api/v1/admin/users/{}/", ann.id), &admin)
            .form(&[("role", "customer")]),
    )
    .await?
    .assert_ok();
    until_status(&first, QUEUE, &ann, 401).await?;
    first.cli_ok(&["user", "update", &ben.id.to_string(), "--role", "customer"])?;
    until_status(&first, QUEUE, &ben, 401).await?;

    // Deactivation through the CLI (through a server: the test above).
    let carl = first.customer("carl@example.com")?;
    send(first.get(HISTORY, &carl)).await?.assert_ok();
    first.cli_ok(&["user", "update", &carl.id.to_string(), "--active", "false"])?;
    until_status(&first, HISTORY, &carl, 401).await?;

    // Password resets, through the other server and through the CLI: old sessions end.
    let dora = first.customer("dora@example.com")?;
    let emil = first.customer("emil@example.com")?;
    send(first.get(HISTORY, &dora)).await?.assert_ok();
    send(first.get(HISTORY, &emil)).await?.assert_ok();
    send(
        second
            .post(&format!("/api/v1/admin/users/{}/", dora.id), &admin)
            .form(&[("password", "a brand new passphrase")]),
    )
    .await?
    .assert_ok();
    until_status(&first, HISTORY, &dora, 401).await?;
    first.cli_ok(&[
        "user",
        "update",
        &emil.id.to_string(),
        "--password",
        "another new passphrase",
    ])?;
    until_status(&first, HISTORY, &emil, 401).await?;

    // A refresh token replayed at the other server ends its family here too.
    let fay = first.customer("fay@example.com")?;
    let session = |answer: &Answer| -> (String, String) {
        let data = &answer.body["data"];
        let text = |name: &str| data[name].as_str().unwrap_or_default().to_owned();
        (text("access_token"), text("refresh_token"))
    };
    let signed_in = send(
        first
            .request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", fay.email.as_str()), ("password", "secret-pw")]),
    )
    .await?;
    let (_, refresh) = session(&signed_in);
    let refresh_at_second = || {
        second
            .request(Method::POST, "/api/v1/auth/refresh/", None)
            .form(&[("refresh_token", refresh.as_str())])
    };
    let renewed = send(refresh_at_second()).await?;
    renewed.assert_ok();
    let fay = Person {
        token: session(&renewed).0,
        ..fay
    };
    send(first.get(HISTORY, &fay)).await?.assert_ok();
    assert_eq!(send(refresh_at_second()).await?.status, 401);
    until_status(&first, HISTORY, &fay, 401).await?;

    // A host platform's token names a new role for a person, at the other server: the role
    // change ends the sessions this server remembered.
    let gus = first.customer("gus@example.com")?;
    send(first.get(HISTORY, &gus)).await?.assert_ok();
    let host = host_token("host-gus", "gus@example.com", "agent")?;
    // The first sight links the identity; the next applies the role claim.
    for _ in 0..2 {
        send(second.get(HISTORY, &host)).await?;
    }
    send(second.get(QUEUE, &host)).await?.assert_ok();
    until_status(&first, HISTORY, &gus, 401).await?;
    Ok(())
}

const HS_SECRET: &str = "host-platform-shared-secret-for-tests";

/// A host platform's HS256 token for `sub`/`email` with `desk_role`.
fn host_token(sub: &str, email: &str, role: &str) -> TestResult<Person> {
    use jsonwebtoken::{Algorithm, EncodingKey, Header};
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)?
        .as_secs();
    let claims = json!({"sub": sub, "email": email, "desk_role": role, "exp": now + 600});
    let key = EncodingKey::from_secret(HS_SECRET.as_bytes());
    Ok(Person {
        id: 0,
        email: email.to_owned(),
        token: jsonwebtoken::encode(&Header::new(Algorithm::HS256), &claims, &key)?,
    })
}

/// Every catalog write, made by another process, reaches a server's remembered lists:
/// creation, renaming, deactivation and reactivation, through a server and through the CLI.
async fn every_catalog_change_elsewhere_reaches_this_server(backend: Backend) -> TestResult {
    let first = TestApp::spawn(backend).await?;
    let second = first.sibling()?;
    let admin = first.person("root@example.com", "admin")?;
    let billing = first.category("Billing")?;
    let urgent = first.tag("Urgent")?;
    let names = |answer: &Answer, list: &str, field: &str| -> Vec<String> {
        answer.body["data"][list]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter_map(|c| c[field].as_str().map(str::to_owned))
                    .collect()
            })
            .unwrap_or_default()
    };
    let categories = || first.request(Method::GET, CATEGORIES, None);
    let tags = || first.request(Method::GET, TAGS, None);
    let category_names = |a: &Answer| names(a, "CategoryList", "category");
    let tag_names = |a: &Answer| names(a, "TicketTagList", "tag");
    // The first server remembers both lists.
    assert_eq!(category_names(&send(categories()).await?), ["Billing"]);
    assert_eq!(tag_names(&send(tags()).await?), ["Urgent"]);

    // A category created, then deactivated, through the other server.
    send(
        second
            .post("/api/v1/admin/categories/", &admin)
            .form(&[("category", "Shipping")]),
    )
    .await?
    .assert_ok();
    let answer = eventually(categories, |a| category_names(a).len() == 2).await?;
    assert_eq!(category_names(&answer), ["Billing", "Shipping"]);
    send(
        second
            .post(&format!("/api/v1/admin/categories/{billing}/"), &admin)
            .form(&[("active", "false")]),
    )
    .await?
    .assert_ok();
    let answer = eventually(categories, |a| category_names(a) == ["Shipping"]).await?;
    assert_eq!(category_names(&answer), ["Shipping"]);
    // Reactivated through the CLI.
    first.cli_ok(&["category", "activate", &billing.to_string()])?;
    let answer = eventually(categories, |a| category_names(a).len() == 2).await?;
    assert_eq!(category_names(&answer), ["Billing", "Shipping"]);

    // A tag created through the CLI, another renamed through the other server.
    first.tag("Refund")?;
    let answer = eventually(tags, |a| tag_names(a).len() == 2).await?;
    assert_eq!(tag_names(&answer), ["Urgent", "Refund"]);
    send(
        second
            .post(&format!("/api/v1/admin/tags/{urgent}/"), &admin)
            .form(&[("tag", "Very urgent")]),
    )
    .await?
    .assert_ok();
    let answer = eventually(tags, |a| tag_names(a).contains(&"Very urgent".to_owned())).await?;
    assert_eq!(tag_names(&answer), ["Very urgent", "Refund"]);
    Ok(())
}

on_both_backends!(
    every_credentials_change_elsewhere_reaches_this_server,
    every_catalog_change_elsewhere_reaches_this_server,
    a_sign_out_through_another_server_reaches_this_one,
    a_person_deactivated_through_another_server_is_refused_here,
    a_category_changed_elsewhere_leaves_the_list_and_one_changed_here_at_once,
    with_memory_off_a_revocation_elsewhere_is_seen_at_once,
);
