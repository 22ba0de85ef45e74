//! `supportdesk reindex`: rebuilds the search index from the tickets themselves, with a
//! progress bar. Resumable (an interrupted run continues where it stopped, unless
//! `--from-start`) and safe while servers run: see `store::search::index::run`.

use clap::Args;

use crate::store::Db;
use crate::store::search::index;

#[derive(Args)]
pub struct ReindexArgs {
    /// Begin again from the first ticket, even if an interrupted build could continue.
    #[arg(long)]
    from_start: bool,
}

pub async fn run(db: &Db, args: ReindexArgs) -> anyhow::Result<()> {
    let resumed = index::pending(db).await?.filter(|_| !args.from_start);
    index::start(db, args.from_start).await?;
    if let Some(after) = resumed {
        println!("continuing the interrupted build after ticket {after}");
    }
    let seconds = build_with_progress(db).await?;
    println!("search index built in {seconds:.1} s");
    Ok(())
}

/// Runs the build in progress to its end, showing how far it is; answers the seconds taken.
pub async fn build_with_progress(db: &Db) -> anyhow::Result<f64> {
    let started = std::time::Instant::now();
    let bar = indicatif::ProgressBar::new(0);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{bar:40} {pos}/{len} tickets ({per_sec}, {eta} left)",
        )
        .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    index::run(db, |p| {
        bar.set_length(u64::try_from(p.total).unwrap_or(0));
        bar.set_position(u64::try_from(p.done).unwrap_or(0));
    })
    .await?;
    bar.finish_and_clear();
    Ok(started.elapsed().as_secs_f64())
}
