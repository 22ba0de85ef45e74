//! The console's admin pages over HTTP, as a browser without JavaScript uses them: every page
//! and action for an administrator, 403 for an agent, CSRF on every POST, secrets shown once,
//! hostile names escaped, and refused forms that show the message by the field, keep what was
//! typed and write nothing.

use std::time::{Duration, Instant};

use reqwest::StatusCode;

use crate::console::{Browser, Page};
use crate::helpers::{Backend, TestApp, TestResult};

const HOSTILE: [&str; 3] = [
    "<script>alert(1)</script>",
    "</textarea><b>x</b>",
    "javascript:alert(1)",
];

async fn admin_browser(app: &TestApp) -> TestResult<Browser> {
    Browser::signed_in(app, &app.admin_email, &app.admin_password).await
}

fn count(app: &TestApp, sql: &'static str) -> TestResult<i64> {
    app.with_db(move |db| async move {
        let row = sqlx::query(sql).fetch_one(db.pool()).await?;
        Ok(sqlx::Row::try_get::<i64, _>(&row, 0)?)
    })
}

/// The first `n` characters after `marker` (to read a value out of a page).
fn after(page: &Page, marker: &str) -> String {
    page.text
        .split_once(marker)
        .map(|(_, rest)| rest.chars().take_while(|c| *c != '"').collect())
        .unwrap_or_default()
}

fn assert_redirect(page: &Page, to: &str) {
    assert_eq!(page.status, StatusCode::SEE_OTHER, "{}", page.text);
    assert_eq!(page.location(), to);
}

