use std::sync::Arc;

use bytes::Bytes;
use corpusminer_storage::object_store::read_all;
use corpusminer_storage::testing::{object_store_suite, S3TestServer};
use corpusminer_storage::{resolve, LocalStore, ObjectStore, StorageConfig, StorageErrorKind};

#[tokio::test]
async fn local_store_passes_the_suite() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn ObjectStore> = Arc::new(LocalStore::new(dir.path()));
    object_store_suite(store.clone(), "run-1/", &data).await;
    // No temp files are left behind by the writes.
    let left: Vec<_> = walk(dir.path());
    assert!(left.iter().all(|p| !p.contains(".cm-tmp-")), "{left:?}");
}

fn walk(dir: &std::path::Path) -> Vec<String> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap() {
        let e = e.unwrap();
        if e.file_type().unwrap().is_dir() {
            out.extend(walk(&e.path()));
        } else {
            out.push(e.path().display().to_string());
        }
    }
    out
}

#[tokio::test]
async fn s3_store_passes_the_suite_on_s3s_fs() {
    let Some((_, data)) = crate::minicrawl_shard() else {
        return;
    };
    let Some(server) = S3TestServer::start("cm-suite").await else {
        return;
    };
    object_store_suite(server.store(), "run-1/", &data).await;

    // Through the resolver too: s3://bucket/key with the server's config.
    let (store, key) = resolve(
        &server.uri("crawl/MINICRAWL-dev-00000.warc.gz"),
        &server.config(),
    )
    .unwrap();
    assert_eq!(store.uri(), "s3://cm-suite/");
    assert_eq!(key, "crawl/MINICRAWL-dev-00000.warc.gz");
    store.put(&key, Bytes::from(data.clone())).await.unwrap();
    assert_eq!(store.size(&key).await.unwrap(), data.len() as u64);
    // The object really is on the server's disk, byte for byte.
    let on_disk = std::fs::read(server.data_dir().join("cm-suite").join(&key)).unwrap();
    assert!(on_disk == data);
    let streamed = read_all(store.open_read(&key, 1_000_000).await.unwrap())
        .await
        .unwrap();
    assert!(streamed[..] == data[1_000_000..]);
}

#[tokio::test]
async fn s3_wrong_secret_is_unauthorized_and_unknown_bucket_not_found() {
    let Some(server) = S3TestServer::start("cm-auth").await else {
        return;
    };
    let mut bad = server.config();
    bad.s3_secret_access_key = Some("wrong".into());
    let (store, key) = resolve(&server.uri("x"), &bad).unwrap();
    let err = store.put(&key, Bytes::from_static(b"x")).await.unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::Unauthorized, "{err:?}");
    assert!(!err.is_retryable());

    let (store, key) = resolve("s3://no-such-bucket/x", &server.config()).unwrap();
    let err = store.get(&key).await.unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::NotFound, "{err:?}");
}

#[test]
fn resolve_maps_schemes_to_stores_and_keys() {
    let cfg = StorageConfig::default();
    let (s, k) = resolve(
        "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/warc.paths.gz",
        &cfg,
    )
    .unwrap();
    assert_eq!(
        (s.uri().as_str(), k.as_str()),
        (
            "s3://commoncrawl/",
            "crawl-data/CC-MAIN-2024-10/warc.paths.gz"
        )
    );
    let (s, k) = resolve(
        "https://data.commoncrawl.org/crawl-data/x.warc.gz?a=1",
        &cfg,
    )
    .unwrap();
    assert_eq!(
        (s.uri().as_str(), k.as_str()),
        ("https://data.commoncrawl.org/", "crawl-data/x.warc.gz?a=1")
    );
    let (s, k) = resolve("file:///data/shards/", &cfg).unwrap();
    assert_eq!((s.uri().as_str(), k.as_str()), ("/", "data/shards/"));
    let (s, k) = resolve("/tmp/a.warc.gz", &cfg).unwrap();
    assert_eq!((s.uri().as_str(), k.as_str()), ("/", "tmp/a.warc.gz"));
    let (_, k) = resolve("rel/a.txt", &cfg).unwrap();
    let cwd = std::env::current_dir().unwrap();
    assert_eq!(
        k,
        format!("{}/rel/a.txt", cwd.display()).trim_start_matches('/')
    );
    for bad in ["gs://bucket/x", "s3:///x", "file://relative/x"] {
        let err = resolve(bad, &cfg).unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Unsupported, "{bad}");
    }
    // Secrets never print.
    let cfg = StorageConfig {
        s3_secret_access_key: Some("hunter2".into()),
        ..Default::default()
    };
    assert!(!format!("{cfg:?}").contains("hunter2"));
}

#[tokio::test]
async fn local_store_resolves_real_shard_paths_and_refuses_escaping_keys() {
    let Some((path, data)) = crate::minicrawl_shard() else {
        return;
    };
    let (store, key) = resolve(path.to_str().unwrap(), &StorageConfig::default()).unwrap();
    assert_eq!(store.size(&key).await.unwrap(), data.len() as u64);
    let tail = store
        .get_range(&key, data.len() as u64 - 100..data.len() as u64)
        .await
        .unwrap();
    assert!(tail[..] == data[data.len() - 100..]);
    let (store, key) = resolve(
        &format!("file://{}", path.display()),
        &StorageConfig::default(),
    )
    .unwrap();
    assert!(store.exists(&key).await.unwrap());

    let dir = tempfile::tempdir().unwrap();
    let store = LocalStore::new(dir.path());
    for bad in ["../etc/passwd", "a/../../b", "/abs", ""] {
        let err = store.put(bad, Bytes::from_static(b"x")).await.unwrap_err();
        assert_eq!(err.kind(), StorageErrorKind::Unsupported, "{bad:?}");
    }
}
