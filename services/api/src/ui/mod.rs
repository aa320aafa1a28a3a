//! The web UI under `/ui`: server-rendered HTML (maud), one stylesheet and one small script,
//! all compiled into the binary (no CDN, no build step besides cargo).
//!
//! - `/ui/login`: a token from `corpusminer admin token create` opens a session (a session
//!   secret in an HttpOnly, SameSite=Strict cookie, never the token; it lasts
//!   [`crate::auth::SESSION_TTL`]; writes also need the UI's own header, see
//!   [`crate::auth::UI_HEADER`]). `/ui/logout` ends it on every replica.
//! - `/ui/iterations`: every iteration with its state and live progress.
//! - `/ui/iterations/{id}`: the hosts it proposes, what is labelled and what is left, ordered
//!   by how much a label would change the next seed ([`corpusminer_coordinator::browse::labelling_value`]).
//! - `/ui/iterations/{id}/hosts/{host}`: the host's path tree; one key labels the selected
//!   prefix math (`m`) or not math (`n`) and moves to the next unlabelled one; `u` undoes.
//! - `/ui/disputes`: prefixes annotators disagree on, Cohen's kappa per pair of annotators,
//!   and (admins) one click to settle a prefix.
//! - `/ui/iterations/{id}/pages/{page_id}`: a page's extracted text, formulas as MathML
//!   ([`math`]).

use crate::auth::{Caller, SESSION_COOKIE, SESSION_TTL};
use crate::error::ApiError;
use crate::ApiState;
use axum::extract::{Form, Path, State};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::get;
use axum::Router;
use corpusminer_coordinator::annotation::label_of;
use corpusminer_storage::Role;
use maud::{html, Markup, DOCTYPE};
use serde::Deserialize;

pub mod math;

const CSS: &str = include_str!("ui.css");
const ANNOTATE_JS: &str = include_str!("annotate.js");
const ACTIONS_JS: &str = include_str!("actions.js");

/// The UI's routes (mounted at `/ui`).
pub fn routes() -> Router<ApiState> {
    Router::new()
        .route("/", get(|| async { Redirect::to("/ui/iterations") }))
        .route("/login", get(login_page).post(login))
        .route("/logout", axum::routing::post(logout))
        .route("/assets/ui.css", get(|| async { asset("text/css; charset=utf-8", CSS) }))
        .route("/assets/annotate.js", get(|| async { asset("text/javascript; charset=utf-8", ANNOTATE_JS) }))
        .route("/assets/actions.js", get(|| async { asset("text/javascript; charset=utf-8", ACTIONS_JS) }))
        .route("/iterations", get(iterations))
        .route("/iterations/{id}", get(iteration))
        .route("/iterations/{id}/hosts/{host}", get(host))
        .route("/iterations/{id}/pages/{page_id}", get(page))
        .route("/disputes", get(disputes))
}

fn asset(kind: &'static str, body: &'static str) -> Response {
    ([(header::CONTENT_TYPE, kind), (header::CACHE_CONTROL, "max-age=300")], body).into_response()
}

fn layout(title: &str, caller: Option<&Caller>, body: Markup) -> Response {
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (title) " · corpusminer" }
                link rel="stylesheet" href="/ui/assets/ui.css";
            }
            body {
                header {
                    a.brand href="/ui/iterations" { "corpusminer" }
                    nav { a href="/ui/iterations" { "Iterations" } a href="/ui/disputes" { "Disputes" } }
                    @if let Some(c) = caller {
                        span.who { (c.name) " (" (c.role.as_str()) ") " }
                        form method="post" action="/ui/logout" { button type="submit" { "Sign out" } }
                    }
                }
                main { (body) }
            }
        }
    };
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8")], page.into_string()).into_response()
}

/// A UI page's caller, or the login page for a browser without a (valid) session.
fn signed_in(caller: Result<Caller, ApiError>) -> Result<Caller, Response> {
    match caller {
        Ok(c) if c.role != Role::Worker => Ok(c),
        Ok(_) => Err(layout("Not for workers", None, html! { p.error { "A worker token cannot use the web UI." } })),
        Err(_) => Err(Redirect::to("/ui/login").into_response()),
    }
}

