//! Categories and tags: small lists that administrators manage.

use sqlx::Row;

use std::sync::Arc;

use super::{Db, StoreResult, now_micros};

pub use crate::domain::catalog::{Catalog, CatalogEntry};

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
    let mut tx = db.begin_catalog_change().await?;
    let row = sqlx::query(catalog.insert_sql())
        .bind(name)
        .bind(detail)
        .bind(now_micros())
        .fetch_one(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(row.try_get("id")?)
}

/// Every entry, active or not, in ascending id order.
pub async fn list(db: &Db, catalog: Catalog) -> StoreResult<Vec<CatalogEntry>> {
    let rows = sqlx::query(catalog.list_sql())
        .fetch_all(&mut db.read().await?)
        .await?;
    rows.iter()
        .map(|row| {
            Ok(CatalogEntry {
                id: row.try_get("id")?,
                name: row.try_get("name")?,
                detail: row.try_get("detail")?,
                active: super::flag(row, "active")?,
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
    let mut tx = db.begin_catalog_change().await?;
    let done = sqlx::query(catalog.set_active_sql())
        .bind(i64::from(active))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
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
    let mut tx = db.begin_catalog_change().await?;
    let done = sqlx::query(catalog.update_sql())
        .bind(name)
        .bind(detail)
        .bind(active.map(i64::from))
        .bind(id)
        .execute(&mut *tx)
        .await?;
    tx.commit().await?;
    Ok(done.rows_affected() == 1)
}

impl Db {
    /// The active entries of a catalog, from memory when it is current.
    pub async fn active_catalog(&self, catalog: Catalog) -> StoreResult<Arc<[CatalogEntry]>> {
        let memo = self.memo();
        // Read before the database is asked: see `memo`.
        let generation = memo.catalog_generation();
        if let Some(list) = memo.catalog(generation, catalog) {
            return Ok(list);
        }
        let list: Arc<[CatalogEntry]> = list_active(self, catalog).await?.into();
        memo.remember_catalog(generation, catalog, Arc::clone(&list));
        Ok(list)
    }
}
