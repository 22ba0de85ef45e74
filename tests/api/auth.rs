//! Contract section 2: the two credentials, their check order and messages; sign-in.

use reqwest::Method;
use serde_json::json;

use crate::helpers::{Backend, Person, TestApp, TestResult, eventually, send};

const HISTORY: &str = "/api/v1/support/get/ticket/history/";
const CATEGORIES: &str = "/api/v1/support/get/category-list/";

async fn a_missing_or_unknown_apikey_is_refused_before_the_token_is_looked_at(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let answer = send(app.client.get(app.url(HISTORY))).await?;
    answer.assert_errors(401, json!({"apikey": ["API key is required."]}));
    assert!(!answer.headers.contains_key("www-authenticate"));

    let answer = send(
        app.client
            .get(app.url(HISTORY))
            .header("apikey", "sdk_not-a-key")
            .bearer_auth("garbage"),
    )
    .await?;
    answer.assert_errors(401, json!({"apikey": ["Invalid API key."]}));

    let answer = send(app.client.get(app.url(CATEGORIES)).header("apikey", "")).await?;
    answer.assert_errors(401, json!({"apikey": ["API key is required."]}));
    Ok(())
}

async fn a_revoked_apikey_stops_working(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let key = app.cli_ok(&["apikey", "create", "--name", "mobile"])?;
    let answer = send(app.client.get(app.url(CATEGORIES)).header("apikey", &key)).await?;
    answer.assert_ok();

    let listing = String::from_utf8(app.cli(&["apikey", "list"])?.stdout)?;
    assert!(listing.contains("mobile"));
    assert!(
        !listing.contains(&key),
        "a listing must never show the secret"
    );
    let id = listing
        .lines()
        .find(|l| l.contains("mobile"))
        .and_then(|l| l.split('\t').next())
        .ok_or("no id")?
        .to_owned();
    app.cli_ok(&["apikey", "revoke", &id])?;
    // The CLI is another process: the server learns of it within its refresh interval.
    let answer = eventually(
        || app.client.get(app.url(CATEGORIES)).header("apikey", &key),
        |a| a.status == 401,
    )
    .await?;
    answer.assert_errors(401, json!({"apikey": ["Invalid API key."]}));
    // Revoking twice is an error, said in one line.
    let again = app.cli(&["apikey", "revoke", &id])?;
    assert!(!again.status.success());
    Ok(())
}

async fn tokens_are_required_where_the_contract_says_and_validated_where_optional(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let answer = send(app.request(Method::GET, HISTORY, None)).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Authentication credentials were not provided."]}),
    );
    assert_eq!(answer.headers["www-authenticate"], "Bearer");

    for bad in ["Bearer nope", "Basic dXNlcjpwdw==", "Bearer", "sdt_abc"] {
        let answer = send(
            app.request(Method::GET, HISTORY, None)
                .header("authorization", bad),
        )
        .await?;
        answer.assert_errors(
            401,
            json!({"authorization": ["Invalid or expired access token."]}),
        );
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
    }

    // The two lists work without a token, but a bad one is still refused.
    send(app.request(Method::GET, CATEGORIES, None))
        .await?
        .assert_ok();
    send(app.request(Method::GET, "/api/v1/get/ticket/tags", None))
        .await?
        .assert_ok();
    let answer = send(
        app.request(Method::GET, CATEGORIES, None)
            .bearer_auth("sdt_wrong"),
    )
    .await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn an_expired_token_is_refused(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.cli_ok(&[
        "user",
        "create",
        "--email",
        "eve@example.com",
        "--password",
        "pw",
    ])?;
    let token = app.cli_ok(&[
        "token",
        "create",
        "--email",
        "eve@example.com",
        "--ttl",
        "1",
    ])?;
    let eve = Person {
        id: 0,
        email: "eve@example.com".to_owned(),
        token,
    };
    send(app.get(HISTORY, &eve)).await?.assert_ok();
    // Wait out the one-second lifetime (a deadline, not a race: the token cannot outlive it).
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    let answer = send(app.get(HISTORY, &eve)).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    Ok(())
}

async fn sign_in_gives_a_working_token_and_one_answer_for_every_failure(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    app.cli_ok(&[
        "user",
        "create",
        "--email",
        "Bob@Example.com",
        "--password",
        " pw with spaces ",
    ])?;

    let answer = send(
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[
                ("email", "bob@example.com"),
                ("password", " pw with spaces "),
            ]),
    )
    .await?;
    let data = answer.assert_ok();
    assert_eq!(data["token_type"], "Bearer");
    assert_eq!(data["expires_in"], 86400);
    let bob = Person {
        id: 0,
        email: "bob@example.com".to_owned(),
        token: data["access_token"].as_str().ok_or("no token")?.to_owned(),
    };
    send(app.get(HISTORY, &bob)).await?.assert_ok();

    // JSON works too, and the email is case-insensitive.
    let answer = send(
        app.request(Method::POST, "/api/v1/auth/token", None)
            .json(&json!({"email": "BOB@example.com", "password": " pw with spaces "})),
    )
    .await?;
    answer.assert_ok();

    for (email, password) in [
        ("bob@example.com", "pw with spaces"),
        ("nobody@example.com", " pw with spaces "),
    ] {
        let answer = send(
            app.request(Method::POST, "/api/v1/auth/token/", None)
                .form(&[("email", email), ("password", password)]),
        )
        .await?;
        answer.assert_errors(
            401,
            json!({"detail": ["Unable to log in with provided credentials."]}),
        );
    }

    let answer = send(
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", " ")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"email": ["This field may not be blank."], "password": ["This field is required."]}),
    );

    // Sign-in needs the client's API key.
    let answer = send(app.client.post(app.url("/api/v1/auth/token/")).form(&[
        ("email", "bob@example.com"),
        ("password", " pw with spaces "),
    ]))
    .await?;
    answer.assert_errors(401, json!({"apikey": ["API key is required."]}));
    Ok(())
}

async fn the_first_start_prints_an_administrator_who_can_sign_in(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    assert_eq!(app.admin_email, "admin@localhost");
    let answer = send(
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[
                ("email", app.admin_email.as_str()),
                ("password", app.admin_password.as_str()),
            ]),
    )
    .await?;
    answer.assert_ok();
    Ok(())
}

on_both_backends!(
    a_missing_or_unknown_apikey_is_refused_before_the_token_is_looked_at,
    a_revoked_apikey_stops_working,
    tokens_are_required_where_the_contract_says_and_validated_where_optional,
    an_expired_token_is_refused,
    sign_in_gives_a_working_token_and_one_answer_for_every_failure,
    the_first_start_prints_an_administrator_who_can_sign_in,
);
