//! What the binary-level tests share: the real binary, a small fixture of real inputs, and
//! readers for an output folder.
#![allow(dead_code)]

use corpusminer_storage::metastore::Metastore;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use serde_json::{json, Value};
use std::io::Read;
use std::process::{Child, Command, Output};
use std::time::{Duration, Instant};

pub const BIN: &str = env!("CARGO_BIN_EXE_corpusminer");

/// A temporary folder with the fixture's inputs, and the `run` arguments that use them.
pub struct Fixture {
    _tmp: tempfile::TempDir,
    pub dir: PathBuf,
    pub run_args: Vec<String>,
}

/// Trimmed real inputs: 300 GSM8K train problems as the seed, the head of WikiText-2 and a
/// dolma excerpt as negatives, two minicrawl shards.
pub fn fixture() -> Option<Fixture> {
    let data = corpusminer_pipeline::testdata::shared_data_dir()?;
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().to_path_buf();
    let gsm = std::fs::read_to_string(data.join("math/gsm8k-train.jsonl")).unwrap();
    let seed = dir.join("seed.jsonl");
    std::fs::File::create(&seed).unwrap().write_all(gsm.lines().take(300).collect::<Vec<_>>().join("\n").as_bytes()).unwrap();
    let wiki = std::fs::read_to_string(data.join("negatives/wikitext-2-valid.txt")).unwrap();
    let neg = dir.join("negatives.txt");
    std::fs::write(&neg, wiki.lines().take(600).collect::<Vec<_>>().join("\n")).unwrap();
    let mut run_args: Vec<String> = vec!["run".into(), "--seed".into(), seed.display().to_string(), "--negatives".into(), neg.display().to_string()];
    run_args.push(data.join("negatives/dolma-cc_en_head-0091.jsonl.gz").display().to_string());
    run_args.push("--input".into());
    for s in ["MINICRAWL-dev-00000.warc.gz", "MINICRAWL-dev-00003.warc.gz"] {
        run_args.push(data.join("minicrawl").join(s).display().to_string());
    }
    for a in ["--dim", "16", "--epoch", "3", "--bucket", "20000", "--train-threads", "1", "--workers", "1", "--random-seed", "7"] {
        run_args.push(a.into());
    }
    Some(Fixture { _tmp: tmp, dir, run_args })
}

/// Runs the binary with `args`, and `CORPUSMINER_FAULT=fault` when given.
pub fn corpusminer(args: &[String], fault: Option<&str>) -> Output {
    let env: Vec<(&str, &str)> = fault.map(|f| ("CORPUSMINER_FAULT", f)).into_iter().collect();
    corpusminer_env(args, &env)
}

/// Runs the binary with `args` and the variables `env`, in an environment without any other
/// `CORPUSMINER_*` variable.
pub fn corpusminer_env(args: &[String], env: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(BIN);
    cmd.args(args).env("RUST_LOG", "warn");
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CORPUSMINER_") && k != "CORPUSMINER_SHARED_DATA") {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    cmd.output().expect("corpusminer runs")
}

/// `args` as owned strings.
pub fn strings(args: &[&str]) -> Vec<String> {
    args.iter().map(|s| s.to_string()).collect()
}

/// `args` with `--out out` and `--db db` when given.
pub fn with_store(args: &[String], out: &Path, db: Option<&str>) -> Vec<String> {
    let mut v = args.to_vec();
    v.extend(["--out".into(), out.display().to_string()]);
    if let Some(db) = db {
        v.extend(["--db".into(), db.to_string()]);
    }
    v
}

/// Every corpus document of iteration `iteration` in `out`: (id, text, score bits).
pub fn corpus(out: &Path, iteration: i64) -> BTreeSet<(String, String, u32)> {
    let mut set = BTreeSet::new();
    let dir = out.join("iterations").join(iteration.to_string()).join("corpus");
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = e.unwrap().path();
        if !path.to_string_lossy().ends_with(".jsonl.zst") {
            continue;
        }
        let text = String::from_utf8(zstd::decode_all(&std::fs::read(&path).unwrap()[..]).unwrap()).unwrap();
        for line in text.lines() {
            let v: serde_json::Value = serde_json::from_str(line).unwrap();
            let score = v["metadata"]["score"].as_f64().unwrap() as f32;
            set.insert((v["id"].as_str().unwrap().to_string(), v["text"].as_str().unwrap().to_string(), score.to_bits()));
        }
    }
    set
}

