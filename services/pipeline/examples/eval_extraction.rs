//! Prints the extraction evaluation table (token F1, formula recall, pages/s) on ../shared/data.
//! Usage: `cargo run --release -p corpusminer-pipeline --example eval_extraction [DATA_DIR] [--dump DIR]`
//! With `--dump DIR`, writes each page's extracted text to DIR for inspection.

use corpusminer_pipeline::extract::{eval, extract};
use std::io::Read;
use std::path::PathBuf;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let dump = args.iter().position(|a| a == "--dump").and_then(|i| args.get(i + 1)).map(PathBuf::from);
    let dir = args
        .iter()
        .find(|a| !a.starts_with("--") && Some(PathBuf::from(a.as_str())) != dump)
        .map(PathBuf::from)
        .or_else(corpusminer_pipeline::testdata::shared_data_dir)
        .expect("shared data dir");
    if let Some(f) = args.iter().position(|a| a == "--missing").and_then(|i| args.get(i + 1)) {
        let mut body = Vec::new();
        flate2::read::MultiGzDecoder::new(std::fs::File::open(f).unwrap()).read_to_end(&mut body).unwrap();
        let text = extract(&body, None).map(|x| x.text).unwrap_or_default();
        let ours = corpusminer_pipeline::extract::math::collapse_ws(&text);
        for m in eval::source_formulas(&String::from_utf8_lossy(&body)) {
            if !ours.contains(m.as_str()) {
                println!("MISSING {m:?}");
            }
        }
        return;
    }
    let report = eval::evaluate(&dir).expect("evaluate");
    println!("{report}");
    if let Some(out) = dump {
        std::fs::create_dir_all(&out).unwrap();
        for sub in ["html-extraction/html", "html-math/math", "html-math/nonmath"] {
            for e in std::fs::read_dir(dir.join(sub)).unwrap() {
                let p = e.unwrap().path();
                let mut body = Vec::new();
                flate2::read::MultiGzDecoder::new(std::fs::File::open(&p).unwrap()).read_to_end(&mut body).unwrap();
                let name = p.file_name().unwrap().to_string_lossy().replace(".html.gz", ".txt");
                let text = match extract(&body, None) {
                    Ok(x) => x.text,
                    Err(e) => format!("[error {}]", e.reason()),
                };
                std::fs::write(out.join(name), text).unwrap();
            }
        }
    }
}
