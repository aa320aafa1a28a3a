//! Prometheus metrics at `GET /metrics` (text exposition format, no token), through the
//! `metrics` facade and its Prometheus exporter:
//!
//! - `corpusminer_http_requests_total{method, route, status}` and
//!   `corpusminer_http_request_duration_seconds{method, route}` (a summary), counted by a
//!   middleware on every route (the route template, never the raw path, so ids do not explode
//!   the label set);
//! - read from the metastore at each scrape, so every replica reports the same:
//!   `corpusminer_iterations{state}`, `corpusminer_shards{state}` (of active iterations),
//!   `corpusminer_pages_scored` and `corpusminer_pages_per_second` (of iterations scoring
//!   now), `corpusminer_shard_leases` (shards leased now);
//! - of this process: `corpusminer_iteration_leases_held` (iterations it drives).

use crate::ApiState;
use axum::extract::{MatchedPath, Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use corpusminer_storage::IterationState;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// The process's recorder: installed once, shared by every router of the process.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| PrometheusBuilder::new().install_recorder().expect("no other metrics recorder is installed in this process"))
}

/// Installs the recorder (idempotent); call before serving so the first requests count.
pub fn install() {
    handle();
}

/// Counts each request by method, route template and status, and times it.
pub async fn track(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().as_str().to_string();
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_else(|| "unmatched".into());
    let resp = next.run(req).await;
    let status = resp.status().as_u16().to_string();
    metrics::counter!("corpusminer_http_requests_total", "method" => method.clone(), "route" => route.clone(), "status" => status).increment(1);
    metrics::histogram!("corpusminer_http_request_duration_seconds", "method" => method, "route" => route).record(started.elapsed().as_secs_f64());
    resp
}

/// The metrics in Prometheus' text exposition format (no token needed).
#[utoipa::path(get, path = "/metrics", tag = "health", responses((status = 200, description = "Prometheus text exposition format", content_type = "text/plain")))]
pub async fn render(State(state): State<ApiState>) -> Response {
    if let Err(e) = refresh(&state).await {
        tracing::warn!(error = %e, "reading metrics from the metastore failed; serving the last values");
    }
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

async fn refresh(state: &ApiState) -> anyhow::Result<()> {
    let ms = &state.metastore;
    let mut by_state = std::collections::BTreeMap::<&str, u64>::new();
    let (mut pending, mut leased, mut done, mut failed) = (0u64, 0u64, 0u64, 0u64);
    let (mut pages, mut rate) = (0u64, 0f64);
    for id in ms.iteration_ids().await? {
        // An iteration deleted since the listing is simply not counted.
        let it = match ms.iteration(id).await {
            Ok(it) => it,
            Err(corpusminer_storage::MetastoreError::NotFound { .. }) => continue,
            Err(e) => return Err(e.into()),
        };
        let Some(s) = IterationState::parse(&it.state) else { continue };
        *by_state.entry(s.as_str()).or_default() += 1;
        if s.is_active() {
            let c = ms.shard_counts(id).await?;
            (pending, leased, done, failed) = (pending + c.pending, leased + c.leased, done + c.done, failed + c.failed);
        }
        if s == IterationState::Scoring {
            let live = crate::iterations::live_progress(state, &it, &ms.shards(id).await?);
            pages += live.pages;
            rate += live.pages_per_second.unwrap_or(0.0);
        }
    }
    for s in IterationState::ALL {
        metrics::gauge!("corpusminer_iterations", "state" => s.as_str()).set(by_state.get(s.as_str()).copied().unwrap_or(0) as f64);
    }
    for (name, n) in [("pending", pending), ("leased", leased), ("done", done), ("failed", failed)] {
        metrics::gauge!("corpusminer_shards", "state" => name).set(n as f64);
    }
    metrics::gauge!("corpusminer_shard_leases").set(leased as f64);
    metrics::gauge!("corpusminer_pages_scored").set(pages as f64);
    metrics::gauge!("corpusminer_pages_per_second").set(rate);
    let held = state.control.as_ref().map(|c| c.drivers.driving().len()).unwrap_or(0);
    metrics::gauge!("corpusminer_iteration_leases_held").set(held as f64);
    Ok(())
}
