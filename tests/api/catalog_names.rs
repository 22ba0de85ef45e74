//! Category and tag names are unique within their list: refused by the command line and the
//! admin API alike, and existing duplicates survive the migration that made them unique.

use std::process::Command;

use sqlx::{Connection, Row};

use crate::helpers::{BIN, Backend, PgDatabase, TestApp, TestResult, send};

async fn duplicate_names_are_refused_by_the_cli_and_the_admin_api(backend: Backend) -> TestResult {
    let app = TestApp::spawn(backend).await?;
    let admin = app.person("boss@example.com", "admin")?;
    app.category("Billing")?;
    app.tag("Urgent")?;
    for (list, field, name) in [
        ("category", "category", "Billing"),
        ("tag", "tag", "Urgent"),
    ] {
        let again = app.cli(&[list, "create", "--name", &format!(" {name} ")])?;
        assert!(
            !again.status.success(),
            "a second {list} {name} was created"
        );
        let stderr = String::from_utf8(again.stderr)?;
        assert_eq!(
            stderr.trim(),
            format!("error: a {list} named \"{name}\" exists already")
        );

        let plural = if list == "category" {
            "categories"
        } else {
            "tags"
        };
        let path = format!("/api/v1/admin/{plural}/");
        let message = format!("A {list} with this name already exists.");
        send(app.post(&path, &admin).form(&[(field, name)]))
            .await?
            .assert_errors(400, serde_json::json!({ field: [message] }));
        // Renaming another entry to the taken name is refused the same way.
        let other = send(app.post(&path, &admin).form(&[(field, "Other")])).await?;
        let other_id = other.assert_ok()[field]["id"].as_i64().ok_or("no id")?;
        send(
            app.post(&format!("{path}{other_id}/"), &admin)
                .form(&[(field, name)]),
        )
        .await?
        .assert_errors(400, serde_json::json!({ field: [message] }));
    }
    let listed = String::from_utf8(app.cli(&["category", "list"])?.stdout)?;
    assert_eq!(listed.matches("Billing").count(), 1, "{listed}");
    Ok(())
}

/// A desk that had duplicate names before the unique index keeps every entry: the later
/// duplicates are renamed, not lost.
async fn existing_duplicate_names_are_renamed_by_the_unique_migration(
    backend: Backend,
) -> TestResult {
    let dir = tempfile::tempdir()?;
    let pg = match backend {
        Backend::Sqlite => None,
        Backend::Postgres => Some(PgDatabase::create().await?),
    };
    let migrate = || -> TestResult<std::process::Output> {
        let mut command = Command::new(BIN);
        command
            .arg("migrate")
            .env_remove("DATABASE_URL")
            .env("SUPPORTDESK_DATA_DIR", dir.path());
        if let Some(pg) = &pg {
            command.env("DATABASE_URL", &pg.url);
        }
        Ok(command.output()?)
    };
    assert!(migrate()?.status.success());
    // Back to the state before version 6, with a duplicate in each list.
    let undo = [
        "DROP INDEX categories_name_unique",
        "DROP INDEX tags_name_unique",
        "DELETE FROM _sqlx_migrations WHERE version = 6",
        "INSERT INTO categories (name, description, active, created_at) VALUES ('Billing', 'a', 1, 0)",
        "INSERT INTO categories (name, description, active, created_at) VALUES ('Billing', 'b', 1, 0)",
        "INSERT INTO tags (name, keyword, active, created_at) VALUES ('Urgent', 'a', 1, 0)",
        "INSERT INTO tags (name, keyword, active, created_at) VALUES ('Urgent', 'b', 0, 0)",
    ];
    let names_sql = "SELECT name FROM categories UNION ALL SELECT name FROM tags";
    let names: Vec<String> = match &pg {
        None => {
            let url = format!("sqlite://{}", dir.path().join("supportdesk.db").display());
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
            for sql in undo {
                sqlx::query(sql).execute(&mut conn).await?;
            }
            conn.close().await?;
            let out = migrate()?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut conn = sqlx::sqlite::SqliteConnection::connect(&url).await?;
            let rows = sqlx::query(names_sql).fetch_all(&mut conn).await?;
            rows.iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?
        }
        Some(pg) => {
            let mut conn = sqlx::postgres::PgConnection::connect(&pg.url).await?;
            for sql in undo {
                sqlx::query(sql).execute(&mut conn).await?;
            }
            conn.close().await?;
            let out = migrate()?;
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let mut conn = sqlx::postgres::PgConnection::connect(&pg.url).await?;
            let rows = sqlx::query(names_sql).fetch_all(&mut conn).await?;
            rows.iter()
                .map(|r| r.try_get("name"))
                .collect::<Result<_, _>>()?
        }
    };
    let mut names = names;
    names.sort();
    assert_eq!(names, ["Billing", "Billing (2)", "Urgent", "Urgent (2)"]);
    Ok(())
}

on_both_backends!(
    duplicate_names_are_refused_by_the_cli_and_the_admin_api,
    existing_duplicate_names_are_renamed_by_the_unique_migration,
);
