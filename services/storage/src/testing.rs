//! Test harness for real services, usable by every crate's tests: an S3-compatible server
//! (`s3s-fs`) on a free local port with a fresh bucket, and a fresh PostgreSQL database.
//!
//! When a service is unavailable the helpers return `None` after printing why, so a test can
//! return early; but under CI (`CI` set, and not `false` or `0`) they panic instead, because CI
//! must never skip silently. `.ci/start-services.sh` installs and starts both.

use std::net::TcpListener;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::object_store::{ObjectStore, S3Store, StorageConfig};

/// Whether this process runs under CI: `CI` is set and is not `false` or `0` (`.ci/run` sets
/// `CI=true`; the same rule as `corpusminer_pipeline::testdata::under_ci`, which this crate does
/// not depend on).
pub fn under_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !matches!(v.trim().to_ascii_lowercase().as_str(), "" | "false" | "0"))
}

/// Prints a skip reason and returns `None`, or panics under CI ([`under_ci`]).
fn unavailable<T>(reason: &str) -> Option<T> {
    if under_ci() {
        panic!("CI is set, so this test may not skip, but a required test service is unavailable: {reason} (run .ci/start-services.sh)");
    }
    eprintln!("skipped: {reason} (run .ci/start-services.sh)");
    None
}

/// A response body for a test HTTP server: `first`, then (after a pause that lets those bytes
/// reach the client) a connection-reset error, as a connection broken mid-body.
pub fn body_cut_after(first: bytes::Bytes) -> impl futures::Stream<Item = Result<bytes::Bytes, std::io::Error>> + Send + 'static {
    futures::stream::unfold(0u8, move |step| {
        let first = first.clone();
        async move {
            match step {
                0 => Some((Ok(first), 1)),
                1 => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    Some((Err(std::io::Error::new(std::io::ErrorKind::ConnectionReset, "injected cut")), 2))
                }
                _ => None,
            }
        }
    })
}

/// A free TCP port on 127.0.0.1 (bound, then released; good enough for tests).
pub fn free_port() -> std::io::Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

/// The `s3s-fs` binary: `$S3S_FS_BIN`, then `PATH`, then `$CARGO_HOME/bin` (`~/.cargo/bin`).
pub fn find_s3s_fs() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("S3S_FS_BIN").map(PathBuf::from) {
        return p.is_file().then_some(p);
    }
    let in_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("s3s-fs"));
    let cargo_home = std::env::var_os("CARGO_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo")))
        .map(|c| c.join("bin").join("s3s-fs"));
    in_path.chain(cargo_home).find(|p| p.is_file())
}

/// A running `s3s-fs` over a temp directory, with one bucket; killed (and the directory
/// removed) on drop.
#[derive(Debug)]
pub struct S3TestServer {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub endpoint: String,
    /// The bucket created at start.
    pub bucket: String,
    /// Access key the server accepts.
    pub access_key: String,
    /// Its secret key.
    pub secret_key: String,
    dir: tempfile::TempDir,
}

