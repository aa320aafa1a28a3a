//! `corpusminer domains list|export`: the hosts an iteration proposed for annotation (kept ratio
//! above `--domain-ratio`, the paper's 10% rule, arXiv 2402.03300 §2.1 step 4) with their counts
//! and best kept pages, read from the metastore.

use clap::{Args, Subcommand, ValueEnum};
use corpusminer_coordinator::annotation::{proposals_csv, proposals_json};
use corpusminer_coordinator::iteration::default_db_url;
use corpusminer_storage::metastore::{Iteration, IterationState, Metastore, Proposal};

/// Where the metastore is: `--db`, or SQLite in `--out` exactly as `corpusminer run` puts it.
#[derive(Debug, Clone, Args)]
pub struct StoreArgs {
    /// Metastore: sqlite://FILE or postgres://USER@HOST/DB. Default: SQLite in --out.
    #[arg(long, env = "CORPUSMINER_DB", hide_env_values = true)]
    pub db: Option<String>,
    /// Output folder of `corpusminer run` (its metastore is OUT/corpusminer.db).
    #[arg(long, default_value = "out")]
    pub out: String,
}

/// The flags that name a metastore and output folder, as the commands that hints suggest
/// spell them: `--out OUT`, and ` --db …` when a `--db` was given (its value may hold a
/// password, so it is never repeated).
pub(crate) fn store_flags(out: &str, db: Option<&str>) -> String {
    match db {
        Some(_) => format!("--out {out} --db …"),
        None => format!("--out {out}"),
    }
}

impl StoreArgs {
    /// [`store_flags`] of these arguments.
    pub(crate) fn flags(&self) -> String {
        store_flags(&self.out, self.db.as_deref())
    }

    /// The metastore URL: `--db`, else [`default_db_url`] of `--out`. With `must_exist`, a
    /// default SQLite file that is not there is an error instead of a new empty database.
    pub fn url(&self, must_exist: bool) -> anyhow::Result<String> {
        if let Some(db) = &self.db {
            // An SQLite --db that is not there would be created, empty, by connecting.
            let file = db.strip_prefix("sqlite://").or_else(|| db.strip_prefix("sqlite:")).or((!db.contains("://")).then_some(db.as_str()));
            if let Some(file) = file.map(|f| f.split('?').next().unwrap_or_default()) {
                if must_exist && file != ":memory:" && !std::path::Path::new(file).is_file() {
                    anyhow::bail!("no metastore at {file}: run `corpusminer run --db {db}` first");
                }
            }
            return Ok(db.clone());
        }
        let local = std::path::Path::new(self.out.strip_prefix("file://").unwrap_or(&self.out))
            .join("corpusminer.db");
        if must_exist && !self.out.contains("://") && !local.is_file() {
            anyhow::bail!(
                "no metastore at {}: run `corpusminer run --out {}` first, or give --db",
                local.display(),
                self.out
            );
        }
        default_db_url(&self.out)
    }

    /// Connects (running migrations) to the metastore of [`StoreArgs::url`].
    pub async fn connect(&self, must_exist: bool) -> anyhow::Result<Metastore> {
        Ok(Metastore::connect(&self.url(must_exist)?).await?)
    }
}

/// `corpusminer domains …`.
#[derive(Debug, Subcommand)]
pub enum DomainsCommand {
    /// Show the hosts proposed for annotation: host, kept/pages, ratio, best sample URL.
    List(DomainsListArgs),
    /// Write the proposed hosts with counts and sample URLs as CSV or JSON.
    Export(DomainsExportArgs),
}

/// Arguments of `domains list`.
#[derive(Debug, Clone, Args)]
pub struct DomainsListArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The iteration (default: the latest finished one).
    #[arg(long, value_name = "N")]
    pub iteration: Option<i64>,
}

/// Export formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ExportFormat {
    /// One row per host; `samples` is a JSON array of {url, score}.
    Csv,
    /// `{"iteration": N, "proposals": [{host, domain, pages, kept_pages, tokens, kept_tokens, ratio, samples}]}`.
    Json,
}

/// Arguments of `domains export`.
#[derive(Debug, Clone, Args)]
pub struct DomainsExportArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The iteration (default: the latest finished one).
    #[arg(long, value_name = "N")]
    pub iteration: Option<i64>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ExportFormat::Csv)]
    pub format: ExportFormat,
    /// Write here instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<std::path::PathBuf>,
}

