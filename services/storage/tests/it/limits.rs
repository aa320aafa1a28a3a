//! Memory limits of the object stores on real bytes: a ranged read from an HTTP server that
//! ignores `Range:` stops at the range's end, and whole-object `get` is capped on every backend
//! (local folder, `s3s-fs`, axum over HTTP).

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use axum::body::Body;
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::Response;
use bytes::Bytes;
use corpusminer_storage::testing::S3TestServer;
use corpusminer_storage::{resolve, LocalStore, ObjectStore, StorageConfig, StorageErrorKind};

/// Serves `copies` back-to-back copies of a real shard at `/big` and the shard once at
/// `/small`, always `200` with the whole body (any `Range:` is ignored); `/chunked` is `/big`
/// without a `Content-Length`. Counts the body bytes handed to the connection.
#[derive(Clone)]
struct IgnoresRange {
    data: Bytes,
    copies: u64,
    sent: Arc<AtomicU64>,
}

impl IgnoresRange {
    fn big_len(&self) -> u64 {
        self.data.len() as u64 * self.copies
    }
}

fn big_body(s: &IgnoresRange) -> Body {
    let s = s.clone();
    let stream = futures::stream::unfold(0u64, move |copy| {
        let s = s.clone();
        async move {
            if copy >= s.copies {
                return None;
            }
            s.sent.fetch_add(s.data.len() as u64, Ordering::SeqCst);
            Some((Ok::<_, std::io::Error>(s.data.clone()), copy + 1))
        }
    });
    Body::from_stream(stream)
}

async fn serve_big(State(s): State<IgnoresRange>) -> Response {
    Response::builder()
        .status(StatusCode::OK)
        .header(header::CONTENT_LENGTH, s.big_len())
        .body(big_body(&s))
        .unwrap()
}

async fn serve_chunked(State(s): State<IgnoresRange>) -> Response {
    Response::builder().status(StatusCode::OK).body(big_body(&s)).unwrap()
}

async fn serve_small(State(s): State<IgnoresRange>) -> Response {
    Response::builder().status(StatusCode::OK).body(Body::from(s.data.clone())).unwrap()
}

/// Starts the server; returns its origin (`http://127.0.0.1:port`) and state.
async fn start(data: Vec<u8>, copies: u64) -> (String, IgnoresRange) {
    let state = IgnoresRange { data: Bytes::from(data), copies, sent: Arc::default() };
    let app = axum::Router::new()
        .route("/big", axum::routing::get(serve_big))
        .route("/chunked", axum::routing::get(serve_chunked))
        .route("/small", axum::routing::get(serve_small))
        .with_state(state.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), state)
}

#[tokio::test]
async fn ranged_read_stops_at_the_range_end_when_the_server_ignores_range() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    // About 40 copies of the shard: hundreds of MB that must not cross the connection.
    let copies = (256u64 << 20) / data.len() as u64 + 1;
    let (origin, served) = start(data.clone(), copies).await;
    let (store, key) = resolve(&format!("{origin}/big"), &StorageConfig::default()).unwrap();
    let n = data.len() as u64;
    // A range inside the second copy, and one straddling the first two copies.
    for range in [(n + 1000)..(n + 1100), (n - 50)..(n + 50)] {
        let got = store.get_range(&key, range.clone()).await.unwrap();
        let want: Vec<u8> = range.clone().map(|i| data[(i % n) as usize]).collect();
        assert!(got[..] == want[..], "bytes {range:?}");
    }
    // The connection is dropped after the range: a few copies in socket buffers at most.
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = served.sent.load(Ordering::SeqCst);
    assert!(sent < served.big_len() / 4, "the server sent {sent} of {} bytes", served.big_len());
    // A range past the end of a small object is clipped, as with 206.
    let (small, key) = resolve(&format!("{origin}/small"), &StorageConfig::default()).unwrap();
    let got = small.get_range(&key, (n - 10)..(n + 10)).await.unwrap();
    assert!(got[..] == data[(n - 10) as usize..]);
}

#[tokio::test]
async fn http_get_is_capped_with_and_without_a_content_length() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let (origin, served) = start(data.clone(), 64).await;
    let n = data.len() as u64;
    let cfg = StorageConfig { max_get_bytes: Some(2 * n), ..Default::default() };
    let (store, key) = resolve(&format!("{origin}/small"), &cfg).unwrap();
    assert!(store.get(&key).await.unwrap()[..] == data[..], "under the cap: the whole object");
    for path in ["big", "chunked"] {
        let (store, key) = resolve(&format!("{origin}/{path}"), &cfg).unwrap();
        let err = store.get(&key).await.unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Unsupported, "{path}: {err}");
        assert!(!err.is_retryable());
        let msg = err.to_string();
        assert!(msg.contains(&format!("{origin}/{path}")) && msg.contains(&format!("{}-byte cap", 2 * n)), "{msg}");
        if path == "big" {
            assert!(msg.contains(&format!("is {} bytes", 64 * n)), "the announced size is named: {msg}");
        }
    }
    // Neither body is read past the cap (plus what socket buffers hold).
    tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    let sent = served.sent.load(Ordering::SeqCst);
    assert!(sent < 16 * n, "the server sent {sent} bytes of 2 x {}", 64 * n);
}

/// `get` of `key` holding the real shard, with the cap at its size and one byte under it.
async fn check_cap(at_size: Arc<dyn ObjectStore>, under: Arc<dyn ObjectStore>, key: &str, data: &[u8], object: &str) {
    at_size.put(key, Bytes::from(data.to_vec())).await.unwrap();
    assert!(at_size.get(key).await.unwrap()[..] == data[..], "a cap equal to the size reads it");
    let err = under.get(key).await.unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::Unsupported, "{err}");
    let msg = err.to_string();
    assert!(msg.contains(object), "names the object: {msg}");
    assert!(msg.contains(&format!("is {} bytes", data.len())) && msg.contains(&format!("{}-byte cap", data.len() - 1)), "{msg}");
    // Ranged and streamed reads are not capped.
    assert_eq!(under.get_range(key, 0..10).await.unwrap().len(), 10);
}

#[tokio::test]
async fn local_get_is_capped() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let n = data.len() as u64;
    let at: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).with_max_get_bytes(n));
    let under: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()).with_max_get_bytes(n - 1));
    check_cap(at, under, "a/shard.warc.gz", &data, &dir.path().join("a/shard.warc.gz").display().to_string()).await;
    // Through the resolver, the cap comes from the config.
    let cfg = StorageConfig { max_get_bytes: Some(n - 1), ..Default::default() };
    let (store, key) = resolve(&dir.path().join("a/shard.warc.gz").display().to_string(), &cfg).unwrap();
    assert_eq!(store.get(&key).await.unwrap_err().kind(), StorageErrorKind::Unsupported);
    assert_eq!(StorageConfig::default().get_cap(), 1 << 30);
}

#[tokio::test]
async fn s3_get_is_capped() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let Some(server) = S3TestServer::start("cm-cap").await else {
        return;
    };
    let n = data.len() as u64;
    let with_cap = |cap: u64| {
        let cfg = StorageConfig { max_get_bytes: Some(cap), ..server.config() };
        resolve(&server.uri("x"), &cfg).unwrap().0
    };
    check_cap(with_cap(n), with_cap(n - 1), "crawl/shard.warc.gz", &data, "s3://cm-cap/crawl/shard.warc.gz").await;
}