fn failure(e: ApiError) -> Response {
    let status = e.status;
    let mut r = layout("Error", None, html! { h1 { "Error" } p.error { (e.body.message) } });
    *r.status_mut() = status;
    r
}

async fn login_page() -> Response {
    login_form(None)
}

fn login_form(error: Option<&str>) -> Response {
    layout(
        "Sign in",
        None,
        html! {
            h1 { "Sign in" }
            form.login method="post" action="/ui/login" {
                label for="token" { "Token" }
                input #token type="password" name="token" autocomplete="off" autofocus placeholder="cm_…";
                @if let Some(e) = error { p.error { (e) } }
                button type="submit" { "Sign in" }
                p.muted { "Make one with " code { "corpusminer admin token create --role annotator --name NAME" } "." }
            }
        },
    )
}

/// The login form's body.
#[derive(Deserialize)]
struct LoginForm {
    token: String,
}

async fn login(State(state): State<ApiState>, Form(f): Form<LoginForm>) -> Response {
    let token = f.token.trim();
    match state.metastore.token_by_secret(token).await {
        Ok(Some(t)) if t.role != Role::Worker => {
            let secret = match state.metastore.create_session(&t, SESSION_TTL).await {
                Ok(s) => s,
                Err(e) => return failure(e.into()),
            };
            let mut r = Redirect::to("/ui/iterations").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("{SESSION_COOKIE}={secret}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}", SESSION_TTL.as_secs())) {
                r.headers_mut().insert(header::SET_COOKIE, v);
            }
            r
        }
        Ok(Some(_)) => with_status(login_form(Some("A worker token cannot sign in.")), StatusCode::FORBIDDEN),
        Ok(None) => with_status(login_form(Some("Unknown or revoked token.")), StatusCode::UNAUTHORIZED),
        Err(e) => failure(e.into()),
    }
}

fn with_status(mut r: Response, s: StatusCode) -> Response {
    *r.status_mut() = s;
    r
}

async fn logout(State(state): State<ApiState>, headers: axum::http::HeaderMap) -> Response {
    if let Some(secret) = crate::auth::cookie(&headers, SESSION_COOKIE).filter(|s| !s.is_empty()) {
        if let Err(e) = state.metastore.end_session(secret).await {
            return failure(e.into());
        }
    }
    let mut r = Redirect::to("/ui/login").into_response();
    r.headers_mut().insert(header::SET_COOKIE, HeaderValue::from_static("cm_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"));
    r
}

