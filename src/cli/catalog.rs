//! `supportdesk category …` and `supportdesk tag …`. The two lists are stored alike, but each
//! command takes only its own fields: `category create --keyword` is refused by the parser,
//! not silently dropped.

use clap::Subcommand;

use super::parse_id;
use crate::store::catalog::{self, Catalog};
use crate::store::{Db, StoreError};

#[derive(Subcommand)]
pub enum CategoryCommand {
    /// Add a category; its name must not be taken.
    Create {
        /// The category's name, as customers see it (`Billing`).
        #[arg(long)]
        name: String,
        /// One line shown beside the name.
        #[arg(long, default_value = "")]
        description: String,
    },
    /// List every category, active or not: id, name, description, state.
    List,
    /// Hide a category from the list and from new tickets; tickets keep it.
    Deactivate {
        /// The category's id, as `category list` shows it.
        #[arg(value_parser = parse_id)]
        id: i64,
    },
    /// Make a deactivated category available again.
    Activate {
        /// The category's id, as `category list` shows it.
        #[arg(value_parser = parse_id)]
        id: i64,
    },
}

#[derive(Subcommand)]
pub enum TagCommand {
    /// Add a tag; its name must not be taken.
    Create {
        /// The tag's name, as customers see it (`Urgent`).
        #[arg(long)]
        name: String,
        /// A short keyword for the tag (`urgent`).
        #[arg(long, default_value = "")]
        keyword: String,
    },
    /// List every tag, active or not: id, name, keyword, state.
    List,
    /// Hide a tag from the list and from new choices; tickets keep it.
    Deactivate {
        /// The tag's id, as `tag list` shows it.
        #[arg(value_parser = parse_id)]
        id: i64,
    },
    /// Make a deactivated tag available again.
    Activate {
        /// The tag's id, as `tag list` shows it.
        #[arg(value_parser = parse_id)]
        id: i64,
    },
}

/// What either command asks, once parsed.
enum Action {
    Create { name: String, detail: String },
    List,
    SetActive { id: i64, active: bool },
}

impl From<CategoryCommand> for Action {
    fn from(command: CategoryCommand) -> Self {
        match command {
            CategoryCommand::Create { name, description } => Self::Create {
                name,
                detail: description,
            },
            CategoryCommand::List => Self::List,
            CategoryCommand::Deactivate { id } => Self::SetActive { id, active: false },
            CategoryCommand::Activate { id } => Self::SetActive { id, active: true },
        }
    }
}

impl From<TagCommand> for Action {
    fn from(command: TagCommand) -> Self {
        match command {
            TagCommand::Create { name, keyword } => Self::Create {
                name,
                detail: keyword,
            },
            TagCommand::List => Self::List,
            TagCommand::Deactivate { id } => Self::SetActive { id, active: false },
            TagCommand::Activate { id } => Self::SetActive { id, active: true },
        }
    }
}

fn noun(which: Catalog) -> &'static str {
    match which {
        Catalog::Categories => "category",
        Catalog::Tags => "tag",
    }
}

pub async fn run_categories(db: &Db, command: CategoryCommand) -> anyhow::Result<()> {
    run(db, Catalog::Categories, command.into()).await
}

pub async fn run_tags(db: &Db, command: TagCommand) -> anyhow::Result<()> {
    run(db, Catalog::Tags, command.into()).await
}

async fn run(db: &Db, which: Catalog, action: Action) -> anyhow::Result<()> {
    match action {
        Action::Create { name, detail } => {
            let name = name.trim();
            anyhow::ensure!(!name.is_empty(), "the name must not be empty");
            let id = match catalog::create(db, which, name, detail.trim()).await {
                Ok(id) => id,
                Err(StoreError::Conflict) => {
                    anyhow::bail!("a {} named {name:?} exists already", noun(which))
                }
                Err(err) => return Err(err.into()),
            };
            println!("created {} {id}: {name}", noun(which));
        }
        Action::List => {
            let entries = catalog::list(db, which).await?;
            if entries.is_empty() {
                // On stderr, so that a script reading the list reads no line for no entry.
                eprintln!(
                    "no {} yet (add one with `supportdesk {} create --name NAME`)",
                    match which {
                        Catalog::Categories => "categories",
                        Catalog::Tags => "tags",
                    },
                    noun(which)
                );
            }
            for entry in entries {
                let state = if entry.active { "active" } else { "inactive" };
                println!("{}\t{}\t{}\t{}", entry.id, entry.name, entry.detail, state);
            }
        }
        Action::SetActive { id, active } => {
            anyhow::ensure!(
                catalog::set_active(db, which, id, active).await?,
                "no {} with id {id} (`supportdesk {} list` shows them)",
                noun(which),
                noun(which)
            );
            let verb = if active { "activated" } else { "deactivated" };
            println!("{verb} {} {id}", noun(which));
        }
    }
    Ok(())
}
