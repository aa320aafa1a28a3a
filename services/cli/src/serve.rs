//! `corpusminer serve` (the HTTP API of `services/api`) and `corpusminer admin token …` (the
//! bearer tokens it accepts).

use crate::domains::StoreArgs;
use clap::builder::TypedValueParser;
use clap::{Args, Subcommand};
use corpusminer_storage::Role;
use std::net::SocketAddr;

/// Arguments of `corpusminer serve`.
#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// Address to listen on (`0.0.0.0:8080` for every interface).
    #[arg(long, default_value = "127.0.0.1:8080", env = "CORPUSMINER_LISTEN")]
    pub listen: SocketAddr,
}

/// `corpusminer admin …`.
#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Bearer tokens of `serve`: create (printed once; only its SHA-256 is stored), list, revoke.
    #[command(subcommand)]
    Token(TokenCommand),
}

/// `corpusminer admin token …`.
#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Make a token and print it once (it cannot be shown again: store it now).
    Create(TokenCreateArgs),
    /// Every token: id, name, role, created, revoked.
    List(StoreArgs),
    /// Revoke a token by id: it stops working at once, on every replica.
    Revoke(TokenRevokeArgs),
}

/// Arguments of `admin token create`.
#[derive(Debug, Args)]
pub struct TokenCreateArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// What it may do: `admin` (everything), `annotator` (read and annotate), `worker` (lease
    /// and report shards).
    #[arg(long, value_parser = clap::builder::PossibleValuesParser::new(["admin", "annotator", "worker"]).map(|s| s.parse::<Role>().expect("a listed role")))]
    pub role: Role,
    /// Who holds it: recorded as the annotator of what it writes.
    #[arg(long)]
    pub name: String,
}

/// Arguments of `admin token revoke`.
#[derive(Debug, Args)]
pub struct TokenRevokeArgs {
    #[command(flatten)]
    pub store: StoreArgs,
    /// The token's id (`admin token list`).
    pub id: i64,
}

/// Runs `admin …`; returns what to print.
pub async fn admin(cmd: AdminCommand) -> anyhow::Result<String> {
    match cmd {
        AdminCommand::Token(TokenCommand::Create(a)) => {
            anyhow::ensure!(!a.name.trim().is_empty(), "--name is empty: name the person or service the token is for");
            let ms = a.store.connect(false).await?;
            let made = ms.create_token(&a.name, a.role).await;
            ms.close().await;
            let (row, token) = made?;
            Ok(format!("{token}\n# token {} for {:?}, role {}: shown once, only its SHA-256 is stored\n", row.id, row.name, row.role))
        }
        AdminCommand::Token(TokenCommand::List(store)) => {
            let ms = store.connect(true).await?;
            let tokens = ms.tokens().await;
            ms.close().await;
            let tokens = tokens?;
            if tokens.is_empty() {
                return Ok(format!("no tokens: make one with `corpusminer admin token create {} --role admin --name NAME`\n", store.flags()));
            }
            let when = |ms: i64| chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M:%S UTC").to_string());
            let mut out = format!("{:>4}  {:<24} {:<10} {:<24} {}\n", "id", "name", "role", "created", "revoked");
            for t in tokens {
                out += &format!("{:>4}  {:<24} {:<10} {:<24} {}\n", t.id, t.name, t.role.as_str(), when(t.created_at_ms), t.revoked_at_ms.map_or("-".to_string(), when));
            }
            Ok(out)
        }
        AdminCommand::Token(TokenCommand::Revoke(a)) => {
            let ms = a.store.connect(true).await?;
            let done = ms.revoke_token(a.id).await;
            ms.close().await;
            done.map_err(|e| anyhow::anyhow!("{e}: `corpusminer admin token list {}` shows the tokens", a.store.flags()))?;
            Ok(format!("token {} revoked\n", a.id))
        }
    }
}

/// Runs `serve` until SIGINT or SIGTERM, then lets the requests in flight finish.
pub async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let ms = args.store.connect(false).await?;
    tracing::info!(db = %ms.redacted_url(), out = %args.store.out, listen = %args.listen, "corpusminer serve");
    let listener = tokio::net::TcpListener::bind(args.listen).await.map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", args.listen))?;
    let addr = listener.local_addr()?;
    println!("corpusminer serve: listening on http://{addr} (API under /api/v1, document at /api/v1/openapi.json)");
    if ms.tokens().await?.iter().all(|t| t.revoked_at_ms.is_some()) {
        println!("no valid token yet: make one with `corpusminer admin token create {} --role admin --name NAME`", args.store.flags());
    }
    let state = corpusminer_api::ApiState { metastore: ms.clone() };
    corpusminer_api::serve(listener, state, shutdown_signal()).await?;
    ms.close().await;
    println!("corpusminer serve: stopped");
    Ok(())
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        _ = ctrl_c => {},
        _ = term => {},
    }
    tracing::info!("shutting down: finishing the requests in flight");
}