impl S3TestServer {
    /// Starts `s3s-fs` on a free port and creates `bucket` through the S3 API.
    /// `None` (printed reason) when the binary is absent; panics under `CI`, or when it is
    /// present but will not start.
    pub async fn start(bucket: &str) -> Option<Self> {
        let Some(bin) = find_s3s_fs() else {
            return unavailable(
                "s3s-fs binary not found (cargo install s3s-fs@0.14.1 --features binary --locked)",
            );
        };
        let dir = tempfile::tempdir().expect("temp dir for s3s-fs");
        let access_key = "corpusminer-test".to_string();
        let secret_key = format!("secret-{}", uuid::Uuid::new_v4().simple());
        let mut last_err = String::new();
        for _ in 0..3 {
            let port = free_port().expect("free port");
            let mut child = Command::new(&bin)
                .args(["--host", "127.0.0.1", "--port", &port.to_string()])
                .args(["--access-key", &access_key, "--secret-key", &secret_key])
                .arg(dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
            let deadline = Instant::now() + Duration::from_secs(15);
            let mut up = false;
            while Instant::now() < deadline {
                if let Ok(Some(status)) = child.try_wait() {
                    last_err = format!("s3s-fs exited with {status}");
                    break;
                }
                if tokio::net::TcpStream::connect(("127.0.0.1", port))
                    .await
                    .is_ok()
                {
                    up = true;
                    break;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
            if !up {
                let _ = child.kill();
                let _ = child.wait();
                if last_err.is_empty() {
                    last_err = "s3s-fs did not listen within 15 s".into();
                }
                continue;
            }
            let server = Self {
                child,
                endpoint: format!("http://127.0.0.1:{port}"),
                bucket: bucket.to_string(),
                access_key: access_key.clone(),
                secret_key: secret_key.clone(),
                dir,
            };
            let store = S3Store::new(bucket, server.config());
            store
                .client()
                .await
                .create_bucket()
                .bucket(bucket)
                .send()
                .await
                .unwrap_or_else(|e| panic!("create bucket {bucket} on {}: {e:?}", server.endpoint));
            return Some(server);
        }
        panic!("s3s-fs at {} would not start: {last_err}", bin.display());
    }

    /// A [`StorageConfig`] pointing at this server with its keys (path-style addressing).
    pub fn config(&self) -> StorageConfig {
        StorageConfig {
            s3_endpoint: Some(self.endpoint.clone()),
            s3_region: Some("us-east-1".into()),
            s3_force_path_style: true,
            s3_access_key_id: Some(self.access_key.clone()),
            s3_secret_access_key: Some(self.secret_key.clone()),
            s3_anonymous: false,
            request_timeout_secs: Some(30),
            max_get_bytes: None,
        }
    }

    /// `s3://{bucket}/{key}`.
    pub fn uri(&self, key: &str) -> String {
        format!("s3://{}/{key}", self.bucket)
    }

    /// A store for the bucket.
    pub fn store(&self) -> std::sync::Arc<dyn ObjectStore> {
        std::sync::Arc::new(S3Store::new(&self.bucket, self.config()))
    }

    /// The directory the server keeps its objects in (`{dir}/{bucket}/{key}`).
    pub fn data_dir(&self) -> &std::path::Path {
        self.dir.path()
    }
}

impl Drop for S3TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The PostgreSQL server tests use: `$CORPUSMINER_TEST_POSTGRES_URL`, else
/// `postgres://postgres@127.0.0.1:5432/postgres` (trust auth).
pub fn postgres_admin_url() -> String {
    std::env::var("CORPUSMINER_TEST_POSTGRES_URL")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_string())
}

/// A fresh database `cm_test_<random>` on the test server; dropped (`WITH (FORCE)`) on drop.
#[derive(Debug)]
pub struct PgTestDb {
    /// Connection URL of the fresh database.
    pub url: String,
    /// Its name.
    pub name: String,
    admin_url: String,
}

impl PgTestDb {
    /// Creates the database. `None` (printed reason) when the server cannot be reached;
    /// panics under `CI`.
    pub async fn create() -> Option<Self> {
        use sqlx::Connection;
        let admin_url = postgres_admin_url();
        let mut conn = match tokio::time::timeout(
            Duration::from_secs(5),
            sqlx::PgConnection::connect(&admin_url),
        )
        .await
        {
            Ok(Ok(c)) => c,
            Ok(Err(e)) => {
                return unavailable(&format!(
                    "postgres at {} unreachable: {e}",
                    crate::metastore::redact_url(&admin_url)
                ))
            }
            Err(_) => {
                return unavailable(&format!(
                    "postgres at {} timed out",
                    crate::metastore::redact_url(&admin_url)
                ))
            }
        };
        let name = format!("cm_test_{}", uuid::Uuid::new_v4().simple());
        sqlx::query(&format!("CREATE DATABASE {name}"))
            .execute(&mut conn)
            .await
            .unwrap_or_else(|e| panic!("CREATE DATABASE {name}: {e}"));
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin_url).expect("postgres admin url");
        url.set_path(&format!("/{name}"));
        Some(Self {
            url: url.to_string(),
            name,
            admin_url,
        })
    }
}

impl Drop for PgTestDb {
    fn drop(&mut self) {
        let admin_url = self.admin_url.clone();
        let name = self.name.clone();
        // Drop runs inside a tokio runtime: do the async work on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                use sqlx::Connection;
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&mut conn)
                        .await;
                    let _ = conn.close().await;
                }
            });
        })
        .join();
    }
}