/// State of the newest iteration of `db`.
pub async fn state(db: &str) -> String {
    let ms = Metastore::connect(db).await.unwrap();
    let s = ms.iteration(ms.latest_iteration().await.unwrap().expect("an iteration")).await.unwrap().state;
    ms.close().await;
    s
}

/// Asserts that the command succeeded, showing its stderr when it did not.
pub fn ok(o: &Output, what: &str) {
    assert!(o.status.success(), "{what} failed: {}\n{}", o.status, String::from_utf8_lossy(&o.stderr));
}

/// The newest iteration of `db`.
pub async fn newest(db: &str) -> i64 {
    let ms = Metastore::connect(db).await.unwrap();
    let id = ms.latest_iteration().await.unwrap().unwrap();
    ms.close().await;
    id
}

/// Files below `dir`, recursively (0 when it does not exist).
pub fn files_under(dir: &Path) -> usize {
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries.map(|e| e.unwrap().path()).map(|p| if p.is_dir() { files_under(&p) } else { 1 }).sum()
}

/// A `serve` over a done first iteration of the fixture (SQLite in `out`), with one token.
pub struct ServedIteration {
    /// The fixture (its folder lives as long as this).
    pub fixture: Fixture,
    /// The output folder.
    pub out: PathBuf,
    /// The token made for `role`.
    pub token: String,
    /// `host:port` the server listens on.
    pub addr: String,
    server: std::process::Child,
}

impl Drop for ServedIteration {
    fn drop(&mut self) {
        let _ = self.server.kill();
        let _ = self.server.wait();
    }
}

/// Runs the fixture's first iteration, makes a `role` token named `name` and starts `serve` on
/// it (port 0); `None` when the fixture is missing (a failure under CI).
pub fn served_iteration(role: &str, name: &str) -> Option<ServedIteration> {
    let fixture = fixture()?;
    let out = fixture.dir.join("out");
    ok(&corpusminer(&with_store(&fixture.run_args, &out, None), None), "run");
    let out_s = out.to_string_lossy().to_string();
    let made = corpusminer(&strings(&["admin", "token", "create", "--out", &out_s, "--role", role, "--name", name]), None);
    ok(&made, "token create");
    let token = String::from_utf8(made.stdout).unwrap().lines().next().unwrap().to_string();
    let (server, addr) = spawn_serve(&["--out", &out_s], &[]);
    Some(ServedIteration { fixture, out, token, addr, server })
}

/// Starts `corpusminer serve ARGS --listen 127.0.0.1:0 --workers 1` with `env` and no other
/// `CORPUSMINER_*` variable; returns the process and the `host:port` it printed. The rest of
/// its output is read (and dropped) so it never writes to a closed pipe.
pub fn spawn_serve(args: &[&str], env: &[(&str, &str)]) -> (std::process::Child, String) {
    use std::io::{BufRead, BufReader};
    let mut cmd = Command::new(BIN);
    cmd.arg("serve").args(args).args(["--listen", "127.0.0.1:0", "--workers", "1"]).env("RUST_LOG", "warn").stdout(std::process::Stdio::piped());
    for (k, _) in std::env::vars().filter(|(k, _)| k.starts_with("CORPUSMINER_") && k != "CORPUSMINER_SHARED_DATA") {
        cmd.env_remove(k);
    }
    cmd.envs(env.iter().copied());
    let mut child = cmd.spawn().unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let addr = lines
        .by_ref()
        .map_while(Result::ok)
        .find_map(|l| l.split("listening on http://").nth(1).and_then(|r| r.split_whitespace().next()).map(str::to_string))
        .expect("serve printed its address");
    std::thread::spawn(move || lines.map_while(Result::ok).for_each(drop));
    (child, addr)
}

