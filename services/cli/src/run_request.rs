//! `POST /api/v1/iterations` bodies read as the flags of `corpusminer run`: each field is a
//! flag in snake_case (`token_budget` is `--token-budget`), so the API offers exactly the
//! choices, defaults and checks of the command line, and its OpenAPI schema is generated from
//! the same flag definitions. The server's own settings (`out`, `db`, `workers`, `retries`,
//! `max_attempts`, `s3_endpoint`) are not request fields. Paths and URLs in a body are read by
//! the server with its own access (admins only may send one).

use crate::Cli;
use clap::{ArgAction, CommandFactory, FromArgMatches};
use corpusminer_api::control::{FieldError, RunRequest};
use corpusminer_coordinator::RunConfig;
use serde_json::{json, Map, Value};

/// Flags of `run` a request may not set: they belong to the server.
const SERVER_FLAGS: &[&str] = &["out", "db", "new_chain", "workers", "retries", "max_attempts", "s3_endpoint", "help"];

/// [`RunRequest`] by the `run` flags, for a server whose output folder and metastore are fixed.
pub struct RunFlags {
    /// The server's `--out`.
    pub out: String,
    /// The server's `--db`.
    pub db: Option<String>,
    /// Shards scored at once.
    pub workers: usize,
    /// The server's S3 endpoint.
    pub s3_endpoint: Option<String>,
}

/// Flags of `train` a `train` schedule's template may not set: the job sets them.
const TRAIN_JOB_FLAGS: &[&str] = &["source", "db", "out", "resume", "report_to", "s3_endpoint", "help"];

fn run_command() -> clap::Command {
    Cli::command().find_subcommand("run").expect("run is a subcommand").clone()
}

fn train_command() -> clap::Command {
    Cli::command().find_subcommand("train").expect("train is a subcommand").clone()
}

/// The body field of a flag of `run` (`--token-budget` is `token_budget`), unless the server sets it.
fn field_of(arg: &clap::Arg) -> Option<String> {
    field_but(arg, SERVER_FLAGS)
}

fn field_but(arg: &clap::Arg, reserved: &[&str]) -> Option<String> {
    arg.get_long().map(|l| l.replace('-', "_")).filter(|f| !reserved.contains(&f.as_str()))
}

fn takes_many(arg: &clap::Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append) || arg.get_num_args().is_some_and(|n| n.max_values() > 1) || arg.get_value_delimiter().is_some()
}

/// The JSON type of a flag's values, from the Rust type its parser yields.
fn scalar_type(arg: &clap::Arg) -> &'static str {
    use std::any::TypeId;
    let t = arg.get_value_parser().type_id();
    if [TypeId::of::<u64>(), TypeId::of::<u32>(), TypeId::of::<usize>(), TypeId::of::<i64>(), TypeId::of::<u16>(), TypeId::of::<u8>()].iter().any(|id| t == *id) {
        "integer"
    } else if t == TypeId::of::<f64>() || t == TypeId::of::<f32>() {
        "number"
    } else {
        "string"
    }
}

/// The length of the flag name at the start of `after` (the text after a `--`).
fn flag_len(after: &str) -> usize {
    after.find(|c: char| !(c.is_ascii_alphanumeric() || c == '-')).unwrap_or(after.len())
}

/// `--token-budget` → `token_budget` in a message meant for API users.
fn api_words(message: &str) -> String {
    let mut out = String::with_capacity(message.len());
    let mut rest = message;
    while let Some(i) = rest.find("--") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = flag_len(after);
        if end == 0 {
            out.push_str("--");
        } else {
            out.push_str(&after[..end].replace('-', "_"));
        }
        rest = &after[end..];
    }
    out.push_str(rest);
    out
}

/// The field a message names first (`--threshold 2 is …` → `threshold`), else `body`.
fn first_field(message: &str) -> String {
    message
        .find("--")
        .map(|i| {
            let after = &message[i + 2..];
            after[..flag_len(after)].replace('-', "_")
        })
        .filter(|f| !f.is_empty())
        .unwrap_or_else(|| "body".into())
}

fn error(message: &str) -> FieldError {
    FieldError { field: first_field(message), message: api_words(message) }
}

fn scalar_arg(field: &str, v: &Value) -> Result<String, FieldError> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        other => Err(FieldError { field: field.into(), message: format!("{field}: {other} is not a string or a number") }),
    }
}