async fn iterations(State(state): State<ApiState>, caller: Result<Caller, ApiError>) -> Response {
    let caller = match signed_in(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let mut rows = Vec::new();
    let ids = match state.metastore.iteration_ids().await {
        Ok(ids) => ids,
        Err(e) => return failure(e.into()),
    };
    for id in ids.into_iter().rev() {
        let it = match state.metastore.iteration(id).await {
            Ok(it) => it,
            Err(_) => continue,
        };
        let counts = state.metastore.shard_counts(id).await.unwrap_or_default();
        let shards = state.metastore.shards(id).await.unwrap_or_default();
        let live = crate::iterations::live_progress(&state, &it, &shards);
        let reasons = corpusminer_coordinator::driver::failure_reasons(&shards);
        rows.push((it, counts, live, reasons));
    }
    let schedules = corpusminer_coordinator::scheduler::schedule_statuses(&state.metastore).await.unwrap_or_default();
    let trainings = state.metastore.training_runs(20).await.unwrap_or_default();
    let admin = caller.role == Role::Admin;
    let active = rows.iter().any(|(it, _, _, _)| corpusminer_storage::IterationState::parse(&it.state).is_some_and(|s| s.is_active()));
    let body = html! {
        @if active { meta http-equiv="refresh" content="5"; }
        h1 { "Iterations" }
        p #action-status {}
        @if rows.is_empty() {
            p.muted { "No iteration yet: start one with " code { "POST /api/v1/iterations" } " or " code { "corpusminer run" } "." }
        } @else {
            table #iterations {
                thead { tr { th { "#" } th { "crawl" } th { "state" } th { "shards" } th.num { "pages" } th.num { "pages/s" } th.num { "ETA" } th { "created" } @if admin { th { "actions" } } } }
                tbody {
                    @for (it, c, live, reasons) in &rows {
                        tr {
                            td { a href=(format!("/ui/iterations/{}", it.id)) { (it.id) } }
                            td { (it.crawl) }
                            td { span class=(format!("state {}", it.state)) { (it.state) } }
                            td {
                                div.bar title=(format!("{} of {} done, {} leased, {} failed", c.done, c.total(), c.leased, c.failed)) {
                                    span style=(format!("width: {:.0}%", if c.total() > 0 { 100.0 * (c.done + c.failed) as f64 / c.total() as f64 } else { 0.0 })) {}
                                }
                                span.muted { (c.done) " / " (c.total()) @if c.leased > 0 { ", " (c.leased) " leased" } }
                                @if c.failed > 0 { br; span.error title="failed shards by reason" { (c.failed) " failed: " (reasons) } }
                            }
                            td.num { (live.pages) }
                            td.num { (live.pages_per_second.map(|r| format!("{r:.0}")).unwrap_or_default()) }
                            td.num { (live.eta_seconds.map(|s| format!("{s:.0} s")).unwrap_or_default()) }
                            td.muted { (it.created_at.format("%Y-%m-%d %H:%M")) }
                            @if admin { td { (actions(it, c)) } }
                        }
                    }
                }
            }
        }
        h2 { "Schedules" }
        @if schedules.is_empty() {
            p.muted { "No schedule: add one with " code { "corpusminer schedule add" } " or " code { "POST /api/v1/schedules" } "." }
        } @else {
            table #schedules {
                thead { tr { th { "name" } th { "kind" } th { "when" } th { "next run" } th { "latest run" } } }
                tbody {
                    @for corpusminer_coordinator::scheduler::ScheduleStatus { schedule: s, next_run_ms: next, last_run: last } in &schedules {
                        tr {
                            td { (s.spec.name) }
                            td { (s.spec.kind.as_str()) }
                            td { code { (s.spec.cron) } " " span.muted { (s.spec.timezone) } }
                            td.muted { (next.map(utc_minute).unwrap_or_else(|| "never".into())) }
                            td {
                                @if let Some(r) = last {
                                    span class=(format!("state {}", r.state.as_str())) { (r.state.as_str()) }
                                    " " span.muted { (utc_minute(r.slot_ms)) }
                                    @if let Some(text) = r.error.as_ref().or(r.outcome.as_ref()) { br; span class=(if r.error.is_some() { "error" } else { "muted" }) { (text) } }
                                } @else { span.muted { "not run yet" } }
                            }
                        }
                    }
                }
            }
        }
        @if !trainings.is_empty() {
            h2 { "Training runs" }
            table #training {
                thead { tr { th { "name" } th { "state" } th { "steps" } th.num { "loss" } th.num { "tokens/s" } th.num { "ETA" } th { "report" } } }
                tbody {
                    @for t in &trainings {
                        tr {
                            td { (t.name) }
                            td { span class=(format!("state {}", t.state)) { (t.state) } }
                            td {
                                @let step = t.progress.map_or(0, |p| p.step);
                                div.bar title=(format!("{step} of {} steps", t.steps)) { span style=(format!("width: {:.0}%", if t.steps > 0 { 100.0 * step as f64 / t.steps as f64 } else { 0.0 })) {} }
                                span.muted { (step) " / " (t.steps) }
                            }
                            td.num { (t.progress.map(|p| format!("{:.3}", p.loss)).unwrap_or_default()) }
                            td.num { (t.progress.map(|p| format!("{:.0}", p.tokens_per_s)).unwrap_or_default()) }
                            td.num { (t.progress.filter(|_| t.state == "running").map(|p| format!("{:.0} s", p.eta_s)).unwrap_or_default()) }
                            td { @if let Some(e) = &t.error { span.error { (e) } } @else { span.muted { (t.report_key.clone().unwrap_or_default()) } } }
                        }
                    }
                }
            }
        }
    };
    let form = html! {
        @if admin {
            details #start {
                summary { "Start an iteration" }
                form #start-form {
                    p.muted { "The choices of " code { "corpusminer run" } ", named like its flags in snake_case (" code { "input" } ", " code { "seed" } ", " code { "negatives" } ", " code { "threshold" } ", " code { "token_budget" } ", " code { "model" } ", …); paths are the server's." }
                    textarea name="body" rows="6" cols="100" spellcheck="false" { (START_TEMPLATE) }
                    p { button type="submit" { "Start" } }
                }
            }
        }
    };
    layout("Iterations", Some(&caller), html! { (form) (body) @if admin { script src="/ui/assets/actions.js" {} } })
}