/// The iteration `requested`, or the latest finished one (awaiting annotation or complete; the
/// latest of all when none finished). Errors when the metastore has no iteration or not this one.
pub async fn pick_iteration(ms: &Metastore, requested: Option<i64>) -> anyhow::Result<Iteration> {
    if let Some(id) = requested {
        return Ok(ms.iteration(id).await?);
    }
    let ids = ms.iteration_ids().await?;
    for &id in ids.iter().rev() {
        let it = ms.iteration(id).await?;
        if IterationState::parse(&it.state).is_some_and(|s| s.is_done()) {
            return Ok(it);
        }
    }
    match ids.last() {
        Some(&id) => Ok(ms.iteration(id).await?),
        None => anyhow::bail!(
            "the metastore {} has no iteration yet: run `corpusminer run` first",
            ms.redacted_url()
        ),
    }
}

fn shorten(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        format!(
            "{}…",
            s.chars().take(max.saturating_sub(1)).collect::<String>()
        )
    }
}

/// The `domains list` table of `proposals` proposed by `it`; `languages` gives each host's
/// languages with their pages, most first ([`Metastore::host_languages`]): the table shows the
/// main one and its share.
pub fn proposals_table(it: &Iteration, proposals: &[Proposal], languages: &std::collections::BTreeMap<String, Vec<(String, i64)>>) -> String {
    let ratio_rule = serde_json::from_str::<serde_json::Value>(&it.config_json)
        .ok()
        .and_then(|c| c["domain_ratio"].as_f64());
    let mut out = format!(
        "iteration {} ({}, {}, threshold {}): {} host{} proposed{}\n",
        it.id,
        it.crawl,
        it.state,
        it.threshold
            .map(|t| format!("{t:.4}"))
            .unwrap_or_else(|| "not chosen".into()),
        proposals.len(),
        if proposals.len() == 1 { "" } else { "s" },
        ratio_rule
            .map(|r| format!(" (kept ratio > {r})"))
            .unwrap_or_default(),
    );
    if proposals.is_empty() {
        return out;
    }
    let host_w = proposals
        .iter()
        .map(|p| p.host.chars().count())
        .max()
        .unwrap_or(4)
        .clamp(4, 40);
    out.push_str(&format!(
        "{:<host_w$}  {:>12}  {:>6}  {:<8}  {:<5}  top sample (its score: P(math))\n",
        "host", "kept/pages", "ratio", "language", "score"
    ));
    for p in proposals {
        let (url, score) = match p.samples.first() {
            Some((u, s)) => (shorten(u, 100), format!("{s:.3}")),
            None => ("-".to_string(), "-".to_string()),
        };
        let lang = match languages.get(&p.host).map(Vec::as_slice) {
            Some([(l, _)]) => l.clone(),
            Some([(l, n), ..]) => {
                let all: i64 = languages[&p.host].iter().map(|(_, n)| n).sum();
                format!("{l} {:.0}%", 100.0 * *n as f64 / all.max(1) as f64)
            }
            _ => "-".to_string(),
        };
        out.push_str(&format!(
            "{:<host_w$}  {:>12}  {:>5.1}%  {:<8}  {:<5}  {}\n",
            shorten(&p.host, host_w),
            format!("{}/{}", p.kept_pages, p.pages),
            p.ratio * 100.0,
            lang,
            score,
            url
        ));
    }
    out
}

/// Runs a `domains` subcommand; returns what goes to stdout (empty when `--output` was given).
pub async fn domains(cmd: DomainsCommand) -> anyhow::Result<String> {
    match cmd {
        DomainsCommand::List(a) => {
            let ms = a.store.connect(true).await?;
            let it = pick_iteration(&ms, a.iteration).await?;
            let proposals = ms.proposals(it.id).await?;
            let languages = ms.host_languages(it.id).await?;
            ms.close().await;
            Ok(proposals_table(&it, &proposals, &languages))
        }
        DomainsCommand::Export(a) => {
            let ms = a.store.connect(true).await?;
            let it = pick_iteration(&ms, a.iteration).await?;
            let proposals = ms.proposals(it.id).await?;
            ms.close().await;
            let text = match a.format {
                ExportFormat::Csv => proposals_csv(it.id, &proposals),
                ExportFormat::Json => proposals_json(it.id, &proposals) + "\n",
            };
            match a.output {
                Some(path) => {
                    std::fs::write(&path, text)
                        .map_err(|e| anyhow::anyhow!("writing {}: {e}", path.display()))?;
                    tracing::info!(iteration = it.id, hosts = proposals.len(), path = %path.display(), "proposals exported");
                    Ok(String::new())
                }
                None => Ok(text),
            }
        }
    }
}
