//! The resumable reader against a real HTTP server (axum on 127.0.0.1) that serves a real shard
//! with `Range:` support and injects faults: connections cut after K bytes, 503 answers.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, HeaderMap, Method, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use corpusminer_storage::object_store::read_all;
use corpusminer_storage::testing::S3TestServer;
use corpusminer_storage::{
    open_resumable, resolve, ObjectStore, RetryPolicy, StorageConfig, StorageErrorKind,
};

#[derive(Debug, Clone, Copy)]
enum Fault {
    /// Send this many bytes of the body, then drop the connection.
    CutAfter(usize),
    /// Answer 503 Service Unavailable.
    Unavailable,
}

#[derive(Clone)]
struct Served {
    data: Bytes,
    /// (method, first byte asked for, status sent) per request, in order.
    log: Arc<Mutex<Vec<(Method, u64, u16)>>>,
    /// Faults for the next GETs, one each; afterwards requests are served in full.
    faults: Arc<Mutex<VecDeque<Fault>>>,
}

fn parse_range(headers: &HeaderMap) -> Option<(u64, Option<u64>)> {
    let v = headers.get(header::RANGE)?.to_str().ok()?;
    let (a, b) = v.strip_prefix("bytes=")?.split_once('-')?;
    Some((
        a.parse().ok()?,
        if b.is_empty() {
            None
        } else {
            Some(b.parse().ok()?)
        },
    ))
}

async fn serve(State(s): State<Served>, method: Method, headers: HeaderMap) -> Response {
    let n = s.data.len() as u64;
    let (start, end) = match parse_range(&headers) {
        Some((a, b)) => (a, b.map_or(n, |b| (b + 1).min(n))),
        None => (0, n),
    };
    let fault = if method == Method::GET {
        s.faults.lock().unwrap().pop_front()
    } else {
        None
    };
    let status = match fault {
        Some(Fault::Unavailable) => StatusCode::SERVICE_UNAVAILABLE,
        _ if start >= n && headers.contains_key(header::RANGE) => StatusCode::RANGE_NOT_SATISFIABLE,
        _ if headers.contains_key(header::RANGE) => StatusCode::PARTIAL_CONTENT,
        _ => StatusCode::OK,
    };
    s.log
        .lock()
        .unwrap()
        .push((method.clone(), start, status.as_u16()));
    if !status.is_success() {
        return Response::builder()
            .status(status)
            .body(Body::from("no"))
            .unwrap();
    }
    let body = s.data.slice(start as usize..end as usize);
    let builder = Response::builder()
        .status(status)
        .header(header::ACCEPT_RANGES, "bytes")
        .header(header::CONTENT_LENGTH, body.len());
    let builder = if status == StatusCode::PARTIAL_CONTENT {
        builder.header(
            header::CONTENT_RANGE,
            format!("bytes {start}-{}/{n}", end.saturating_sub(1)),
        )
    } else {
        builder
    };
    if method == Method::HEAD {
        return builder.body(Body::empty()).unwrap();
    }
    match fault {
        Some(Fault::CutAfter(k)) => {
            let first = body.slice(..k.min(body.len()));
            let stream = corpusminer_storage::testing::body_cut_after(first);
            builder.body(Body::from_stream(stream)).unwrap()
        }
        _ => builder.body(Body::from(body)).unwrap(),
    }
}

/// Starts the server on a free port; returns its base URL and state.
async fn start(data: Vec<u8>, faults: Vec<Fault>) -> (String, Served) {
    let served = Served {
        data: Bytes::from(data),
        log: Arc::default(),
        faults: Arc::new(Mutex::new(faults.into())),
    };
    let app = axum::Router::new()
        .route("/shards/{name}", axum::routing::get(serve))
        .with_state(served.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (
        format!("http://{addr}/shards/MINICRAWL-dev-00000.warc.gz"),
        served,
    )
}

fn fast_policy(max_attempts: u32) -> RetryPolicy {
    RetryPolicy {
        max_attempts,
        initial_backoff: Duration::from_millis(5),
        max_backoff: Duration::from_millis(50),
        multiplier: 2.0,
    }
}

#[tokio::test]
async fn resumes_at_the_break_offset_after_cuts_and_503() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    const K: usize = 300_000;
    let faults = vec![Fault::CutAfter(K), Fault::Unavailable, Fault::CutAfter(K)];
    let (url, served) = start(data.clone(), faults).await;
    let (store, key) = resolve(&url, &StorageConfig::default()).unwrap();

    let reader = open_resumable(store, &key, fast_policy(5)).await.unwrap();
    assert_eq!(reader.size(), data.len() as u64);
    let stats = reader.stats();
    let got = read_all(reader).await.unwrap();
    assert_eq!(got.len(), data.len());
    assert!(got == data, "resumed read returns the exact file bytes");
    assert_eq!(stats.retries(), 3);
    assert_eq!(stats.bytes(), data.len() as u64);

    let log = served.log.lock().unwrap().clone();
    let gets: Vec<(u64, u16)> = log
        .iter()
        .filter(|(m, ..)| m == Method::GET)
        .map(|&(_, s, st)| (s, st))
        .collect();
    // Each retry asks for the byte where the previous response broke, never byte 0 again.
    assert_eq!(
        gets,
        vec![
            (0, 200),
            (K as u64, 503),
            (K as u64, 206),
            (2 * K as u64, 206)
        ],
        "{log:?}"
    );
    assert_eq!(log.iter().filter(|(m, ..)| m == Method::HEAD).count(), 1);
}