impl RunFlags {
    /// The `run` command line of `body`; errors name the field.
    fn argv(&self, body: &Map<String, Value>) -> Result<Vec<String>, FieldError> {
        let cmd = run_command();
        let mut argv = vec!["corpusminer".to_string(), "run".to_string(), format!("--out={}", self.out)];
        if let Some(db) = &self.db {
            argv.push(format!("--db={db}"));
        }
        argv.push(format!("--workers={}", self.workers));
        if let Some(e) = &self.s3_endpoint {
            argv.push(format!("--s3-endpoint={e}"));
        }
        // Every run creates a chain of its own in the server's metastore.
        argv.push("--new-chain".into());
        argv.extend(body_flags(&cmd, SERVER_FLAGS, body, "run")?);
        Ok(argv)
    }
}

/// `body`'s fields as flags of `cmd` (`{"token_budget": 5}` → `--token-budget=5`, lists
/// repeated, `true` a bare flag); fields in `reserved` or not flags of `cmd` are errors.
fn body_flags(cmd: &clap::Command, reserved: &[&str], body: &Map<String, Value>, what: &str) -> Result<Vec<String>, FieldError> {
    let mut argv = Vec::new();
    for (field, value) in body {
        let arg = cmd.get_arguments().find(|a| field_but(a, reserved).as_deref() == Some(field.as_str())).ok_or_else(|| {
            let why = if reserved.contains(&field.as_str()) { "is the server's setting, not a request field".to_string() } else { format!("is not a choice of `{what}` (the schema lists them)") };
            FieldError { field: field.clone(), message: format!("{field} {why}") }
        })?;
        let flag = format!("--{}", arg.get_long().expect("fields are long flags"));
        if matches!(arg.get_action(), ArgAction::SetTrue) {
            match value {
                Value::Bool(true) => argv.push(flag),
                Value::Bool(false) => {}
                other => return Err(FieldError { field: field.clone(), message: format!("{field}: {other} is not true or false") }),
            }
        } else if takes_many(arg) {
            let items: Vec<&Value> = match value {
                Value::Array(a) => a.iter().collect(),
                one => vec![one],
            };
            if items.is_empty() {
                return Err(FieldError { field: field.clone(), message: format!("{field} is an empty list: leave it out, or give at least one value") });
            }
            for item in items {
                argv.push(format!("{flag}={}", scalar_arg(field, item)?));
            }
        } else {
            argv.push(format!("{flag}={}", scalar_arg(field, value)?));
        }
    }
    Ok(argv)
}

impl RunRequest for RunFlags {
    fn schema(&self) -> Value {
        let cmd = run_command();
        let mut properties = Map::new();
        for arg in cmd.get_arguments() {
            let Some(field) = field_of(arg) else { continue };
            let description = arg.get_long_help().or(arg.get_help()).map(|h| api_words(&h.to_string())).unwrap_or_default();
            let mut schema = if matches!(arg.get_action(), ArgAction::SetTrue) {
                json!({"type": "boolean"})
            } else if takes_many(arg) {
                json!({"type": "array", "items": {"type": scalar_type(arg)}, "minItems": 1})
            } else {
                json!({"type": scalar_type(arg)})
            };
            schema["description"] = Value::String(description);
            properties.insert(field, schema);
        }
        json!({
            "type": "object",
            "description": "The choices of `corpusminer run`, each named like its flag in snake_case; defaults as `run --help` shows. Shards come from `input` or `crawl`; the seed from `seed` (with `negatives` or `negatives_from_crawl`), or a trained `model`.",
            "properties": properties,
            "additionalProperties": false,
        })
    }

    fn config(&self, body: &Map<String, Value>) -> Result<RunConfig, FieldError> {
        let argv = self.argv(body)?;
        let matches = run_command().try_get_matches_from(&argv[1..]).map_err(clap_error)?;
        let args = crate::run::RunArgs::from_arg_matches(&matches).map_err(|e| error(&e.to_string()))?;
        crate::run::checked_config(&args).map_err(|e| error(&format!("{e:#}")))
    }

    fn train_keys(&self) -> Vec<String> {
        train_command().get_arguments().filter_map(|a| field_but(a, TRAIN_JOB_FLAGS)).collect()
    }