/// `(status, body)` of `GET path` with `token`, over a plain TCP connection.
pub fn get(addr: &str, path: &str, token: &str) -> (u16, String) {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = String::new();
    s.read_to_string(&mut resp).unwrap();
    let status = resp.split_whitespace().nth(1).unwrap().parse().unwrap();
    (status, resp.split("\r\n\r\n").nth(1).unwrap_or("").to_string())
}

/// A response: status, headers (lowercase names) and body.
pub struct Response {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{} body is not JSON ({e}): {}", self.status, String::from_utf8_lossy(&self.body)))
    }
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// One HTTP/1.1 request over a plain TCP connection (the way `curl` would send it).
pub fn request(addr: &str, method: &str, path: &str, token: &str, body: Option<&Value>, extra: &[(&str, &str)]) -> Response {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\nContent-Length: {}\r\n", body.len());
    if !body.is_empty() {
        head += "Content-Type: application/json\r\n";
    }
    for (k, v) in extra {
        head += &format!("{k}: {v}\r\n");
    }
    write!(s, "{head}\r\n{body}").unwrap();
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).unwrap();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a header block");
    let head = String::from_utf8_lossy(&raw[..split]).to_string();
    let mut lines = head.split("\r\n");
    let status = lines.next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    let headers: Vec<(String, String)> = lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_string())).collect();
    let mut body = raw[split + 4..].to_vec();
    if headers.iter().any(|(k, v)| k == "transfer-encoding" && v == "chunked") {
        body = dechunk(&body);
    }
    Response { status, headers, body }
}

fn dechunk(mut b: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    loop {
        let eol = b.windows(2).position(|w| w == b"\r\n").unwrap();
        let n = usize::from_str_radix(String::from_utf8_lossy(&b[..eol]).split(';').next().unwrap().trim(), 16).unwrap();
        if n == 0 {
            return out;
        }
        out.extend_from_slice(&b[eol + 2..eol + 2 + n]);
        b = &b[eol + 2 + n + 2..];
    }
}

/// A running `serve` and the address it printed.
pub struct Serve {
    pub child: Child,
    pub addr: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn serve(args: &[&str], env: &[(&str, &str)]) -> Serve {
    let (child, addr) = spawn_serve(args, env);
    Serve { child, addr }
}

pub fn token(store: &[&str], role: &str, name: &str) -> String {
    let mut args = strings(&["admin", "token", "create", "--role", role, "--name", name]);
    args.extend(store.iter().map(|s| s.to_string()));
    let made = corpusminer(&args, None);
    ok(&made, "token create");
    String::from_utf8(made.stdout).unwrap().lines().next().unwrap().to_string()
}

/// The fixture's `run` flags as a `POST /iterations` body (flags in snake_case).
pub fn run_body(run_args: &[String]) -> Value {
    let mut body = serde_json::Map::new();
    let mut key: Option<String> = None;
    for a in &run_args[1..] {
        if let Some(flag) = a.strip_prefix("--") {
            key = Some(flag.replace('-', "_"));
            continue;
        }
        let k = key.clone().expect("a value follows a flag");
        let v = if ["seed", "negatives", "input"].contains(&k.as_str()) {
            let mut list = body.get(&k).and_then(Value::as_array).cloned().unwrap_or_default();
            list.push(json!(a));
            json!(list)
        } else {
            a.parse::<u64>().map(|n| json!(n)).unwrap_or_else(|_| json!(a))
        };
        body.insert(k, v);
    }
    body.remove("workers");
    Value::Object(body)
}

/// Polls `GET /iterations/{id}` until its state is one of `states`.
pub fn wait_for(addr: &str, token: &str, id: i64, states: &[&str], limit: Duration) -> Value {
    let started = Instant::now();
    loop {
        let r = request(addr, "GET", &format!("/api/v1/iterations/{id}"), token, None, &[]);
        assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
        let it = r.json();
        if states.contains(&it["state"].as_str().unwrap_or_default()) {
            return it;
        }
        assert!(started.elapsed() < limit, "iteration {id} still {} after {limit:?}: {it}", it["state"]);
        std::thread::sleep(Duration::from_millis(200));
    }
}

