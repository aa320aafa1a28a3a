//! fastText's forward pass for P(math), with each token's input vector cached.
//!
//! A supervised fastText prediction (Joulin et al. 2017, "Bag of Tricks") averages the input
//! rows of every token's ids (the word's own row and its character n-gram buckets), of the word
//! n-gram buckets and of `</s>`, then applies the output layer and a softmax. With character
//! n-grams of 3–5 a token has ~15 ids, so the averaging dominates scoring. The sum of a token's
//! rows depends only on the token, and web text is Zipfian, so a [`Scorer`] keeps that sum per
//! token: one vector add per token instead of ~15. Word n-grams (pairs of tokens) are added row
//! by row as fastText does.
//!
//! Results equal `FastText::predict`'s probability (summation order differs, so within float
//! rounding: tested to 1e-5 on real pages). Models this path does not cover (quantized, or a
//! loss other than softmax) are scored by `FastText::predict` itself.

use super::{Classifier, LABEL_MATH};
use fasttext::args::LossName;
use fasttext::dictionary::{EntryType, EOS};
use fasttext::matrix::Matrix;
use std::collections::HashMap;

/// Bytes of cached token vectors per [`Scorer`] before the cache is cleared and refilled
/// (16 MiB: 65,536 tokens at dim 64).
pub const TOKEN_CACHE_BYTES: usize = 16 << 20;

/// One token's contribution: the sum of its input rows, how many rows, its fastText hash.
#[derive(Debug, Clone, Copy)]
struct Token {
    /// Offset of the summed row in `Scorer::arena`; `u32::MAX` for a label token (skipped).
    offset: u32,
    /// Input rows summed.
    rows: u32,
    /// fastText's FNV-1a hash of the token (word n-gram input).
    hash: u32,
}

/// A per-thread scorer over a shared [`Classifier`]: scratch buffers and the token cache.
/// Create one per worker thread or shard ([`Classifier::scorer`]); it is not `Sync`.
pub struct Scorer<'a> {
    classifier: &'a Classifier,
    /// `Some(math label index)` when the cached forward pass applies.
    fast: Option<usize>,
    dim: usize,
    tokens: HashMap<Box<str>, Token>,
    arena: Vec<f32>,
    max_tokens: usize,
    hidden: Vec<f32>,
    ids: Vec<i32>,
    hashes: Vec<i32>,
    logits: Vec<f32>,
}

/// fastText's token hash (FNV-1a over the bytes, each sign-extended as C++ `int8_t`).
fn fasttext_hash(s: &str) -> u32 {
    let mut h: u32 = 2_166_136_261;
    for &b in s.as_bytes() {
        h ^= b as i8 as i32 as u32;
        h = h.wrapping_mul(16_777_619);
    }
    h
}

impl<'a> Scorer<'a> {
    pub(super) fn new(classifier: &'a Classifier) -> Self {
        let model = &classifier.model;
        let dim = model.get_dimension().max(1) as usize;
        let fast = if model.is_quant() || model.args().loss != LossName::Softmax {
            None
        } else {
            let (labels, _) = model.get_labels();
            labels.iter().position(|l| l == LABEL_MATH)
        };
        Scorer {
            classifier,
            fast,
            dim,
            tokens: HashMap::new(),
            arena: Vec::new(),
            max_tokens: (TOKEN_CACHE_BYTES / (dim * 4)).max(1024),
            hidden: vec![0.0; dim],
            ids: Vec::new(),
            hashes: Vec::new(),
            logits: Vec::new(),
        }
    }

    /// The page score of a raw text, as [`Classifier::score`].
    pub fn score(&mut self, text: &str) -> f32 {
        self.score_normalized(&crate::text::normalize(text))
    }

    /// The page score of a [`crate::text::normalize`]d text, as [`Classifier::score_normalized`]:
    /// the token-weighted mean of its windows' P(math); 0 for a text with no tokens.
    pub fn score_normalized(&mut self, normalized: &str) -> f32 {
        let (mut sum, mut tokens) = (0.0f64, 0u64);
        for w in crate::text::windows(normalized, self.classifier.window) {
            let n = crate::text::count_tokens(w);
            sum += self.score_window(w) as f64 * n as f64;
            tokens += n;
        }
        if tokens == 0 {
            0.0
        } else {
            (sum / tokens as f64) as f32
        }
    }

