//! Categories and tags: small lists that administrators manage.

use sqlx::Row;

use super::{Db, StoreResult, Tx, memo, now_micros, settings};

/// A category or a tag: a name and one line of text (description or keyword).
#[derive(Clone, Debug)]
pub struct CatalogEntry {
    pub id: i64,
    pub name: String,
    /// `description` of a category, `keyword` of a tag.
    pub detail: String,
    pub active: bool,
}

/// The two lists share their shape; the table and detail column differ.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Catalog {
    Categories,
    Tags,
}

impl Catalog {
    fn insert_sql(self) -> &'static str {
        match self {
            Self::Categories => {
                "INSERT INTO categories (name, description, active, created_at)
                 VALUES ($1, $2, 1, $3) RETURNING id"
            }
            Self::Tags => {
                "INSERT INTO tags (name, keyword, active, created_at)
                 VALUES ($1, $2, 1, $3) RETURNING id"
            }
        }
    }

    fn list_sql(self) -> &'static str {
        match self {
            Self::Categories => {
                "SELECT id, name, description AS detail, active FROM categories ORDER BY id"
            }
            Self::Tags => "SELECT id, name, keyword AS detail, active FROM tags ORDER BY id",
        }
    }

    fn update_sql(self) -> &'static str {
        match self {
            Self::Categories => {
                "UPDATE categories SET name = COALESCE($1, name),
                     description = COALESCE($2, description), active = COALESCE($3, active)
                 WHERE id = $4"
            }
            Self::Tags => {
                "UPDATE tags SET name = COALESCE($1, name), keyword = COALESCE($2, keyword),
                     active = COALESCE($3, active)
                 WHERE id = $4"
            }
        }
    }

    fn set_active_sql(self) -> &'static str {
        match self {
            Self::Categories => "UPDATE categories SET active = $1 WHERE id = $2",
            Self::Tags => "UPDATE tags SET active = $1 WHERE id = $2",
        }
    }
}

pub async fn create(db: &Db, catalog: Catalog, name: &str, detail: &str) -> StoreResult<i64> {
    let mut tx = db.begin_write().await?;
    let row = sqlx::query(catalog.insert_sql())
        .bind(name)
        .bind(detail)
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await?;
    commit_change(db, tx).await?;
    Ok(row.try_get("id")?)
}

/// Commits a catalog change together with a bump of the catalog's change counter, which
/// tells cached lists (in every process) and ETags of answers that show category names (the
/// history) that they are out of date.
async fn commit_change(db: &Db, mut tx: Tx) -> StoreResult<()> {
    settings::bump(&mut tx, memo::CATALOG_VERSION).await?;
    tx.commit().await?;
    db.memo().catalog_changed();
    Ok(())
}

/// Every entry, active or not, in ascending id order.
pub async fn list(db: &Db, catalog: Catalog) -> StoreResult<Vec<CatalogEntry>> {
    let rows = sqlx::query(catalog.list_sql()).fetch_all(db.pool()).await?;
    rows.iter()
        .map(|row| {
            Ok(CatalogEntry {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                detail: row.try_get("detail")?,
                active: row.try_get::<i64, _>("active")? != 0,
            })
        })
        .collect()
}

/// Only the active entries, in ascending id order.
pub async fn list_active(db: &Db, catalog: Catalog) -> StoreResult<Vec<CatalogEntry>> {
    let mut entries = list(db, catalog).await?;
    entries.retain(|e| e.active);
    Ok(entries)
}

/// Activates or deactivates an entry; `false` if there is none with that id.
pub async fn set_active(db: &Db, catalog: Catalog, id: i64, active: bool) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(catalog.set_active_sql())
        .bind(i64::from(active))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    commit_change(db, tx).await?;
    Ok(done.rows_affected() == 1)
}

/// Changes what is given of an entry; `false` if there is none with that id.
pub async fn update(
    db: &Db,
    catalog: Catalog,
    id: i64,
    name: Option<&str>,
    detail: Option<&str>,
    active: Option<bool>,
) -> StoreResult<bool> {
    let mut tx = db.begin_write().await?;
    let done = sqlx::query(catalog.update_sql())
        .bind(name)
        .bind(detail)
        .bind(active.map(i64::from))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    commit_change(db, tx).await?;
    Ok(done.rows_affected() == 1)
}