    fn train_command(&self, template: &Map<String, Value>, iteration: i64, name: &str) -> Result<Vec<String>, FieldError> {
        let folder = format!("training/{name}-{iteration}");
        let local = !self.out.contains("://");
        let db = match &self.db {
            Some(db) => db.clone(),
            None => corpusminer_coordinator::iteration::default_db_url(&self.out).map_err(|e| error(&format!("{e:#}")))?,
        };
        let out = self.out.trim_end_matches('/');
        let mut argv = vec!["train".to_string(), format!("--source=corpus={out}/iterations/{iteration}/corpus"), format!("--db={db}")];
        if local {
            argv.push(format!("--out={out}/{folder}"));
        } else {
            // Checkpoints are local files; the report goes beside the iterations as well.
            argv.push(format!("--out={folder}"));
            argv.push(format!("--report-to={out}/{folder}"));
        }
        if let Some(e) = &self.s3_endpoint {
            argv.push(format!("--s3-endpoint={e}"));
        }
        let cmd = train_command();
        argv.extend(body_flags(&cmd, TRAIN_JOB_FLAGS, template, "train")?);
        cmd.try_get_matches_from(&argv).map_err(clap_error)?;
        Ok(argv)
    }
}

/// A parse error of clap as a [`FieldError`]: its first line (with the lines it introduces,
/// "the following required arguments were not provided: --negatives <FILE>..."), flags named
/// as fields; the usage and help lines after it are left out.
fn clap_error(e: clap::Error) -> FieldError {
    let text = e.to_string();
    let mut lines = text.lines().map(str::trim).filter(|l| !l.is_empty());
    let mut message = lines.next().unwrap_or_default().trim_start_matches("error: ").to_string();
    if message.ends_with(':') {
        let listed: Vec<&str> = lines.take_while(|l| !l.starts_with("Usage:") && !l.starts_with("For more information")).collect();
        message = format!("{message} {}", listed.join(", "));
    }
    error(&message)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn flags() -> RunFlags {
        RunFlags { out: "/tmp/out".into(), db: None, workers: 2, s3_endpoint: None }
    }

    #[test]
    fn schema_names_every_run_flag_but_the_servers() {
        let s = flags().schema();
        let p = &s["properties"];
        for (field, ty) in [("input", "array"), ("seed", "array"), ("threshold", "number"), ("token_budget", "integer"), ("crawl", "string"), ("paper_settings", "boolean"), ("shards", "integer"), ("model", "string")] {
            assert_eq!(p[field]["type"], ty, "{field}: {}", p[field]);
        }
        for server in SERVER_FLAGS {
            assert!(p.get(*server).is_none(), "{server} must not be a request field");
        }
        assert_eq!(s["additionalProperties"], false);
    }

    #[test]
    fn bodies_become_run_flags_and_errors_name_the_field() {
        let body = |v: Value| v.as_object().unwrap().clone();
        let argv = flags().argv(&body(json!({"input": ["a.warc.gz", "b.warc.gz"], "threshold": 0.4, "no_near_dup": true, "paper_settings": false}))).unwrap();
        for want in ["--input=a.warc.gz", "--input=b.warc.gz", "--threshold=0.4", "--no-near-dup", "--out=/tmp/out", "--workers=2"] {
            assert!(argv.contains(&want.to_string()), "{want} missing from {argv:?}");
        }
        assert!(!argv.contains(&"--paper-settings".to_string()));
        for (b, field, says) in [
            (json!({"out": "/elsewhere"}), "out", "server's setting"),
            (json!({"thresold": 0.5}), "thresold", "not a choice"),
            (json!({"no_near_dup": "yes"}), "no_near_dup", "not true or false"),
            (json!({"input": []}), "input", "empty list"),
            (json!({"threshold": [0.5]}), "threshold", "not a string or a number"),
            (json!({"model": "m.bin", "input": ["x.warc.gz"], "threshold": 2}), "threshold", "threshold 2 is not in [0, 1]"),
            (json!({"model": "m.bin", "input": ["x.warc.gz"], "token_budget": "many"}), "token_budget", "invalid value"),
            (json!({"model": "/nonexistent/m.bin", "input": ["/nonexistent/*.warc.gz"]}), "input", "no file matches"),
            (json!({"seed": ["/nonexistent/seed.jsonl"], "input": ["x.warc.gz"]}), "negatives", "required arguments were not provided: negatives"),
        ] {
            let e = flags().config(b.as_object().unwrap()).expect_err(&b.to_string());
            assert_eq!(e.field, field, "{b}: {}", e.message);
            assert!(e.message.contains(says), "{b}: {}", e.message);
            assert!(!e.message.contains("--"), "API errors name fields, not flags: {}", e.message);
        }
    }
}