/// Unix epoch ms as `2026-12-04 03:00 UTC`.
fn utc_minute(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms).map_or_else(|| ms.to_string(), |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

/// What the start form holds at first.
const START_TEMPLATE: &str = "{\n  \"input\": [\"shards/*.warc.gz\"],\n  \"seed\": [\"seed.jsonl\"],\n  \"negatives\": [\"negatives.jsonl\"]\n}";

/// The admin buttons an iteration offers in its state: next (done), resume (failed, or done
/// with failed shards), cancel (active).
fn actions(it: &corpusminer_storage::Iteration, c: &corpusminer_storage::ShardCounts) -> Markup {
    use corpusminer_storage::IterationState as S;
    let s = S::parse(&it.state);
    let id = it.id;
    html! {
        @if s.is_some_and(|s| s.is_done()) {
            button.action data-action=(format!("/api/v1/iterations/{id}/next")) { "Next iteration" } " "
        }
        @if s == Some(S::Failed) || (s.is_some_and(|s| s.is_done()) && c.failed > 0) {
            button.action data-action=(format!("/api/v1/iterations/{id}/resume")) { "Resume" } " "
        }
        @if s.is_some_and(|s| s.is_active()) {
            button.action.danger data-action=(format!("/api/v1/iterations/{id}/cancel")) data-confirm=(format!("Cancel iteration {id}? It cannot be resumed.")) { "Cancel" }
        }
    }
}

async fn iteration(State(state): State<ApiState>, caller: Result<Caller, ApiError>, Path(id): Path<i64>) -> Response {
    let caller = match signed_in(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let (it, proposals, annotations, value) = match async {
        let (it, shards, store) = crate::browse::scored_shards(&state, id).await?;
        let proposals = state.metastore.proposals(id).await?;
        let annotations = state.metastore.annotations(false).await?;
        let hosts = proposals.iter().map(|p| p.host.clone()).collect();
        let value = corpusminer_coordinator::browse::labelling_value(&store, &shards, &hosts, &annotations).await.map_err(crate::browse::unavailable)?;
        Ok::<_, ApiError>((it, proposals, annotations, value))
    }
    .await
    {
        Ok(v) => v,
        Err(e) => return failure(e),
    };
    let mut rows: Vec<_> = proposals
        .iter()
        .map(|p| {
            let labels: Vec<&str> = annotations.iter().filter(|a| corpusminer_coordinator::annotation::prefix_on_host(&a.prefix, &p.host)).map(|a| a.label.as_str()).collect();
            (p, labels, value.get(&p.host).copied().unwrap_or(0.0))
        })
        .collect();
    // What labelling would change most first: pages no label covers, times how uncertain
    // their scores are.
    rows.sort_by(|a, b| b.2.total_cmp(&a.2).then(b.0.kept_pages.cmp(&a.0.kept_pages)).then(a.0.host.cmp(&b.0.host)));
    let left = rows.iter().filter(|r| r.1.is_empty()).count();
    let chain = chain_convergence(&state, &it).await;
    let body = html! {
        h1 { "Iteration " (id) " " span class=(format!("state {}", it.state)) { (it.state) } }
        p.muted { (proposals.len()) " hosts proposed, " (left) " without a label. Threshold " (it.threshold.map(|t| format!("{t:.4}")).unwrap_or_else(|| "not chosen yet".into())) "." }
        @if chain.len() > 1 { (convergence_chart(&chain)) }
        table #proposals {
            thead { tr { th { "host" } th.num title="pages no label covers, times how uncertain their scores are" { "labelling value" } th.num { "kept ratio" } th.num { "kept pages" } th.num { "pages" } th { "labels" } } }
            tbody {
                @for (p, labels, v) in &rows {
                    tr {
                        td { a href=(format!("/ui/iterations/{id}/hosts/{}", p.host)) { (p.host) } }
                        td.num { (format!("{v:.2}")) }
                        td.num { (format!("{:.2}", p.ratio)) }
                        td.num { (p.kept_pages) }
                        td.num { (p.pages) }
                        td { @if labels.is_empty() { span.muted { "none" } } @else { @for l in labels { span class=(format!("label {l}")) { (l) " " } } } }
                    }
                }
            }
        }
    };
    layout(&format!("Iteration {id}"), Some(&caller), body)
}

/// Flattens the path tree into rows of (depth, node), parents before children.
fn flatten(node: corpusminer_coordinator::browse::PathNode, depth: usize, out: &mut Vec<(usize, corpusminer_coordinator::browse::PathNode)>) {
    let mut node = node;
    let children = std::mem::take(&mut node.children);
    out.push((depth, node));
    for c in children {
        flatten(c, depth + 1, out);
    }
}

async fn host(State(state): State<ApiState>, caller: Result<Caller, ApiError>, Path((id, host)): Path<(i64, String)>) -> Response {
    let caller = match signed_in(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let host = match crate::browse::host_param(&host) {
        Ok(h) => h,
        Err(e) => return failure(e),
    };
    let loaded = async {
        let (it, shards, store) = crate::browse::scored_shards(&state, id).await?;
        let bucket = it.threshold_bucket.map(|b| b.max(0) as usize);
        let tree = corpusminer_coordinator::browse::host_paths(&store, &shards, &host, bucket, 3).await.map_err(crate::browse::unavailable)?;
        let annotations = state.metastore.annotations(false).await?;
        Ok::<_, ApiError>((tree, annotations))
    };
    let (tree, annotations) = match loaded.await {
        Ok((Some(t), a)) => (t, a),
        Ok((None, _)) => return failure(ApiError::not_found(format!("iteration {id} scored no page of {host}"))),
        Err(e) => return failure(e),
    };
    let mut rows = Vec::new();
    flatten(tree, 0, &mut rows);
    let body = html! {
        h1 { a href=(format!("/ui/iterations/{id}")) { "Iteration " (id) } " · " (host) }
        p.keys { kbd { "j" } "/" kbd { "k" } " move · " kbd { "m" } " math · " kbd { "n" } " not math · " kbd { "u" } " undo · " kbd { "s" } " skip · " kbd { "?" } " help" }
        p #status {}
        table #paths {
            thead { tr { th { "prefix" } th.num { "pages" } th.num { "kept" } th.num { "mean score" } th { "label" } th { "best pages" } } }
            tbody {
                @for (depth, n) in &rows {
                    @let own = annotations.iter().find(|a| a.prefix == n.prefix).map(|a| a.label.as_str());
                    @let inherited = label_of(&format!("https://{}", n.prefix), &annotations).map(|a| a.label.as_str());
                    tr.prefix data-prefix=(n.prefix) data-label=(own.unwrap_or("")) {
                        td.path style=(format!("padding-left: {}rem", 0.6 + 1.2 * *depth as f64)) { (n.prefix.rsplit('/').next().filter(|_| *depth > 0).unwrap_or(&n.prefix)) }
                        td.num { (n.pages) }
                        td.num { (n.kept_pages) }
                        td.num { (format!("{:.3}", n.mean_score)) }
                        td.labelcell {
                            @if let Some(l) = own { span class=(format!("label {l}")) { (if l == "math" { "math" } else { "not math" }) } }
                            @else if let Some(l) = inherited { span.muted { "(" (l) " from above)" } }
                        }
                        td { @for (pid, url, score) in &n.samples { a href=(format!("/ui/iterations/{id}/pages/{pid}")) title=(url) { (format!("{score:.2}")) } " " } }
                    }
                }
            }
        }
        div #help {
            h2 { "Keys" }
            p { kbd { "j" } " or " kbd { "↓" } ": next prefix; " kbd { "k" } " or " kbd { "↑" } ": previous" }
            p { kbd { "m" } ": the selected prefix is math; " kbd { "n" } ": not math; then the next unlabelled prefix is selected" }
            p { kbd { "u" } ": undo the last label made here (the label before it decides again)" }
            p { kbd { "s" } ": skip to the next unlabelled prefix; " kbd { "?" } " or " kbd { "Esc" } ": close this" }
            p.muted { "A label covers every URL under its prefix; a longer prefix's label wins below it." }
        }
        script src="/ui/assets/annotate.js" {}
    };
    layout(&host, Some(&caller), body)
}