/// One behaviour suite for every [`ObjectStore`] backend that can write (local, S3). Writes
/// `data` (real bytes: a shard) under `prefix` and checks get, ranges, size, streamed reads
/// from offsets, put_file, list, exists, delete and NotFound, byte for byte. Panics on the first
/// difference. `prefix` must end with `/` and be empty in the store.
pub async fn object_store_suite(store: std::sync::Arc<dyn ObjectStore>, prefix: &str, data: &[u8]) {
    use crate::error::StorageErrorKind;
    use crate::object_store::read_all;
    use bytes::Bytes;

    assert!(data.len() > 4096, "the suite needs a few KiB of data");
    let n = data.len() as u64;
    let key = format!("{prefix}shards/a.warc.gz");
    let missing = format!("{prefix}shards/missing.warc.gz");

    assert_eq!(
        store.list(prefix).await.unwrap(),
        Vec::<String>::new(),
        "prefix starts empty"
    );
    assert!(!store.exists(&key).await.unwrap());
    let err = store.get(&missing).await.unwrap_err();
    assert_eq!(err.kind(), StorageErrorKind::NotFound, "{err}");
    assert!(!err.is_retryable());
    assert_eq!(
        store.size(&missing).await.unwrap_err().kind(),
        StorageErrorKind::NotFound
    );
    assert_eq!(
        store
            .open_read(&missing, 0)
            .await
            .err()
            .expect("missing object")
            .kind(),
        StorageErrorKind::NotFound
    );

    store.put(&key, Bytes::copy_from_slice(data)).await.unwrap();
    assert!(store.exists(&key).await.unwrap());
    assert_eq!(store.size(&key).await.unwrap(), n);
    assert!(
        store.get(&key).await.unwrap() == data,
        "get returns the bytes put"
    );

    for range in [
        0..1,
        0..4096,
        1000..1001,
        n / 2..n / 2 + 65_537,
        n - 10..n,
        5..5,
    ] {
        let got = store.get_range(&key, range.clone()).await.unwrap();
        assert!(
            got[..] == data[range.start as usize..range.end as usize],
            "range {range:?}"
        );
    }
    for start in [0, 1, 12_345, n - 1, n] {
        let reader = store.open_read(&key, start).await.unwrap();
        let got = read_all(reader).await.unwrap();
        assert!(got[..] == data[start as usize..], "open_read from {start}");
    }

    let dir = tempfile::tempdir().unwrap();
    let local = dir.path().join("upload.bin");
    std::fs::write(&local, &data[..n as usize / 3]).unwrap();
    let key2 = format!("{prefix}shards/b.warc.gz");
    let key3 = format!("{prefix}other/c.txt");
    store.put_file(&key2, &local).await.unwrap();
    store
        .put(&key3, Bytes::from_static(b"hello"))
        .await
        .unwrap();
    assert!(store.get(&key2).await.unwrap()[..] == data[..n as usize / 3]);

    // Overwrite replaces whole.
    store.put(&key3, Bytes::from_static(b"bye")).await.unwrap();
    assert_eq!(&store.get(&key3).await.unwrap()[..], b"bye");

    assert_eq!(
        store.list(prefix).await.unwrap(),
        vec![key3.clone(), key.clone(), key2.clone()]
    );
    assert_eq!(
        store.list(&format!("{prefix}shards/")).await.unwrap(),
        vec![key.clone(), key2.clone()]
    );
    assert_eq!(
        store.list(&format!("{prefix}shards/b")).await.unwrap(),
        vec![key2.clone()]
    );
    assert_eq!(
        store.list(&format!("{prefix}nothing/")).await.unwrap(),
        Vec::<String>::new()
    );

    store.delete(&key2).await.unwrap();
    store.delete(&key2).await.unwrap(); // idempotent
    assert!(!store.exists(&key2).await.unwrap());
    assert_eq!(
        store.list(&format!("{prefix}shards/")).await.unwrap(),
        vec![key.clone()]
    );
    store.delete(&key).await.unwrap();
    store.delete(&key3).await.unwrap();
    assert_eq!(store.list(prefix).await.unwrap(), Vec::<String>::new());
}