async fn administrators_manage_categories_and_tags(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let mut admin = admin_browser(&app).await?;
    let queue = admin.get("/console").await?;
    assert!(
        queue.text.contains("href=\"/console/admin\""),
        "no Admin link"
    );
    let index = admin.get("/console/admin").await?;
    assert_eq!(index.status, StatusCode::SEE_OTHER);

    let page = admin.get("/console/admin/categories").await?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains("<label for=\"new-name\">Name</label>"));
    assert!(
        page.text
            .contains("<nav class=\"admin-nav\" aria-label=\"Admin\">")
    );
    let csrf = page.csrf();
    let made = admin
        .post(
            "/console/admin/categories",
            &[
                ("category", "Billing"),
                ("description", "Money"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_redirect(&made, "/console/admin/categories?done=created");
    let before = count(&app, "SELECT COUNT(*) FROM categories")?;

    // A duplicate: the message by the field, the typed values kept, nothing written.
    let dup = admin
        .post(
            "/console/admin/categories",
            &[
                ("category", "Billing"),
                ("description", "Kept <i>text</i>"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(dup.status, StatusCode::BAD_REQUEST);
    assert!(dup.text.contains("id=\"new-name-error\""), "{}", dup.text);
    assert!(dup.text.contains("already exists"));
    assert!(
        dup.text
            .contains("value=\"Kept &#60;i&#62;text&#60;/i&#62;\"")
            || dup.text.contains("value=\"Kept &lt;i&gt;text&lt;/i&gt;\""),
        "{}",
        dup.text
    );
    assert!(dup.text.contains("aria-invalid=\"true\""));
    // An empty name.
    let empty = admin
        .post(
            "/console/admin/categories",
            &[("category", "  "), ("description", "x"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.text.contains("id=\"new-name-error\""));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM categories")?, before);

    // Hostile names come back as text.
    for name in HOSTILE {
        let made = admin
            .post(
                "/console/admin/categories",
                &[("category", name), ("csrf", &csrf)],
            )
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{name}: {}", made.text);
        let made = admin
            .post(
                "/console/admin/tags",
                &[("tag", name), ("keyword", name), ("csrf", &csrf)],
            )
            .await?;
        assert_eq!(made.status, StatusCode::SEE_OTHER, "{name}: {}", made.text);
    }
    for path in ["/console/admin/categories", "/console/admin/tags"] {
        let page = admin.get(path).await?;
        assert!(!page.text.contains("<script>alert"), "{path}");
        assert!(!page.text.contains("</textarea><b>"), "{path}");
        assert!(!page.text.contains("href=\"javascript:"), "{path}");
        assert!(
            page.text.contains("javascript:alert(1)"),
            "{path}: shown as text"
        );
    }

    // Rename, and a rename to a taken name shown on that row.
    let id = app.category("Shipping")?;
    let renamed = admin
        .post(
            &format!("/console/admin/categories/{id}"),
            &[
                ("category", "Delivery"),
                ("description", ""),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_redirect(&renamed, "/console/admin/categories?done=saved");
    let taken = admin
        .post(
            &format!("/console/admin/categories/{id}"),
            &[("category", "Billing"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(
        taken.text.contains(&format!("id=\"name-{id}-error\"")),
        "{}",
        taken.text
    );
    assert!(taken.text.contains(&format!(
        "id=\"name-{id}\" name=\"category\" value=\"Billing\""
    )));
    // Deactivate and reactivate.
    let off = admin
        .post(
            &format!("/console/admin/categories/{id}"),
            &[("active", "false"), ("csrf", &csrf)],
        )
        .await?;
    assert_redirect(&off, "/console/admin/categories?done=deactivated");
    let page = admin
        .get("/console/admin/categories?done=deactivated")
        .await?;
    assert!(page.text.contains("Deactivated."));
    assert!(page.text.contains(">Reactivate</button>"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM categories WHERE name = 'Delivery' AND active = 0"
        )?,
        1
    );
    // An unknown id: a clear message, nothing written.
    let unknown = admin
        .post(
            "/console/admin/categories/999999",
            &[("category", "Ghost"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert!(
        unknown.text.contains("no longer exists"),
        "{}",
        unknown.text
    );
    let unknown = admin
        .post(
            "/console/admin/tags/abc",
            &[("tag", "Ghost"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);
    assert_eq!(
        count(&app, "SELECT COUNT(*) FROM categories WHERE name = 'Ghost'")?,
        0
    );
    Ok(())
}

async fn administrators_manage_people_and_deactivation_ends_sessions(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let mut admin = admin_browser(&app).await?;
    let page = admin.get("/console/admin/people").await?;
    assert_eq!(page.status, 200);
    assert!(page.text.contains(&app.admin_email));
    let csrf = page.csrf();
    let people = count(&app, "SELECT COUNT(*) FROM users")?;

    // A bad email: its message, the email kept, the password never sent back.
    let bad = admin
        .post(
            "/console/admin/people",
            &[
                ("email", "not-an-email"),
                ("role", "agent"),
                ("password", "pw-kept-secret"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("id=\"new-email-error\""), "{}", bad.text);
    assert!(bad.text.contains("value=\"not-an-email\""));
    assert!(!bad.text.contains("pw-kept-secret"));
    // A taken email.
    let taken = admin
        .post(
            "/console/admin/people",
            &[
                ("email", &app.admin_email),
                ("role", "agent"),
                ("password", "long enough 1"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(taken.status, StatusCode::BAD_REQUEST);
    assert!(taken.text.contains("already exists"));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM users")?, people);

    let made = admin
        .post(
            "/console/admin/people",
            &[
                ("email", "new.agent@example.com"),
                ("role", "agent"),
                ("password", "first password 1"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(made.status, StatusCode::SEE_OTHER, "{}", made.text);
    let path = made.location().trim_end_matches("?done=created").to_owned();
    assert!(path.starts_with("/console/admin/people/"), "{path}");
    let person = admin.get(made.location()).await?;
    assert!(person.text.contains("new.agent@example.com"));
    assert!(person.text.contains(">Agent</option>") || person.text.contains("Agent"));

    // The new agent can sign in; a new password ends that session.
    let mut agent = Browser::signed_in(&app, "new.agent@example.com", "first password 1").await?;
    let set = admin
        .post(&path, &[("password", "second password 2"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&set, &format!("{path}?done=password"));
    assert_eq!(agent.get("/console").await?.location(), "/console/sign-in");

    // Deactivation ends every console session of the person.
    let mut agent = Browser::signed_in(&app, "new.agent@example.com", "second password 2").await?;
    assert_eq!(agent.get("/console").await?.status, 200);
    let off = admin
        .post(&path, &[("active", "false"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&off, &format!("{path}?done=person-off"));
    assert_eq!(agent.get("/console").await?.location(), "/console/sign-in");
    let again = agent
        .sign_in("new.agent@example.com", "second password 2")
        .await?;
    assert_eq!(again.status, StatusCode::UNAUTHORIZED);
    let list = admin.get("/console/admin/people?role=agent").await?;
    assert!(list.text.contains("Deactivated"));
    let on = admin
        .post(&path, &[("active", "true"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&on, &format!("{path}?done=reactivated"));

    // Role changes; a bad role is refused by the field.
    let bad_role = admin
        .post(&path, &[("role", "wizard"), ("csrf", &csrf)])
        .await?;
    assert_eq!(bad_role.status, StatusCode::BAD_REQUEST);
    assert!(
        bad_role.text.contains("id=\"role-error\""),
        "{}",
        bad_role.text
    );
    let promoted = admin
        .post(&path, &[("role", "admin"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&promoted, &format!("{path}?done=role"));
    assert_eq!(
        count(
            &app,
            "SELECT COUNT(*) FROM users WHERE email = 'new.agent@example.com' AND role = 'admin'"
        )?,
        1
    );

    // An administrator cannot lock themselves out.
    let me = count(&app, "SELECT MIN(id) FROM users WHERE role = 'admin'")?;
    let own = admin.get(&format!("/console/admin/people/{me}")).await?;
    assert!(
        own.text.contains("You cannot deactivate yourself.")
            || own.text.contains("You cannot change your own role.")
    );
    let refused = admin
        .post(
            &format!("/console/admin/people/{me}"),
            &[("active", "false"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(refused.status, StatusCode::BAD_REQUEST);
    assert!(
        refused
            .text
            .contains("You cannot deactivate or demote yourself.")
    );
    assert_eq!(admin.get("/console").await?.status, 200);
    // Unknown people.
    assert_eq!(
        admin.get("/console/admin/people/999999").await?.status,
        StatusCode::NOT_FOUND
    );
    let ghost = admin
        .post(
            "/console/admin/people/999999",
            &[("active", "false"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(ghost.status, StatusCode::NOT_FOUND);

    // Paging: a page of 50, then the rest.
    for n in 0..55 {
        app.customer(&format!("customer{n}@example.com"))?;
    }
    let first = admin.get("/console/admin/people?role=customer").await?;
    assert_eq!(first.text.matches("@example.com</a>").count(), 50);
    let next = after(&first, "<a href=\"/console/admin/people?");
    assert!(next.contains("after="), "{next}");
    let second = admin
        .get(&format!(
            "/console/admin/people?{}",
            next.replace("&amp;", "&").replace("&#38;", "&")
        ))
        .await?;
    assert_eq!(second.text.matches("@example.com</a>").count(), 5);
    Ok(())
}

async fn api_keys_are_shown_once_and_settings_change(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let mut admin = admin_browser(&app).await?;
    let page = admin.get("/console/admin/keys").await?;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let empty = admin
        .post("/console/admin/keys", &[("name", ""), ("csrf", &csrf)])
        .await?;
    assert_eq!(empty.status, StatusCode::BAD_REQUEST);
    assert!(empty.text.contains("id=\"new-name-error\""));
    let keys = count(&app, "SELECT COUNT(*) FROM api_keys")?;
    let bad_scope = admin
        .post(
            "/console/admin/keys",
            &[("name", "Kept name"), ("scope", "root"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(bad_scope.status, StatusCode::BAD_REQUEST);
    assert!(bad_scope.text.contains("id=\"new-scope-error\""));
    assert!(bad_scope.text.contains("value=\"Kept name\""));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM api_keys")?, keys);

    let made = admin
        .post(
            "/console/admin/keys",
            &[
                ("name", "<script>Mobile app</script>"),
                ("scope", "customer"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    assert!(!made.text.contains("<script>Mobile"));
    let key = after(
        &made,
        "id=\"shown-value\" class=\"secret\" readonly value=\"",
    );
    assert!(key.len() > 20, "{key}");
    // Only its hash is stored, and it is never shown again.
    let stored: Vec<String> = app.with_db(|db| async move {
        let rows = sqlx::query("SELECT * FROM api_keys")
            .fetch_all(db.pool())
            .await?;
        let mut texts = Vec::new();
        for row in &rows {
            for i in 0..sqlx::Row::len(row) {
                if let Ok(text) = sqlx::Row::try_get::<String, _>(row, i) {
                    texts.push(text);
                }
            }
        }
        Ok(texts)
    })?;
    assert!(
        !stored.iter().any(|t| t.contains(&key)),
        "the key is stored in clear"
    );
    let list = admin.get("/console/admin/keys").await?;
    assert!(!list.text.contains(&key));
    assert!(
        list.text
            .contains("&lt;script&gt;Mobile app&lt;/script&gt;")
            || list.text.contains("&#60;script&#62;Mobile")
    );
    // The key works until revoked.
    let works = |key: String| {
        let client = app.client.clone();
        let url = app.url("/api/v1/support/get/category-list/");
        async move {
            Ok::<_, reqwest::Error>(client.get(url).header("apikey", key).send().await?.status())
        }
    };
    assert_eq!(works(key.clone()).await?, 200);
    let id = count(&app, "SELECT MAX(id) FROM api_keys")?;
    let revoked = admin
        .post(
            &format!("/console/admin/keys/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_redirect(&revoked, "/console/admin/keys?done=revoked");
    assert_ne!(works(key).await?, 200);
    let twice = admin
        .post(
            &format!("/console/admin/keys/{id}/revoke"),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_eq!(twice.status, StatusCode::NOT_FOUND);
    assert!(twice.text.contains("revoked already"));

    // Settings.
    let settings = admin.get("/console/admin/settings").await?;
    assert_eq!(settings.status, 200);
    assert!(settings.text.contains("SUPPORTDESK_TOKEN_TTL"));
    let bad = admin
        .post(
            "/console/admin/settings",
            &[("open_ticket_limit", "0"), ("csrf", &csrf)],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("id=\"limit-error\""));
    assert!(bad.text.contains("value=\"0\""));
    let saved = admin
        .post(
            "/console/admin/settings",
            &[("open_ticket_limit", "7"), ("csrf", &csrf)],
        )
        .await?;
    assert_redirect(&saved, "/console/admin/settings?done=settings");
    let settings = admin.get("/console/admin/settings").await?;
    assert!(settings.text.contains("name=\"open_ticket_limit\" type=\"number\" inputmode=\"numeric\" min=\"1\" max=\"100000\" value=\"7\""), "{}", settings.text);
    Ok(())
}

async fn webhooks_show_secrets_once_and_deliveries_can_be_sent_again(
    backend: Backend,
) -> TestResult {
    let app = TestApp::spawn_with(
        backend,
        &[
            ("SUPPORTDESK_WEBHOOK_ALLOW_PRIVATE", "true"),
            ("SUPPORTDESK_OUTBOX_POLL_MS", "10"),
        ],
    )
    .await?;
    let mut admin = admin_browser(&app).await?;
    let page = admin.get("/console/admin/webhooks").await?;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();
    let bad = admin
        .post(
            "/console/admin/webhooks",
            &[
                ("url", "ftp://x"),
                ("events", "ticket.nope"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(bad.status, StatusCode::BAD_REQUEST);
    assert!(bad.text.contains("id=\"new-url-error\""), "{}", bad.text);
    assert!(bad.text.contains("id=\"new-events-error\""));
    assert!(bad.text.contains("value=\"ftp://x\""));
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_endpoints")?, 0);

    let made = admin
        .post(
            "/console/admin/webhooks",
            &[
                ("url", "http://127.0.0.1:9/hook"),
                ("events", "*"),
                ("description", "</textarea>CRM"),
                ("csrf", &csrf),
            ],
        )
        .await?;
    assert_eq!(made.status, StatusCode::CREATED, "{}", made.text);
    let secret = after(
        &made,
        "id=\"shown-value\" class=\"secret\" readonly value=\"",
    );
    assert!(secret.starts_with("whsec_"), "{secret}");
    assert!(!made.text.contains("</textarea>CRM"));
    let list = admin.get("/console/admin/webhooks").await?;
    assert!(!list.text.contains(&secret));
    let id = count(&app, "SELECT MAX(id) FROM webhook_endpoints")?;
    let path = format!("/console/admin/webhooks/{id}");

    // An event reaches it (and fails: nothing listens on port 9).
    let category = app.category("Billing")?;
    let carol = app.customer("carol@example.com")?;
    app.ticket(&carol, category, "Charged twice").await?;
    let started = Instant::now();
    let mut endpoint = admin.get(&path).await?;
    while !endpoint.text.contains("/redeliver\"") && started.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(100)).await;
        endpoint = admin.get(&path).await?;
    }
    assert!(
        endpoint.text.contains("ticket.created"),
        "{}",
        endpoint.text
    );
    assert!(!endpoint.text.contains(&secret));
    let delivery = count(&app, "SELECT MAX(id) FROM webhook_deliveries")?;
    let again = admin
        .post(
            &format!("{path}/deliveries/{delivery}/redeliver"),
            &[("csrf", &csrf)],
        )
        .await?;
    // Queued, or refused while an attempt is in flight: never a 500.
    assert!(
        again.status == StatusCode::SEE_OTHER || again.status == StatusCode::CONFLICT,
        "{}: {}",
        again.status,
        again.text
    );
    let unknown = admin
        .post(
            &format!("{path}/deliveries/999999/redeliver"),
            &[("csrf", &csrf)],
        )
        .await?;
    assert_eq!(unknown.status, StatusCode::NOT_FOUND);

    // Disable, enable, rotate (the new secret shown once), delete.
    let off = admin
        .post(&path, &[("enabled", "false"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&off, &format!("{path}?done=disabled"));
    assert!(admin.get(&path).await?.text.contains(">Enable</button>"));
    let on = admin
        .post(&path, &[("enabled", "true"), ("csrf", &csrf)])
        .await?;
    assert_redirect(&on, &format!("{path}?done=enabled"));
    let rotated = admin
        .post(&format!("{path}/rotate"), &[("csrf", &csrf)])
        .await?;
    assert_eq!(rotated.status, 200);
    let second = after(
        &rotated,
        "id=\"shown-value\" class=\"secret\" readonly value=\"",
    );
    assert!(second.starts_with("whsec_") && second != secret);
    assert!(!admin.get(&path).await?.text.contains(&second));
    let gone = admin
        .post(&format!("{path}/delete"), &[("csrf", &csrf)])
        .await?;
    assert_redirect(&gone, "/console/admin/webhooks?done=deleted");
    assert_eq!(admin.get(&path).await?.status, StatusCode::NOT_FOUND);
    assert_eq!(count(&app, "SELECT COUNT(*) FROM webhook_endpoints")?, 0);
    Ok(())
}

/// A POST's path and form (without its CSRF token).
type AdminPost = (String, Vec<(&'static str, String)>);

/// Every admin page, and a POST to every admin action (with a body that would succeed).
fn admin_routes(category: i64, tag: i64, person: i64) -> (Vec<String>, Vec<AdminPost>) {
    let gets = [
        "/console/admin".to_owned(),
        "/console/admin/categories".to_owned(),
        "/console/admin/tags".to_owned(),
        "/console/admin/people".to_owned(),
        format!("/console/admin/people/{person}"),
        "/console/admin/keys".to_owned(),
        "/console/admin/settings".to_owned(),
        "/console/admin/webhooks".to_owned(),
        "/console/admin/webhooks/1".to_owned(),
    ]
    .into();
    let posts = vec![
        (
            "/console/admin/categories".to_owned(),
            vec![("category", "Forged".to_owned())],
        ),
        (
            format!("/console/admin/categories/{category}"),
            vec![("category", "Forged".to_owned())],
        ),
        (
            "/console/admin/tags".to_owned(),
            vec![("tag", "Forged".to_owned())],
        ),
        (
            format!("/console/admin/tags/{tag}"),
            vec![("tag", "Forged".to_owned())],
        ),
        (
            "/console/admin/people".to_owned(),
            vec![
                ("email", "forged@example.com".to_owned()),
                ("role", "admin".to_owned()),
                ("password", "forged password 1".to_owned()),
            ],
        ),
        (
            format!("/console/admin/people/{person}"),
            vec![("role", "admin".to_owned())],
        ),
        (
            "/console/admin/keys".to_owned(),
            vec![("name", "Forged".to_owned())],
        ),
        ("/console/admin/keys/1/revoke".to_owned(), vec![]),
        (
            "/console/admin/settings".to_owned(),
            vec![("open_ticket_limit", "99".to_owned())],
        ),
        (
            "/console/admin/webhooks".to_owned(),
            vec![("url", "https://example.com/forged".to_owned())],
        ),
        (
            "/console/admin/webhooks/1".to_owned(),
            vec![("enabled", "false".to_owned())],
        ),
        ("/console/admin/webhooks/1/rotate".to_owned(), vec![]),
        ("/console/admin/webhooks/1/delete".to_owned(), vec![]),
        (
            "/console/admin/webhooks/1/deliveries/1/redeliver".to_owned(),
            vec![],
        ),
    ];
    (gets, posts)
}

fn nothing_forged(app: &TestApp) -> TestResult {
    for sql in [
        "SELECT COUNT(*) FROM categories WHERE name = 'Forged'",
        "SELECT COUNT(*) FROM tags WHERE name = 'Forged'",
        "SELECT COUNT(*) FROM users WHERE email = 'forged@example.com'",
        "SELECT COUNT(*) FROM users WHERE email = 'agent@example.com' AND role = 'admin'",
        "SELECT COUNT(*) FROM api_keys WHERE name = 'Forged'",
        "SELECT COUNT(*) FROM settings WHERE name = 'open_ticket_limit'",
        "SELECT COUNT(*) FROM webhook_endpoints",
    ] {
        assert_eq!(count(app, sql)?, 0, "{sql}");
    }
    Ok(())
}

async fn agents_get_403_and_posts_need_the_sessions_csrf_token(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let category = app.category("Billing")?;
    let tag = app.tag("vip")?;
    let agent = app.person("agent@example.com", "agent")?;
    let (gets, posts) = admin_routes(category, tag, agent.id);

    let mut browser = Browser::signed_in(&app, "agent@example.com", "secret-pw").await?;
    let queue = browser.get("/console").await?;
    assert!(
        !queue.text.contains("href=\"/console/admin\""),
        "an agent sees the Admin link"
    );
    let csrf = queue.csrf();
    for path in &gets {
        let page = browser.get(path).await?;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
        assert!(
            page.text.contains("for administrators"),
            "{path}: {}",
            page.text
        );
    }
    for (path, form) in &posts {
        let mut form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
        form.push(("csrf", &csrf));
        let page = browser.post(path, &form).await?;
        assert_eq!(page.status, StatusCode::FORBIDDEN, "{path}");
    }
    nothing_forged(&app)?;

    // Signed out: the sign-in page, never an admin page.
    let mut stranger = Browser::new(&app)?;
    assert_eq!(
        stranger.get("/console/admin/people").await?.location(),
        "/console/sign-in"
    );

    // An administrator's POST without, or with a wrong or another session's, token.
    let mut admin = admin_browser(&app).await?;
    let mut other = admin_browser(&app).await?;
    let others = other.get("/console/admin/people").await?.csrf();
    for csrf in ["", "0000", others.as_str()] {
        for (path, form) in &posts {
            let mut form: Vec<(&str, &str)> = form.iter().map(|(n, v)| (*n, v.as_str())).collect();
            if !csrf.is_empty() {
                form.push(("csrf", csrf));
            }
            let page = admin.post(path, &form).await?;
            assert_eq!(page.status, StatusCode::FORBIDDEN, "{path} {csrf:?}");
        }
    }
    nothing_forged(&app)?;
    Ok(())
}

on_both_backends!(
    administrators_manage_categories_and_tags,
    administrators_manage_people_and_deactivation_ends_sessions,
    api_keys_are_shown_once_and_settings_change,
    webhooks_show_secrets_once_and_deliveries_can_be_sent_again,
    agents_get_403_and_posts_need_the_sessions_csrf_token,
);
