//! The administrators' side, and who may use which staff route.

use reqwest::Method;
use serde_json::{Value, json};

use crate::helpers::{Backend, Person, TestApp, TestResult, send};

async fn categories_and_tags_are_created_edited_deactivated_and_reactivated(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let alice = app.customer("alice@example.com")?;

    for (list, name, detail, public_path, public_key) in [
        (
            "categories",
            "category",
            "description",
            "/api/v1/support/get/category-list/",
            "CategoryList",
        ),
        (
            "tags",
            "tag",
            "keyword",
            "/api/v1/support/get/ticket/tags/",
            "TicketTagList",
        ),
    ] {
        let created = send(
            app.post(&format!("/api/v1/admin/{list}/"), &admin)
                .form(&[(name, " Billing "), (detail, "money")]),
        )
        .await?;
        let entry = created.assert_ok()[name].clone();
        assert_eq!(entry[name], "Billing");
        assert_eq!(entry[detail], "money");
        assert_eq!(entry["active"], true);
        let id = entry["id"].as_i64().ok_or("no id")?;

        let edited = send(
            app.post(&format!("/api/v1/admin/{list}/{id}/"), &admin)
                .json(&json!({name: "Payments", detail: ""})),
        )
        .await?;
        assert_eq!(
            edited.assert_ok()[name],
            json!({"id": id, name: "Payments", detail: "", "active": true})
        );
        let public = send(app.get(public_path, &alice)).await?;
        assert_eq!(
            public.assert_ok()[public_key],
            json!([{"id": id, name: "Payments", detail: ""}])
        );

        send(
            app.post(&format!("/api/v1/admin/{list}/{id}/"), &admin)
                .form(&[("active", "false")]),
        )
        .await?
        .assert_ok();
        let public = send(app.get(public_path, &alice)).await?;
        assert_eq!(public.assert_ok()[public_key], json!([]));
        let all = send(app.get(&format!("/api/v1/admin/{list}/"), &admin)).await?;
        assert_eq!(
            all.assert_ok()[list][0]["active"],
            false,
            "admins still see it"
        );

        send(
            app.post(&format!("/api/v1/admin/{list}/{id}/"), &admin)
                .form(&[("active", "true")]),
        )
        .await?
        .assert_ok();
        let public = send(app.get(public_path, &alice)).await?;
        assert_eq!(
            public.assert_ok()[public_key].as_array().map(Vec::len),
            Some(1)
        );

        let answer = send(
            app.post(&format!("/api/v1/admin/{list}/"), &admin)
                .form(&[(detail, "x")]),
        )
        .await?;
        answer.assert_errors(400, json!({name: ["This field is required."]}));
        let answer = send(
            app.post(&format!("/api/v1/admin/{list}/{id}/"), &admin)
                .form(&[("active", "maybe"), (name, " ")]),
        )
        .await?;
        answer.assert_errors(
            400,
            json!({"active": ["Must be a valid boolean."], name: ["This field may not be blank."]}),
        );
        let answer = send(
            app.post(&format!("/api/v1/admin/{list}/9999/"), &admin)
                .form(&[(name, "x")]),
        )
        .await?;
        answer.assert_errors(404, json!({"detail": ["Not found."]}));
    }
    Ok(())
}

