//! The default decontamination benchmarks, compiled into the binary: GSM8K test, MATH test
//! (5,000 problems) and MATH-500, and the Chinese CMATH test, AGIEval Gaokao-MathQA and
//! -MathCloze and MGSM-zh (DeepSeekMath evaluated on them), zstd-compressed in `benchmarks/` beside this crate's
//! `Cargo.toml` (sources, licences and checksums in `benchmarks/PROVENANCE.md`).
//!
//! They live in the coordinator because it is the crate that resolves and loads the corpus
//! filters ([`crate::filters`]); `corpusminer-pipeline` stays byte processing with no data of
//! its own. A default benchmark's [`BenchmarkSpec::path`] is `embedded:<file>` (e.g.
//! `embedded:gsm8k-test.jsonl`), never a filesystem path, so the defaults load the same from any
//! directory and from an installed binary.

use corpusminer_pipeline::decontam::BenchmarkSpec;
use std::path::Path;

/// The path prefix that names an embedded benchmark instead of a file.
pub const EMBEDDED_PREFIX: &str = "embedded:";

/// One benchmark compiled into the binary.
#[derive(Debug)]
pub struct EmbeddedBenchmark {
    /// File name of the original JSONL (`gsm8k-test.jsonl`), as in `shared/data/benchmarks/`.
    pub file: &'static str,
    /// Hex SHA-256 of the original (decompressed) JSONL, from `benchmarks/PROVENANCE.md`.
    pub sha256: &'static str,
    /// The zstd frame.
    zst: &'static [u8],
}

/// The embedded benchmarks, one per [`BenchmarkSpec::defaults`] entry (matched by file name).
pub static EMBEDDED: [EmbeddedBenchmark; 7] = [
    EmbeddedBenchmark {
        file: "gsm8k-test.jsonl",
        sha256: "3730d312f6e3440559ace48831e51066acaca737f6eabec99bccb9e4b3c39d14",
        zst: include_bytes!("../benchmarks/gsm8k-test.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "math-test-5000.jsonl",
        sha256: "3371949f33dd702d04b43fddd7d53a028de0aaca0e76abb1b875a050297b3aa4",
        zst: include_bytes!("../benchmarks/math-test-5000.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "math500-test.jsonl",
        sha256: "35dc41080a3680858b27fa7e0533d2d547825316fc5dafe5d316f4ccc5a06132",
        zst: include_bytes!("../benchmarks/math500-test.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "cmath-test.jsonl",
        sha256: "cabe17c127c3227912b3384f4755e180f3aa0d9e5865677e7e5e223439bf15eb",
        zst: include_bytes!("../benchmarks/cmath-test.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "agieval-gaokao-mathqa.jsonl",
        sha256: "d246f12752d121289ef55cbf1bcf954243cefb65d110f71d09358e24065c808f",
        zst: include_bytes!("../benchmarks/agieval-gaokao-mathqa.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "agieval-gaokao-mathcloze.jsonl",
        sha256: "088675c147794970a3ed25c7147a3bbc59715d6813837d5f483f46dcb1b5008d",
        zst: include_bytes!("../benchmarks/agieval-gaokao-mathcloze.jsonl.zst"),
    },
    EmbeddedBenchmark {
        file: "mgsm-zh.jsonl",
        sha256: "165c3b6753e8a8786183c27b9af7b7590d54dca4d0136edadb24d684c95bb50d",
        zst: include_bytes!("../benchmarks/mgsm-zh.jsonl.zst"),
    },
];

impl EmbeddedBenchmark {
    /// The JSONL bytes (decompressed; about 5 ms for MATH test). Errors: a corrupt frame
    /// (cannot happen for what `include_bytes!` compiled in, but it is not unwrapped).
    pub fn bytes(&self) -> std::io::Result<Vec<u8>> {
        zstd::decode_all(self.zst)
    }

    /// Bytes of the compressed frame compiled into the binary.
    pub fn compressed_len(&self) -> usize {
        self.zst.len()
    }
}

/// The embedded benchmark a spec path names (`embedded:<file>`); `None` for a filesystem path
/// or an unknown embedded name.
pub fn embedded(path: &Path) -> Option<&'static EmbeddedBenchmark> {
    let file = path.to_str()?.strip_prefix(EMBEDDED_PREFIX)?;
    EMBEDDED.iter().find(|e| e.file == file)
}

/// True when `path` uses the `embedded:` prefix (known name or not).
pub fn is_embedded(path: &Path) -> bool {
    path.to_str().is_some_and(|p| p.starts_with(EMBEDDED_PREFIX))
}

/// [`BenchmarkSpec::defaults`] (names and fields) with each path pointing at the embedded copy.
pub fn default_specs() -> Vec<BenchmarkSpec> {
    BenchmarkSpec::defaults()
        .into_iter()
        .map(|d| {
            let file = d.path.file_name().and_then(|f| f.to_str()).unwrap_or_default().to_string();
            BenchmarkSpec { path: format!("{EMBEDDED_PREFIX}{file}").into(), ..d }
        })
        .collect()
}
