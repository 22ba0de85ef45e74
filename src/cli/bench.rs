//! `supportdesk bench-seed` (hidden): loads a realistic desk for `bench/run` and writes the
//! credentials and ids the load needs to a JSON file.

use std::path::PathBuf;

use anyhow::Context;
use clap::Args;
use serde_json::json;
use sqlx::Row;

use crate::config::StoreConfig;
use crate::domain::people::KeyScope;
use crate::domain::secrets::hash_password;
use crate::services::tokens::{create_api_key, issue_access_token};
use crate::store::Db;
use crate::store::seed::{SeedPlan, seed};

#[derive(Args)]
pub struct SeedArgs {
    /// Categories to create.
    #[arg(long, default_value_t = 10)]
    categories: i64,
    /// Tags to create.
    #[arg(long, default_value_t = 20)]
    tags: i64,
    /// Customers to create.
    #[arg(long, default_value_t = 10_000)]
    customers: i64,
    /// Tickets, spread over the customers.
    #[arg(long, default_value_t = 1_000_000)]
    tickets: i64,
    /// Conversations, spread over the tickets.
    #[arg(long, default_value_t = 3_000_000)]
    conversations: i64,
    /// Attachments, spread over the tickets. (Not `--attachments`: that global flag names the
    /// attachment store, and two arguments of one id made clap panic at run time.)
    #[arg(long, default_value_t = 50_000)]
    attachment_files: i64,
    /// Where to write the credentials and ids for the load.
    #[arg(long)]
    fixtures: PathBuf,
    /// Seed nothing: add a token for every customer of the desk already seeded to its
    /// fixtures (`all_tokens`, for the "cold" history that rotates through all of them).
    #[arg(long)]
    tokens_only: bool,
}

pub async fn run(db: &Db, store: &StoreConfig, args: SeedArgs) -> anyhow::Result<()> {
    if args.tokens_only {
        return add_all_tokens(db, &args.fixtures).await;
    }
    anyhow::ensure!(
        args.customers > 0 && args.tickets > 0 && args.categories > 0 && args.tags > 0,
        "customers, tickets, categories and tags must be positive"
    );
    let started = std::time::Instant::now();
    let password_hash = tokio::task::spawn_blocking(|| hash_password("bench-password"))
        .await
        .context("hashing")??;
    let blobs =
        crate::store::objects::open(store.attachments.as_deref(), &store.attachments_dir())?;
    let plan = SeedPlan {
        categories: args.categories,
        tags: args.tags,
        customers: args.customers,
        tickets: args.tickets,
        conversations: args.conversations,
        attachments: args.attachment_files,
        password_hash,
    };
    let seeded = seed(db, blobs.as_ref(), &store.data_dir.join("tmp"), &plan).await?;
    let seconds = started.elapsed().as_secs_f64();
    // The bulk load bypasses the store's writes, which keep the search index: build it, as
    // `supportdesk reindex` would on an existing desk, and report how long that took.
    crate::store::search::index::start(db, true).await?;
    let index_seconds = super::reindex::build_with_progress(db).await?;
    if db.backend() == crate::store::Backend::Postgres {
        // Statistics for the planner (which reads how common a word is from them).
        sqlx::query("VACUUM ANALYZE ticket_search")
            .execute(db.pool())
            .await?;
    }

    let (_, apikey) = create_api_key(db, "bench", KeyScope::All).await?;
    let ttl = 86_400;
    // The customer with the most tickets, and a spread of ordinary ones with their tickets.
    let heavy = seeded.first_customer_id;
    let heavy_token = issue_access_token(db, heavy, ttl).await?;
    let mut customers = Vec::new();
    let mut picks: Vec<i64> = (0..200)
        .map(|i| args.customers / 4 + i * (args.customers / 2) / 200)
        .collect();
    // Small desks give the same customer twice; each must appear once, or the load collides.
    picks.dedup();
    for offset in picks {
        let id = seeded.first_customer_id + offset;
        let tickets: Vec<i64> = sqlx::query(
            "SELECT id FROM tickets WHERE author_id = $1 AND status = 3 ORDER BY id LIMIT 10",
        )
        .bind(id)
        .fetch_all(&mut db.read().await?)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
        if tickets.is_empty() {
            continue;
        }
        customers
            .push(json!({"token": issue_access_token(db, id, ttl).await?, "tickets": tickets}));
    }
    let row = sqlx::query(
        "SELECT a.id, t.id AS ticket, t.author_id FROM attachments a JOIN tickets t ON t.id = a.ticket_id
         WHERE a.id = $1",
    )
    .bind(seeded.first_attachment_id)
    .fetch_one(&mut db.read().await?)
    .await?;
    let owner: i64 = row.try_get("author_id")?;
    // An agent, for the agents' search.
    let agent = crate::services::accounts::create_user(
        db,
        "agent@bench.example",
        "bench-password",
        crate::domain::people::Role::Agent,
    )
    .await
    .map_err(|err| anyhow::anyhow!("cannot create the bench agent: {err}"))?;
    let fixtures = json!({
        "apikey": apikey,
        "seconds": seconds,
        "index_seconds": index_seconds,
        "heavy": {"token": heavy_token},
        "agent": {"token": issue_access_token(db, agent, ttl).await?},
        "tickets": args.tickets,
        "customers": customers,
        "detail": {
            "token": issue_access_token(db, owner, ttl).await?,
            "ticket": row.try_get::<i64, _>("ticket")?,
            "attachment": row.try_get::<i64, _>("id")?,
        },
        "category": 1,
    });
    std::fs::write(&args.fixtures, serde_json::to_vec_pretty(&fixtures)?)
        .with_context(|| format!("cannot write {}", args.fixtures.display()))?;
    println!(
        "seeded {} tickets, {} conversations, {} attachments for {} customers in {seconds:.1} s; \
         search index built in {index_seconds:.1} s",
        args.tickets, args.conversations, args.attachment_files, args.customers
    );
    Ok(())
}

/// Adds `all_tokens` to the fixtures: an access token for every customer, in id order.
async fn add_all_tokens(db: &Db, fixtures: &std::path::Path) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(fixtures)
        .with_context(|| format!("cannot read {}", fixtures.display()))?;
    let mut fx: serde_json::Value = serde_json::from_str(&text).context("fixtures")?;
    let ids: Vec<i64> = sqlx::query("SELECT id FROM users WHERE role = 'customer' ORDER BY id")
        .fetch_all(&mut db.read().await?)
        .await?
        .iter()
        .map(|r| r.try_get("id"))
        .collect::<Result<_, _>>()?;
    let mut tokens = Vec::with_capacity(ids.len());
    for id in ids {
        tokens.push(issue_access_token(db, id, 86_400).await?);
    }
    eprintln!("issued {} customer tokens", tokens.len());
    fx["all_tokens"] = json!(tokens);
    std::fs::write(fixtures, serde_json::to_vec(&fx)?)
        .with_context(|| format!("cannot write {}", fixtures.display()))?;
    Ok(())
}
