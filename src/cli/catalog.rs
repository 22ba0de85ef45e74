//! `supportdesk category|tag create|list|deactivate`: the two lists share their commands.

use clap::Subcommand;

use crate::store::Db;
use crate::store::catalog::{self, Catalog};

#[derive(Subcommand)]
pub enum CatalogCommand {
    /// Add an entry.
    Create {
        #[arg(long)]
        name: String,
        /// A category's description.
        #[arg(long, conflicts_with = "keyword")]
        description: Option<String>,
        /// A tag's keyword.
        #[arg(long)]
        keyword: Option<String>,
    },
    /// List every entry, active or not.
    List,
    /// Hide an entry from the lists and from new choices; tickets keep it.
    Deactivate { id: i64 },
    /// Make a deactivated entry available again.
    Activate { id: i64 },
}

fn noun(which: Catalog) -> &'static str {
    match which {
        Catalog::Categories => "category",
        Catalog::Tags => "tag",
    }
}

pub async fn run(db: &Db, which: Catalog, command: CatalogCommand) -> anyhow::Result<()> {
    match command {
        CatalogCommand::Create {
            name,
            description,
            keyword,
        } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "the name must not be empty");
            let detail = match which {
                Catalog::Categories => description,
                Catalog::Tags => keyword,
            }
            .unwrap_or_default();
            let id = catalog::create(db, which, name, detail.trim()).await?;
            println!("created {} {id}: {name}", noun(which));
        }
        CatalogCommand::List => {
            for entry in catalog::list(db, which).await? {
                let state = if entry.active { "active" } else { "inactive" };
                println!("{}\t{}\t{}\t{}", entry.id, entry.name, entry.detail, state);
            }
        }
        CatalogCommand::Deactivate { id } | CatalogCommand::Activate { id } => {
            let active = matches!(command, CatalogCommand::Activate { .. });
            anyhow::ensure!(
                catalog::set_active(db, which, id, active).await?,
                "no {} with id {id}",
                noun(which)
            );
            let verb = if active { "activated" } else { "deactivated" };
            println!("{verb} {} {id}", noun(which));
        }
    }
    Ok(())
}
