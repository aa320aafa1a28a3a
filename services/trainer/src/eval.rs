//! Evaluation in bits per byte: the model's total negative log-likelihood of a text, in bits,
//! over the text's UTF-8 bytes. Unlike loss per token it does not depend on the tokenizer, so
//! corpora (and tokenizers) compare fairly, as the small-scale data studies rank corpora
//! (FineWeb ablations, DCLM); at this scale GSM8K accuracy sits at the floor
//! (arXiv 2402.03300 Table 1's MathPile row).
//!
//! Math text: GSM8K test (question + answer) and MATH test (problem + solution), from the copies
//! compiled into the binary; the corpus is decontaminated against both, so they are held out.
//! General text: web pages from the negatives files (dolma JSONL), never trained on.

use crate::error::TrainerError;
use crate::model::Model;
use crate::tokenizer;
use candle_core::Tensor;
use corpusminer_coordinator::benchmarks::EMBEDDED;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::path::Path;
use tokenizers::Tokenizer;

/// What an evaluation set measures.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EvalKind {
    /// Mathematics (benchmark problems with their worked solutions).
    Math,
    /// General web text.
    General,
}

/// A named set of held-out texts.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EvalSet {
    /// `gsm8k-test`, `math-test`, `web`.
    pub name: String,
    /// What it measures.
    pub kind: EvalKind,
    /// The texts.
    pub texts: Vec<String>,
}

/// `n` items spread evenly over `items` (all of them when there are fewer).
fn spread<T: Clone>(items: &[T], n: usize) -> Vec<T> {
    if items.len() <= n {
        return items.to_vec();
    }
    (0..n).map(|i| items[i * items.len() / n].clone()).collect()
}

/// GSM8K test and MATH test, `per_set` problems each (evenly spread over the file), each text
/// the problem, a newline and its solution.
pub fn math_sets(per_set: usize) -> Result<Vec<EvalSet>, TrainerError> {
    let mut out = Vec::new();
    for (name, file, q, a) in [("gsm8k-test", "gsm8k-test.jsonl", "question", "answer"), ("math-test", "math-test-5000.jsonl", "problem", "solution")] {
        let b = EMBEDDED.iter().find(|e| e.file == file).expect("the benchmark is compiled in");
        let bytes = b.bytes().map_err(|e| TrainerError::io(file, e))?;
        let mut texts = Vec::new();
        for line in bytes.split(|&c| c == b'\n').filter(|l| !l.is_empty()) {
            let v: serde_json::Value = serde_json::from_slice(line).map_err(|e| TrainerError::Corpus { key: file.into(), message: e.to_string() })?;
            let field = |k: &str| v.get(k).and_then(|x| x.as_str()).unwrap_or_default().to_string();
            texts.push(format!("{}\n{}", field(q), field(a)));
        }
        out.push(EvalSet { name: name.into(), kind: EvalKind::Math, texts: spread(&texts, per_set) });
    }
    Ok(out)
}

/// Up to `n` documents (evenly spread) from dolma JSONL files (`.jsonl`, `.jsonl.gz`,
/// `.jsonl.zst`; the `text` field), each cut to at most `max_bytes`, as the set `name`.
pub fn jsonl_set(name: &str, kind: EvalKind, paths: &[impl AsRef<Path>], n: usize, max_bytes: usize) -> Result<EvalSet, TrainerError> {
    let mut texts = Vec::new();
    for path in paths {
        let path = path.as_ref();
        let f = std::fs::File::open(path).map_err(|e| TrainerError::io(path, e))?;
        let name = path.to_string_lossy();
        let r: Box<dyn Read> = if name.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(f))
        } else if name.ends_with(".zst") {
            Box::new(zstd::Decoder::new(f).map_err(|e| TrainerError::io(path, e))?)
        } else {
            Box::new(f)
        };
        for line in BufReader::new(r).lines() {
            let line = line.map_err(|e| TrainerError::io(path, e))?;
            if line.trim().is_empty() {
                continue;
            }
            let v: serde_json::Value = serde_json::from_str(&line).map_err(|e| TrainerError::Corpus { key: name.to_string(), message: e.to_string() })?;
            let mut t = v.get("text").and_then(|x| x.as_str()).unwrap_or_default().to_string();
            if t.trim().is_empty() {
                continue;
            }
            if t.len() > max_bytes {
                let mut cut = max_bytes;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.truncate(cut);
            }
            texts.push(t);
        }
    }
    if texts.is_empty() {
        return Err(TrainerError::Config(format!("evaluation set {name}: no text in the given files")));
    }
    Ok(EvalSet { name: name.into(), kind, texts: spread(&texts, n) })
}