    /// fastText's P(math) in [0, 1] of one normalised text in one prediction.
    pub fn score_window(&mut self, normalized: &str) -> f32 {
        let Some(math) = self.fast else {
            return self.classifier.predict_math(normalized);
        };
        let model = &self.classifier.model;
        let dict = model.dict();
        let input = model.input_matrix();
        self.hidden.iter_mut().for_each(|x| *x = 0.0);
        self.hashes.clear();
        let mut rows = 0usize;
        for token in normalized.split(|c: char| c.is_ascii_whitespace()) {
            if token.is_empty() {
                continue;
            }
            let t = match self.tokens.get(token) {
                Some(t) => *t,
                None => self.cache_token(token),
            };
            if t.offset != u32::MAX {
                let v = &self.arena[t.offset as usize..t.offset as usize + self.dim];
                self.hidden.iter_mut().zip(v).for_each(|(h, x)| *h += x);
                rows += t.rows as usize;
                self.hashes.push(t.hash as i32);
            }
            if token == EOS {
                break;
            }
        }
        self.ids.clear();
        dict.add_word_ngrams(&mut self.ids, &self.hashes, model.args().word_ngrams);
        for &id in &self.ids {
            self.hidden.iter_mut().zip(input.row(id as i64)).for_each(|(h, x)| *h += x);
        }
        rows += self.ids.len();
        if rows == 0 {
            return 0.0;
        }
        if let Some(eos) = dict.get_id(EOS) {
            self.hidden.iter_mut().zip(input.row(eos as i64)).for_each(|(h, x)| *h += x);
            rows += 1;
        }
        let inv = 1.0 / rows as f32;
        self.hidden.iter_mut().for_each(|h| *h *= inv);
        let output = model.output_matrix();
        self.logits.clear();
        for i in 0..output.rows() {
            let row = output.row(i);
            self.logits.push(row.iter().zip(&self.hidden).map(|(a, b)| a * b).sum());
        }
        let max = self.logits.iter().cloned().fold(f32::NEG_INFINITY, f32::max);
        let mut z = 0.0f32;
        for v in self.logits.iter_mut() {
            *v = (*v - max).exp();
            z += *v;
        }
        let p = if z > 0.0 { self.logits[math] * (1.0 / z) } else { self.logits[math] };
        // `FastText::predict` reports exp(ln(p + 1e-5)): the same here, bit for bit in the formula.
        (p + 1e-5_f32).ln().exp().clamp(0.0, 1.0)
    }

    /// Sums the input rows of `token`'s ids into the arena and remembers them.
    fn cache_token(&mut self, token: &str) -> Token {
        if self.tokens.len() >= self.max_tokens {
            self.tokens.clear();
            self.arena.clear();
        }
        let model = &self.classifier.model;
        let dict = model.dict();
        let hash = fasttext_hash(token);
        let wid = dict.get_id_with_hash(token, hash).unwrap_or(-1);
        let kind = if wid < 0 { dict.get_type_from_str(token) } else { dict.get_type_by_id(wid) };
        let t = if kind != EntryType::Word {
            Token { offset: u32::MAX, rows: 0, hash }
        } else {
            self.ids.clear();
            dict.add_subwords(&mut self.ids, token, wid);
            let offset = self.arena.len();
            self.arena.resize(offset + self.dim, 0.0);
            let input = model.input_matrix();
            let sum = &mut self.arena[offset..];
            for &id in &self.ids {
                sum.iter_mut().zip(input.row(id as i64)).for_each(|(s, x)| *s += x);
            }
            Token { offset: offset as u32, rows: self.ids.len() as u32, hash }
        };
        self.tokens.insert(token.into(), t);
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hash_is_fasttexts_fnv1a_with_signed_bytes() {
        assert_eq!(fasttext_hash(""), 2_166_136_261);
        assert_eq!(fasttext_hash("a"), 0xe40c292c);
        // Bytes >= 0x80 are sign-extended, as C++ fastText does with `int8_t`.
        let mut h: u32 = 2_166_136_261;
        for b in "é".bytes() {
            h ^= 0xffff_ff00 | b as u32;
            h = h.wrapping_mul(16_777_619);
        }
        assert_eq!(fasttext_hash("é"), h);
    }
}