async fn people_are_created_promoted_reset_and_deactivated_with_immediate_effect(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;

    let answer = send(app.post("/api/v1/admin/users/", &admin).form(&[
        ("email", "Carol@Example.com"),
        ("password", "first pw"),
        ("role", "agent"),
    ]))
    .await?;
    let user = answer.assert_ok()["user"].clone();
    assert_eq!(user["email"], "carol@example.com");
    assert_eq!(user["role"], "agent");
    let carol_id = user["id"].as_i64().ok_or("no id")?;

    let answer = send(
        app.post("/api/v1/admin/users/", &admin)
            .form(&[("email", "carol@example.com"), ("password", "x")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"email": ["A user with that email already exists."]}),
    );
    let answer = send(app.post("/api/v1/admin/users/", &admin).form(&[
        ("email", "not-an-email"),
        ("password", ""),
        ("role", "owner"),
    ]))
    .await?;
    answer.assert_errors(
        400,
        json!({
            "email": ["Enter a valid email address."],
            "password": ["This field may not be blank."],
            "role": ["\"owner\" is not a valid choice."],
        }),
    );

    // Carol signs in, works, and is cut off the moment she is deactivated.
    let sign_in = |password: &'static str| {
        app.request(Method::POST, "/api/v1/auth/token/", None)
            .form(&[("email", "carol@example.com"), ("password", password)])
    };
    let token = send(sign_in("first pw")).await?.assert_ok()["access_token"]
        .as_str()
        .ok_or("no token")?
        .to_owned();
    let carol = Person {
        id: carol_id,
        email: "carol@example.com".into(),
        token,
    };
    send(app.get("/api/v1/agent/tickets/", &carol))
        .await?
        .assert_ok();

    // Demoted to customer: the queue is closed to her at once, and her session ends (a role
    // change revokes every token of the person).
    send(
        app.post(&format!("/api/v1/admin/users/{carol_id}/"), &admin)
            .form(&[("role", "customer")]),
    )
    .await?
    .assert_ok();
    let answer = send(app.get("/api/v1/agent/tickets/", &carol)).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    let carol = Person {
        token: send(sign_in("first pw")).await?.assert_ok()["access_token"]
            .as_str()
            .ok_or("no token")?
            .to_owned(),
        ..carol
    };
    let answer = send(app.get("/api/v1/agent/tickets/", &carol)).await?;
    answer.assert_errors(
        403,
        json!({"detail": ["You do not have permission to perform this action."]}),
    );

    let answer = send(
        app.post(&format!("/api/v1/admin/users/{carol_id}/"), &admin)
            .form(&[("active", "false")]),
    )
    .await?;
    assert_eq!(answer.assert_ok()["user"]["active"], false);
    let answer = send(app.get("/api/v1/support/get/ticket/history/", &carol)).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    let answer = send(sign_in("first pw")).await?;
    answer.assert_errors(
        401,
        json!({"detail": ["Unable to log in with provided credentials."]}),
    );

    // Reactivated with a new password: the old password and old tokens no longer work.
    send(
        app.post(&format!("/api/v1/admin/users/{carol_id}/"), &admin)
            .form(&[("active", "true"), ("password", "second pw")]),
    )
    .await?
    .assert_ok();
    let answer = send(app.get("/api/v1/support/get/ticket/history/", &carol)).await?;
    answer.assert_errors(
        401,
        json!({"authorization": ["Invalid or expired access token."]}),
    );
    send(sign_in("first pw")).await?.assert_errors(
        401,
        json!({"detail": ["Unable to log in with provided credentials."]}),
    );
    send(sign_in("second pw")).await?.assert_ok();

    let answer = send(
        app.post(&format!("/api/v1/admin/users/{}/", admin.id), &admin)
            .form(&[("active", "false")]),
    )
    .await?;
    answer.assert_errors(
        400,
        json!({"detail": ["You cannot deactivate or demote yourself."]}),
    );
    let listing = send(app.get("/api/v1/admin/users/", &admin)).await?;
    let emails: Vec<Value> = listing.assert_ok()["users"]
        .as_array()
        .ok_or("no list")?
        .iter()
        .map(|u| u["email"].clone())
        .collect();
    assert!(emails.contains(&json!("carol@example.com")));
    assert!(
        !String::from_utf8_lossy(&listing.bytes).contains("argon2"),
        "no password hashes"
    );
    Ok(())
}

async fn api_keys_are_shown_once_listed_without_secret_and_revoked(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let answer = send(
        app.post("/api/v1/admin/apikeys/", &admin)
            .form(&[("name", "ios app")]),
    )
    .await?;
    let data = answer.assert_ok().clone();
    let key = data["apikey"].as_str().ok_or("no key")?.to_owned();
    let id = data["id"].as_i64().ok_or("no id")?;
    let works = send(
        app.client
            .get(app.url("/api/v1/support/get/category-list/"))
            .header("apikey", &key),
    )
    .await?;
    works.assert_ok();

    let listing = send(app.get("/api/v1/admin/apikeys/", &admin)).await?;
    assert!(!String::from_utf8_lossy(&listing.bytes).contains(&key));
    let entry = listing.assert_ok()["apikeys"]
        .as_array()
        .and_then(|l| l.iter().find(|k| k["id"] == id).cloned())
        .ok_or("not listed")?;
    assert_eq!(entry["name"], "ios app");
    assert!(key.starts_with(entry["prefix"].as_str().ok_or("no prefix")?));
    assert_eq!(entry["revoked_at"], json!(null));

    send(app.post(&format!("/api/v1/admin/apikeys/{id}/revoke/"), &admin))
        .await?
        .assert_ok();
    let refused = send(
        app.client
            .get(app.url("/api/v1/support/get/category-list/"))
            .header("apikey", &key),
    )
    .await?;
    refused.assert_errors(401, json!({"apikey": ["Invalid API key."]}));
    let again = send(app.post(&format!("/api/v1/admin/apikeys/{id}/revoke/"), &admin)).await?;
    again.assert_errors(404, json!({"detail": ["Not found."]}));
    Ok(())
}

