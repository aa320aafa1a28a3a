//! `corpusminer export`: an iteration's corpus in another format (Parquet, the dolma fields as
//! columns: [`corpusminer_coordinator::export`]).

use crate::domains::StoreArgs;
use clap::{Args, ValueEnum};
use corpusminer_storage::IterationState;

/// Formats `export` writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// Apache Parquet: columns id, text, source, added, created and metadata (a struct of the
    /// dolma metadata fields); zstd pages, row groups of 8192 documents.
    Parquet,
}

/// Arguments of `corpusminer export`.
#[derive(Debug, Clone, Args)]
pub struct ExportArgs {
    /// The iteration (default: the newest one that is done).
    pub iteration: Option<i64>,
    #[command(flatten)]
    pub store: StoreArgs,
    /// Output format.
    #[arg(long, value_enum, default_value = "parquet")]
    pub format: ExportFormat,
    /// File written (default: corpus-<iteration>.parquet in the current folder).
    #[arg(long, short = 'o', value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// Runs `export`; returns what to print.
pub async fn export(args: ExportArgs) -> anyhow::Result<String> {
    let ms = args.store.connect(true).await?;
    let result = export_in(&ms, &args).await;
    ms.close().await;
    result
}

async fn export_in(ms: &corpusminer_storage::Metastore, args: &ExportArgs) -> anyhow::Result<String> {
    let done = |state: &str| IterationState::parse(state).is_some_and(|s| s.is_done());
    let id = match args.iteration {
        Some(id) => id,
        None => {
            let mut newest = None;
            for id in ms.iteration_ids().await?.into_iter().rev() {
                if done(&ms.iteration(id).await?.state) {
                    newest = Some(id);
                    break;
                }
            }
            newest.ok_or_else(|| anyhow::anyhow!("no iteration is done in {}: `corpusminer status {}` lists them", args.store.flags(), args.store.flags()))?
        }
    };
    let it = ms.iteration(id).await?;
    anyhow::ensure!(done(&it.state), "iteration {id} is {}: its corpus is written when it is done", it.state);
    let out = crate::iterate::out_override(&args.store.out, args.store.db.as_deref());
    let store = corpusminer_coordinator::driver::iteration_store(&it, None, out.as_deref())?;
    let path = args.output.clone().unwrap_or_else(|| format!("corpus-{id}.parquet").into());
    let file = std::fs::File::create(&path).map_err(|e| anyhow::anyhow!("creating {}: {e}", path.display()))?;
    let docs = corpusminer_coordinator::export::export_iteration(store, id, std::io::BufWriter::new(file)).await;
    let docs = match docs {
        Ok(n) => n,
        Err(e) => {
            let _ = std::fs::remove_file(&path);
            return Err(e.into());
        }
    };
    let bytes = std::fs::metadata(&path).map(|m| m.len()).unwrap_or(0);
    Ok(format!("iteration {id}: {docs} documents written to {} ({bytes} bytes, Parquet)\n", path.display()))
}