async fn page(State(state): State<ApiState>, caller: Result<Caller, ApiError>, Path((id, page_id)): Path<(i64, String)>) -> Response {
    let caller = match signed_in(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let found = async {
        let (_, shards, store) = crate::browse::scored_shards(&state, id).await?;
        corpusminer_coordinator::browse::find_page(&store, &shards, &page_id).await.map_err(crate::browse::unavailable)
    };
    let f = match found.await {
        Ok(Some(f)) => f,
        Ok(None) => return failure(ApiError::not_found(format!("iteration {id} has no page {page_id:?}"))),
        Err(e) => return failure(e),
    };
    let body = html! {
        h1 { a href=(format!("/ui/iterations/{id}/hosts/{}", f.page.host)) { (f.page.host) } " · score " (format!("{:.3}", f.page.score)) }
        p { a href=(f.page.url) rel="noreferrer noopener" { (f.page.url) } span.muted { " · " (f.page.lang) " · " (f.page.tokens) " tokens" } }
        @match &f.text {
            Some(t) => div.text { (math::render(t)) },
            None => p.muted { "Its text was not stored (its score is below the run's text floor)." },
        }
    };
    layout(&f.page.host, Some(&caller), body)
}

async fn disputes(State(state): State<ApiState>, caller: Result<Caller, ApiError>) -> Response {
    let caller = match signed_in(caller) {
        Ok(c) => c,
        Err(r) => return r,
    };
    let history = match state.metastore.annotations(true).await {
        Ok(h) => h,
        Err(e) => return failure(e.into()),
    };
    let d = crate::annotations::disputes_of(&history);
    let admin = caller.role == Role::Admin;
    let body = html! {
        h1 { "Disputes" }
        p.muted { "A prefix whose annotators disagree is used by no seed until an admin settles it; a settlement decides it whatever was said." }
        p #action-status {}
        @if d.disputes.is_empty() {
            p { "No disputed prefix." }
        } @else {
            table #disputes {
                thead { tr { th { "prefix" } th { "labels" } @if admin { th { "settle as" } } } }
                tbody {
                    @for x in &d.disputes {
                        tr {
                            td.path { (x.prefix) }
                            td { @for (who, l) in &x.labels { span class=(format!("label {l}")) { (who) ": " (l) } " " } }
                            @if admin {
                                td {
                                    button.action data-settle=(x.prefix) data-label="math" { "math" } " "
                                    button.action.danger data-settle=(x.prefix) data-label="nonmath" { "not math" }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Agreement" }
        @if d.agreement.is_empty() {
            p.muted { "No two annotators have labelled the same prefix yet." }
        } @else {
            table #agreement {
                thead { tr { th { "annotators" } th.num { "prefixes both labelled" } th.num { "agreed" } th.num { "Cohen's kappa" } } }
                tbody {
                    @for p in &d.agreement {
                        tr { td { (p.a) " · " (p.b) } td.num { (p.prefixes) } td.num { (p.agreed) } td.num { (p.kappa.map(|k| format!("{k:.3}")).unwrap_or_else(|| "undefined".into())) } }
                    }
                }
            }
        }
        @if admin { script src="/ui/assets/actions.js" {} }
    };
    layout("Disputes", Some(&caller), body)
}

/// The chain ending at `it`, first iteration first: (id, retention of pages, of tokens) against
/// each one's parent (`None` for the first, and for iterations not done yet).
async fn chain_convergence(state: &ApiState, it: &corpusminer_storage::Iteration) -> Vec<(i64, Option<(f64, f64)>)> {
    let mut chain = Vec::new();
    let mut at = Some(it.clone());
    while let Some(i) = at {
        let retention = i.report_json.as_deref().and_then(|j| serde_json::from_str::<serde_json::Value>(j).ok()).and_then(|r| Some((r["convergence"]["retention_pages"].as_f64()?, r["convergence"]["retention_tokens"].as_f64()?)));
        chain.push((i.id, retention));
        at = match i.parent_id {
            Some(p) if chain.len() < 100 => state.metastore.iteration(p).await.ok(),
            _ => None,
        };
    }
    chain.reverse();
    chain
}

/// Retention across a chain as a small SVG chart: pages (solid) and tokens (dashed), 0 to 1,
/// one point per iteration that has a parent.
fn convergence_chart(chain: &[(i64, Option<(f64, f64)>)]) -> Markup {
    let (w, h, pad) = (360.0, 120.0, 24.0);
    let n = chain.len().max(2) as f64 - 1.0;
    let x = |i: usize| pad + (w - 2.0 * pad) * i as f64 / n;
    let y = |v: f64| h - pad - (h - 2.0 * pad) * v.clamp(0.0, 1.0);
    let line = |pick: fn((f64, f64)) -> f64| chain.iter().enumerate().filter_map(|(i, (_, r))| r.map(|r| format!("{:.1},{:.1}", x(i), y(pick(r))))).collect::<Vec<_>>().join(" ");
    html! {
        figure #convergence {
            svg width=(w) height=(h) viewBox=(format!("0 0 {w} {h}")) role="img" aria-label="retention across the chain" {
                line x1=(pad) y1=(y(1.0)) x2=(w - pad) y2=(y(1.0)) stroke="#d9dee7" {}
                line x1=(pad) y1=(y(0.0)) x2=(w - pad) y2=(y(0.0)) stroke="#d9dee7" {}
                text x="2" y=(y(1.0) + 4.0) font-size="10" fill="#5c6677" { "1" }
                text x="2" y=(y(0.0) + 4.0) font-size="10" fill="#5c6677" { "0" }
                polyline points=(line(|r| r.0)) fill="none" stroke="#2457c5" stroke-width="2" {}
                polyline points=(line(|r| r.1)) fill="none" stroke="#1f7a3d" stroke-width="2" stroke-dasharray="4 3" {}
                @for (i, (id, r)) in chain.iter().enumerate() {
                    @if let Some((pages, tokens)) = r {
                        circle cx=(format!("{:.1}", x(i))) cy=(format!("{:.1}", y(*pages))) r="3" fill="#2457c5" { title { "iteration " (id) ": pages " (format!("{:.1}%", 100.0 * pages)) ", tokens " (format!("{:.1}%", 100.0 * tokens)) } }
                    }
                    text x=(x(i) - 4.0) y=(h - 6.0) font-size="10" fill="#5c6677" { (id) }
                }
            }
            figcaption.muted { "Retention against the parent: pages (solid), tokens (dashed). The paper stopped at 98%." }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_chart_draws_one_point_per_iteration_with_a_parent() {
        let svg = super::convergence_chart(&[(1, None), (2, Some((0.5, 0.25))), (3, Some((1.0, 0.99)))]).into_string();
        let pages = svg.split("<polyline points=\"").nth(1).unwrap().split('"').next().unwrap();
        assert_eq!(pages.split(' ').count(), 2, "{svg}");
        assert_eq!(pages.split(' ').nth(1).unwrap().split(',').nth(1), Some("24.0"), "retention 1 is the top line: {svg}");
        assert!(svg.contains(">3</text>"), "{svg}");
    }
}
