//! `corpusminer annotate import|list`: URL path prefixes marked math or not math (step 5 of
//! arXiv 2402.03300 §2.1). A later annotation of a prefix supersedes an earlier one; all are kept.

use crate::domains::StoreArgs;
use clap::{Args, Subcommand, ValueEnum};
use corpusminer_coordinator::annotation::{default_annotator, parse_annotations, ImportDefaults};
use corpusminer_storage::metastore::{annotation_statuses, decided_labels, disputed_prefixes, Annotation, AnnotationStatus};
use serde::Serialize;

/// `corpusminer annotate …`.
#[derive(Debug, Subcommand)]
pub enum AnnotateCommand {
    /// Store the annotations of a CSV or JSON file (columns/fields: prefix, label = math|nonmath,
    /// and optional annotator, note, created_at in RFC 3339). All rows or none.
    Import(AnnotateImportArgs),
    /// Show the current annotation of each prefix, or with --history every annotation.
    List(AnnotateListArgs),
}

/// Arguments of `annotate import`.
#[derive(Debug, Clone, Args)]
pub struct AnnotateImportArgs {
    /// The file: `.csv`, `.json` or `.jsonl` (other names: JSON when it starts with `[` or `{`).
    pub file: std::path::PathBuf,
    /// Annotator of rows that name none (default: the OS user from the password database, else
    /// $USER, else uid:N).
    #[arg(long, value_name = "NAME")]
    pub annotator: Option<String>,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// Output formats of `annotate list`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ListFormat {
    /// Aligned columns.
    Table,
    /// A JSON array of {id, prefix, label, annotator, created_at, note, settles, current, status}.
    Json,
}

/// Arguments of `annotate list`.
#[derive(Debug, Clone, Args)]
pub struct AnnotateListArgs {
    /// Every annotation, oldest first, superseded ones included.
    #[arg(long)]
    pub history: bool,
    /// Output format.
    #[arg(long, value_enum, default_value_t = ListFormat::Table)]
    pub format: ListFormat,
    #[command(flatten)]
    pub store: StoreArgs,
}

/// One row of `annotate list --format json`.
#[derive(Debug, Clone, Serialize)]
pub struct ListedAnnotation {
    /// The stored annotation.
    #[serde(flatten)]
    pub annotation: Annotation,
    /// Whether it is its prefix's deciding annotation, the one the next seed uses.
    pub current: bool,
    /// What it does now: deciding, concurring, disputed, overruled or superseded.
    pub status: AnnotationStatus,
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The `annotate list` table.
pub fn annotations_table(rows: &[ListedAnnotation], history: bool) -> String {
    if rows.is_empty() {
        return "no annotations\n".into();
    }
    let w = rows
        .iter()
        .map(|r| r.annotation.prefix.chars().count())
        .max()
        .unwrap_or(6)
        .max(6);
    let aw = rows
        .iter()
        .map(|r| r.annotation.annotator.chars().count())
        .max()
        .unwrap_or(9)
        .max(9);
    let mut out = String::new();
    if history {
        out.push_str(&format!(
            "{:>6}  {:<w$}  {:<7}  {:<aw$}  {:<20}  {:<10}  note\n",
            "id", "prefix", "label", "annotator", "created_at", "status"
        ));
    } else {
        out.push_str(&format!(
            "{:<w$}  {:<7}  {:<aw$}  {:<20}  note\n",
            "prefix", "label", "annotator", "created_at"
        ));
    }
    for r in rows {
        let a = &r.annotation;
        let at = a
            .created_at
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let note = one_line(a.note.as_deref().unwrap_or(""));
        if history {
            let status = r.status.as_str();
            let line = format!(
                "{:>6}  {:<w$}  {:<7}  {:<aw$}  {:<20}  {:<10}  {note}",
                a.id,
                a.prefix,
                a.label.as_str(),
                a.annotator,
                at,
                status
            );
            out.push_str(line.trim_end());
            out.push('\n');
        } else {
            let line = format!(
                "{:<w$}  {:<7}  {:<aw$}  {:<20}  {note}",
                a.prefix,
                a.label.as_str(),
                a.annotator,
                at
            );
            out.push_str(line.trim_end());
            out.push('\n');
        }
    }
    out
}

/// Runs an `annotate` subcommand; returns what goes to stdout.
pub async fn annotate(cmd: AnnotateCommand) -> anyhow::Result<String> {
    match cmd {
        AnnotateCommand::Import(a) => {
            let path = a.file.display().to_string();
            let text = std::fs::read_to_string(&a.file)
                .map_err(|e| anyhow::anyhow!("reading {path}: {e}"))?;
            let defaults = ImportDefaults {
                annotator: a.annotator.clone().unwrap_or_else(default_annotator),
                now: chrono::Utc::now(),
            };
            let rows = parse_annotations(&path, &text, &defaults)
                .map_err(|e| anyhow::anyhow!("{path}: {e} (nothing was imported)"))?;
            // A new database is fine here: annotations may come before any run; say so.
            let db_file = std::path::Path::new(a.store.out.strip_prefix("file://").unwrap_or(&a.store.out)).join("corpusminer.db");
            let new_db = a.store.db.is_none() && !a.store.out.contains("://") && !db_file.is_file();
            let ms = a.store.connect(false).await?;
            let ids = ms.add_annotations(&rows).await?;
            let current = ms.annotations(false).await?.len();
            ms.close().await;
            Ok(format!(
                "imported {} annotation{} from {path} (ids {} to {}); {current} prefix{} annotated now\n",
                ids.len(),
                if ids.len() == 1 { "" } else { "s" },
                ids.first().copied().unwrap_or(0),
                ids.last().copied().unwrap_or(0),
                if current == 1 { "" } else { "es" },
            ) + &if new_db { format!("note: {} did not exist; it was created for these annotations (no iteration has run there yet)\n", db_file.display()) } else { String::new() })
        }
        AnnotateCommand::List(a) => {
            let ms = a.store.connect(true).await?;
            let history = ms.annotations(true).await?;
            ms.close().await;
            let statuses = annotation_statuses(&history);
            let disputed = disputed_prefixes(&history).len();
            let rows = if a.history { history } else { decided_labels(&history) };
            let rows: Vec<ListedAnnotation> = rows
                .into_iter()
                .map(|annotation| {
                    let status = statuses[&annotation.id];
                    ListedAnnotation { current: status == AnnotationStatus::Deciding, status, annotation }
                })
                .collect();
            Ok(match a.format {
                ListFormat::Table => {
                    let mut out = annotations_table(&rows, a.history);
                    // Disputed prefixes decide nothing, so the plain list leaves them out: say so.
                    if disputed > 0 && !a.history {
                        out.push_str(&format!(
                            "{disputed} disputed prefix{} left out: no seed uses {} until an admin settles {} (annotate list --history, or /ui/disputes)\n",
                            if disputed == 1 { "" } else { "es" },
                            if disputed == 1 { "it" } else { "them" },
                            if disputed == 1 { "it" } else { "them" },
                        ));
                    }
                    out
                }
                ListFormat::Json => serde_json::to_string_pretty(&rows)? + "\n",
            })
        }
    }
}
