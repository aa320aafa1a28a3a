//! What the binary-level tests share: the real binary, a small fixture of real inputs, and
//! readers for an output folder.
#![allow(dead_code)]

use corpusminer_storage::metastore::Metastore;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

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