/// A set's score: total negative log-likelihood in bits over its UTF-8 bytes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Bits {
    /// Σ −log2 p(token) over every token of every text.
    pub bits: f64,
    /// Σ UTF-8 bytes of the texts.
    pub bytes: u64,
}

impl Bits {
    /// Bits per byte.
    pub fn per_byte(&self) -> f64 {
        self.bits / self.bytes.max(1) as f64
    }

    /// The sum of two scores (bits per byte over both sets).
    pub fn plus(self, o: Bits) -> Bits {
        Bits { bits: self.bits + o.bits, bytes: self.bytes + o.bytes }
    }
}

/// Scores `set` with `model`: each text is tokenized and prefixed with the end-of-document
/// token (the context a document starts with in training), cut into windows of `seq_len + 1`
/// tokens overlapping by one (each token after the first predicted exactly once, with up to
/// `seq_len` tokens of context from its window), run `batch` windows at a time with no
/// backward graph.
pub fn score(model: &Model, tok: &Tokenizer, set: &EvalSet, seq_len: usize, batch: usize) -> Result<Bits, TrainerError> {
    let eos = tokenizer::eos_id(tok)?;
    let mut windows: Vec<(Vec<u32>, usize)> = Vec::new();
    let mut bytes = 0u64;
    for text in &set.texts {
        bytes += text.len() as u64;
        let mut ids = vec![eos];
        ids.extend(tokenizer::encode(tok, text)?);
        let mut start = 0;
        while start + 1 < ids.len() {
            let end = (start + seq_len + 1).min(ids.len());
            windows.push((ids[start..end].to_vec(), end - start - 1));
            start += seq_len;
        }
    }
    let mut nats = 0.0;
    for chunk in windows.chunks(batch.max(1)) {
        let mut flat = Vec::with_capacity(chunk.len() * (seq_len + 1));
        let mut mask = Vec::with_capacity(chunk.len() * seq_len);
        for (w, valid) in chunk {
            flat.extend(w);
            flat.extend(std::iter::repeat_n(eos, seq_len + 1 - w.len()));
            mask.extend((0..seq_len).map(|i| if i < *valid { 1.0f64 } else { 0.0 }));
        }
        let ids = Tensor::from_vec(flat, (chunk.len(), seq_len + 1), model.device())?;
        let nll = model.token_nll_detached(&ids)?.to_dtype(candle_core::DType::F64)?.to_vec1::<f64>()?;
        nats += nll.iter().zip(&mask).map(|(a, m)| a * m).sum::<f64>();
    }
    Ok(Bits { bits: nats / std::f64::consts::LN_2, bytes })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ModelConfig;
    use candle_core::{DType, Device};

    #[test]
    fn the_benchmarks_give_math_sets_and_an_untrained_model_scores_near_uniform() {
        let sets = math_sets(5).unwrap();
        assert_eq!(sets.len(), 2);
        assert!(sets.iter().all(|s| s.texts.len() == 5 && s.kind == EvalKind::Math));
        assert!(sets[0].texts[0].contains("Janet"), "GSM8K's first problem leads the spread");
        let tok = tokenizer::train_bpe(sets.iter().flat_map(|s| s.texts.iter()), 300).unwrap();
        let vocab = tok.get_vocab_size(true);
        let model = Model::new(&ModelConfig::tiny(vocab, 16), 0, DType::F32, &Device::Cpu).unwrap();
        let set = EvalSet { name: "t".into(), kind: EvalKind::Math, texts: sets[0].texts[..2].to_vec() };
        let b = score(&model, &tok, &set, 16, 3).unwrap();
        // A model at initialisation is close to uniform: log2(V) bits per token.
        let tokens: usize = set.texts.iter().map(|t| tokenizer::encode(&tok, t).unwrap().len()).sum();
        let uniform = tokens as f64 * (vocab as f64).log2();
        assert!((b.bits - uniform).abs() < 0.01 * uniform, "{} vs {uniform}", b.bits);
        assert_eq!(b.bytes as usize, set.texts.iter().map(String::len).sum::<usize>());
        // Batching (windows padded to one length) does not change the score.
        let long = score(&model, &tok, &set, 16, 1).unwrap();
        assert!((long.bits - b.bits).abs() < 1e-3 * b.bits);
    }
}