async fn the_open_ticket_limit_changes_without_a_restart(backend: Backend) -> TestResult {
    let app = TestApp::spawn_with(backend, &[("SUPPORTDESK_OPEN_TICKET_LIMIT", "1")]).await?;
    let admin = app.person("boss@example.com", "admin")?;
    let alice = app.customer("alice@example.com")?;
    let category = app.category("Billing")?;
    app.ticket(&alice, category, "one").await?;
    let refused = send(app.post("/api/v1/support/create/ticket/", &alice).form(&[
        ("subject", "two"),
        ("priority", "1"),
        ("comment", "c"),
        ("category", &category.to_string()),
    ]))
    .await?;
    assert_eq!(refused.status, 401);

    let settings = send(app.get("/api/v1/admin/settings/", &admin)).await?;
    assert_eq!(settings.assert_ok()["open_ticket_limit"], 1);
    let settings = send(
        app.post("/api/v1/admin/settings/", &admin)
            .form(&[("open_ticket_limit", "2")]),
    )
    .await?;
    assert_eq!(settings.assert_ok()["open_ticket_limit"], 2);
    app.ticket(&alice, category, "two").await?;

    // A second process on the same database follows the setting too.
    let sibling = app.sibling()?;
    let refused = send(
        sibling
            .post("/api/v1/support/create/ticket/", &alice)
            .form(&[
                ("subject", "three"),
                ("priority", "1"),
                ("comment", "c"),
                ("category", &category.to_string()),
            ]),
    )
    .await?;
    refused.assert_errors(
        401,
        json!({"detail": ["Currently Open Ticket Limit Exceed."]}),
    );

    for bad in ["0", "abc", "-3"] {
        let answer = send(
            app.post("/api/v1/admin/settings/", &admin)
                .form(&[("open_ticket_limit", bad)]),
        )
        .await?;
        assert_eq!(answer.status, 400, "{bad}: {}", answer.body);
    }
    Ok(())
}

/// Every staff route, with a request that is valid for an administrator.
fn staff_routes() -> Vec<(Method, &'static str, bool)> {
    // (method, path, admin only)
    vec![
        (Method::GET, "/api/v1/agent/tickets/", false),
        (Method::GET, "/api/v1/agent/tickets/1/", false),
        (Method::POST, "/api/v1/agent/tickets/1/reply/", false),
        (Method::POST, "/api/v1/agent/tickets/1/note/", false),
        (Method::POST, "/api/v1/agent/tickets/1/update/", false),
        (Method::GET, "/api/v1/admin/categories/", true),
        (Method::POST, "/api/v1/admin/categories/", true),
        (Method::POST, "/api/v1/admin/categories/1/", true),
        (Method::GET, "/api/v1/admin/tags/", true),
        (Method::POST, "/api/v1/admin/tags/", true),
        (Method::POST, "/api/v1/admin/tags/1/", true),
        (Method::GET, "/api/v1/admin/users/", true),
        (Method::POST, "/api/v1/admin/users/", true),
        (Method::POST, "/api/v1/admin/users/2/", true),
        (Method::GET, "/api/v1/admin/apikeys/", true),
        (Method::POST, "/api/v1/admin/apikeys/", true),
        (Method::POST, "/api/v1/admin/apikeys/2/revoke/", true),
        (Method::GET, "/api/v1/admin/settings/", true),
        (Method::POST, "/api/v1/admin/settings/", true),
    ]
}

async fn each_staff_route_admits_exactly_the_roles_it_should(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    // Person 2, whom `admin/users/2/` changes (its password too), so the actors keep working.
    let victim = app.customer("victim@example.com")?;
    assert_eq!(victim.id, 2);
    // Key 2, which `admin/apikeys/2/revoke/` revokes; the test's own key is 1.
    app.cli_ok(&["apikey", "create", "--name", "spare"])?;
    let customer = app.customer("alice@example.com")?;
    let agent = app.person("agent@example.com", "agent")?;
    let admin = app.person("boss@example.com", "admin")?;
    let category = app.category("Billing")?;
    app.tag("Urgent")?;
    app.ticket(&customer, category, "a ticket").await?;
    let forbidden = json!({"detail": ["You do not have permission to perform this action."]});

    for (method, path, admin_only) in staff_routes() {
        let body = [
            ("comment", "x"),
            ("category", "New"),
            ("tag", "New"),
            ("name", "k"),
            ("email", "n@example.com"),
            ("password", "pw"),
            ("role", "agent"),
        ];
        for (who, allowed) in [(&customer, false), (&agent, !admin_only), (&admin, true)] {
            let answer = send(app.request(method.clone(), path, Some(who)).form(&body)).await?;
            if allowed {
                assert!(
                    answer.status.is_success() || answer.status == 400,
                    "{} {method} {path}: {}",
                    who.email,
                    answer.body
                );
            } else {
                answer.assert_errors(403, forbidden.clone());
            }
        }
        // No token: 401; no apikey: 401 for the key.
        let answer = send(app.request(method.clone(), path, None)).await?;
        assert_eq!(answer.status, 401, "{method} {path}");
        let answer = send(app.client.request(method.clone(), app.url(path))).await?;
        answer.assert_errors(401, json!({"apikey": ["API key is required."]}));
    }
    Ok(())
}

on_both_backends!(
    categories_and_tags_are_created_edited_deactivated_and_reactivated,
    people_are_created_promoted_reset_and_deactivated_with_immediate_effect,
    api_keys_are_shown_once_listed_without_secret_and_revoked,
    the_open_ticket_limit_changes_without_a_restart,
    each_staff_route_admits_exactly_the_roles_it_should,
);