#[tokio::test]
async fn progress_restarts_the_failure_count() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    // Ten cuts, each after 1000 new bytes: more cuts than attempts, but never two in a row
    // without progress, so the read completes.
    let (url, served) = start(data.clone(), vec![Fault::CutAfter(1000); 10]).await;
    let (store, key) = resolve(&url, &StorageConfig::default()).unwrap();
    let reader = open_resumable(store, &key, fast_policy(2)).await.unwrap();
    let stats = reader.stats();
    let got = read_all(reader).await.unwrap();
    assert!(got == data);
    assert_eq!(stats.retries(), 10);
    let starts: Vec<u64> = served
        .log
        .lock()
        .unwrap()
        .iter()
        .filter(|(m, ..)| m == Method::GET)
        .map(|e| e.1)
        .collect();
    assert_eq!(starts, (0..=10).map(|i| i * 1000).collect::<Vec<u64>>());
}

#[tokio::test]
async fn gives_up_after_max_attempts_and_at_once_on_final_errors() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let (url, served) = start(data.clone(), vec![Fault::Unavailable; 10]).await;
    let (store, key) = resolve(&url, &StorageConfig::default()).unwrap();
    let reader = open_resumable(store.clone(), &key, fast_policy(3))
        .await
        .unwrap();
    let stats = reader.stats();
    let err = read_all(reader).await.unwrap_err();
    assert!(err.to_string().contains("503"), "{err}");
    assert_eq!(stats.retries(), 2, "3 attempts = 2 retries");
    assert_eq!(
        served
            .log
            .lock()
            .unwrap()
            .iter()
            .filter(|(m, ..)| m == Method::GET)
            .count(),
        3
    );

    // 404 is final: no retry at all.
    let before = served.log.lock().unwrap().len();
    let err = open_resumable(store.clone(), "elsewhere/x.warc.gz", fast_policy(5))
        .await
        .unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::NotFound, "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        served.log.lock().unwrap().len(),
        before,
        "one 404 from the router, no retries reach the handler"
    );
}

#[tokio::test]
async fn http_store_reads_ranges_and_refuses_writes() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let (url, _served) = start(data.clone(), vec![]).await;
    let (store, key) = resolve(&url, &StorageConfig::default()).unwrap();
    assert!(store.uri().starts_with("http://127.0.0.1:"));
    assert_eq!(store.size(&key).await.unwrap(), data.len() as u64);
    assert!(store.exists(&key).await.unwrap());
    assert!(!store.exists("elsewhere/x").await.unwrap());
    assert!(store.get(&key).await.unwrap() == data);
    let r = store.get_range(&key, 1_000_000..1_000_100).await.unwrap();
    assert!(r[..] == data[1_000_000..1_000_100]);
    let streamed = read_all(store.open_read(&key, 1_500_000).await.unwrap())
        .await
        .unwrap();
    assert!(streamed[..] == data[1_500_000..]);
    // At the end the server answers 416; that is an empty read, not an error.
    let at_end = read_all(store.open_read(&key, data.len() as u64).await.unwrap())
        .await
        .unwrap();
    assert!(at_end.is_empty());
    for err in [
        store.put(&key, Bytes::from_static(b"x")).await.unwrap_err(),
        store.delete(&key).await.unwrap_err(),
        store.list("shards/").await.unwrap_err(),
    ] {
        assert_eq!(err.kind(), StorageErrorKind::Unsupported, "{err}");
    }
}

#[tokio::test]
async fn resumable_read_from_s3s_fs_and_local_is_byte_exact() {
    let Some((path, data)) = crate::minicrawl_shard() else {
        return;
    };
    let (store, key) = resolve(path.to_str().unwrap(), &StorageConfig::default()).unwrap();
    let reader = open_resumable(store, &key, RetryPolicy::default())
        .await
        .unwrap();
    let stats = reader.stats();
    assert!(read_all(reader).await.unwrap() == data);
    assert_eq!(stats.retries(), 0);

    let Some(server) = S3TestServer::start("cm-resume").await else {
        return;
    };
    let store: Arc<dyn ObjectStore> = server.store();
    store
        .put("s/a.warc.gz", Bytes::from(data.clone()))
        .await
        .unwrap();
    let reader = open_resumable(store, "s/a.warc.gz", RetryPolicy::default())
        .await
        .unwrap();
    assert!(read_all(reader).await.unwrap() == data);
}
