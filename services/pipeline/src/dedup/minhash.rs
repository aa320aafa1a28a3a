//! MinHash signatures of page texts (Broder 1997, "On the resemblance and containment of
//! documents"), as used for near-dedup of web corpora.
//!
//! Shingles are word 5-grams of the normalised text: lowercased (Unicode), every run of
//! non-alphanumeric characters (punctuation, whitespace, TeX markup) a word separator. A text
//! of 1 to 4 words is one shingle. Chinese and Japanese runs are cut into words first
//! ([`crate::segment::spaced`]), so a Chinese page has word shingles too. Each shingle hashes to 64 bits (seeded FNV-1a per word,
//! murmur3's fmix64 finaliser, an order-sensitive combination of the 5 word hashes); permutation
//! `i` is `h_i(x) = (a_i * x + b_i) mod (2^61 - 1)` with `a_i in [1, p)`, `b_i in [0, p)` drawn
//! from ChaCha8 seeded by `seed`. Signature entry `i` is the minimum of `h_i` over the shingles,
//! so each entry is `< 2^61 - 1` and, for two texts, `P(sig_a[i] == sig_b[i])` is their
//! shingle-set Jaccard similarity.

use rand::{Rng, SeedableRng};

/// The Mersenne prime 2^61 - 1, the modulus of the permutations.
pub const MERSENNE_61: u64 = (1 << 61) - 1;

/// Words per shingle.
pub const SHINGLE_WORDS: usize = 5;

/// Computes MinHash signatures: `num_perm` permutations drawn from `seed`. Two hashers built
/// with the same `(num_perm, seed)` give identical signatures on every machine.
#[derive(Debug, Clone)]
pub struct MinHasher {
    seed: u64,
    a: Vec<u64>,
    b: Vec<u64>,
}

impl MinHasher {
    /// A hasher of `num_perm` permutations (the default config uses 112 = 14 bands x 8 rows).
    pub fn new(num_perm: usize, seed: u64) -> Self {
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(seed);
        let a = (0..num_perm).map(|_| rng.gen_range(1..MERSENNE_61)).collect();
        let b = (0..num_perm).map(|_| rng.gen_range(0..MERSENNE_61)).collect();
        Self { seed, a, b }
    }

    /// Number of permutations, the signature length.
    pub fn num_perm(&self) -> usize {
        self.a.len()
    }

    /// The seed the permutations and shingle hashes were drawn from.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The signature of `text`: [`num_perm`](Self::num_perm) values, each `< 2^61 - 1`.
    /// `None` when the text has no word at all (the caller counts it under `no_words` and keeps
    /// the page out of near-dedup: empty signatures would all collide).
    pub fn signature(&self, text: &str) -> Option<Vec<u64>> {
        let shingles = shingle_hashes(text, self.seed);
        if shingles.is_empty() {
            return None;
        }
        let mut sig = vec![u64::MAX; self.a.len()];
        let n = sig.len();
        let (a, b) = (&self.a[..n], &self.b[..n]);
        for &s in &shingles {
            let x = reduce61(s);
            for i in 0..n {
                // a*x + b mod p, folded once: lo + hi + b < 3 * 2^61, then one subtraction.
                let z = (a[i] as u128) * (x as u128);
                let v = ((z as u64) & MERSENNE_61) + ((z >> 61) as u64) + b[i];
                let v = (v & MERSENNE_61) + (v >> 61);
                let v = v - MERSENNE_61 * (v >= MERSENNE_61) as u64;
                sig[i] = sig[i].min(v);
            }
        }
        Some(sig)
    }
}

/// The MinHash estimate of Jaccard similarity: the share of equal positions of two signatures
/// of the same length (0.0 when empty or of different lengths).
pub fn estimated_jaccard(a: &[u64], b: &[u64]) -> f64 {
    if a.is_empty() || a.len() != b.len() {
        return 0.0;
    }
    a.iter().zip(b).filter(|(x, y)| x == y).count() as f64 / a.len() as f64
}

/// The 64-bit hashes of the word 5-grams of `text` (one per position, duplicates kept), as
/// described in the module doc. Empty when `text` has no word.
pub fn shingle_hashes(text: &str, seed: u64) -> Vec<u64> {
    let words = word_hashes(text, seed);
    if words.is_empty() {
        return Vec::new();
    }
    if words.len() < SHINGLE_WORDS {
        return vec![combine(&words, seed)];
    }
    words.windows(SHINGLE_WORDS).map(|w| combine(w, seed)).collect()
}

/// The exact Jaccard similarity of the shingle sets of two texts (for tests and evaluation).
pub fn shingle_jaccard(a: &str, b: &str, seed: u64) -> f64 {
    use std::collections::HashSet;
    let sa: HashSet<u64> = shingle_hashes(a, seed).into_iter().collect();
    let sb: HashSet<u64> = shingle_hashes(b, seed).into_iter().collect();
    let union = sa.union(&sb).count();
    if union == 0 {
        return 0.0;
    }
    sa.intersection(&sb).count() as f64 / union as f64
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// One hash per word: lowercase UTF-8 bytes through seeded FNV-1a, then fmix64.
fn word_hashes(text: &str, seed: u64) -> Vec<u64> {
    let text = &*crate::segment::spaced(text);
    let start = FNV_OFFSET ^ seed;
    let mut out = Vec::with_capacity(text.len() / 6);
    let mut h = start;
    let mut in_word = false;
    let mut buf = [0u8; 4];
    for c in text.chars() {
        if c.is_alphanumeric() {
            in_word = true;
            if c.is_ascii() {
                h = (h ^ c.to_ascii_lowercase() as u64).wrapping_mul(FNV_PRIME);
            } else {
                for lc in c.to_lowercase() {
                    for &byte in lc.encode_utf8(&mut buf).as_bytes() {
                        h = (h ^ byte as u64).wrapping_mul(FNV_PRIME);
                    }
                }
            }
        } else if in_word {
            out.push(fmix64(h));
            h = start;
            in_word = false;
        }
    }
    if in_word {
        out.push(fmix64(h));
    }
    out
}

/// Order-sensitive combination of word hashes into one shingle hash.
fn combine(words: &[u64], seed: u64) -> u64 {
    let mut h = seed ^ 0x9E37_79B9_7F4A_7C15;
    for &w in words {
        h = (h.rotate_left(23) ^ w).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    }
    fmix64(h)
}

/// A seeded 64-bit hash of bytes (FNV-1a then fmix64); used for partitioning keys.
pub fn hash_bytes(bytes: &[u8], seed: u64) -> u64 {
    let mut h = FNV_OFFSET ^ seed;
    for &b in bytes {
        h = (h ^ b as u64).wrapping_mul(FNV_PRIME);
    }
    fmix64(h)
}

/// murmur3's 64-bit finaliser: a bijective avalanche mix.
pub fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^ (k >> 33)
}

#[inline]
fn reduce61(x: u64) -> u64 {
    let r = (x & MERSENNE_61) + (x >> 61);
    if r >= MERSENNE_61 {
        r - MERSENNE_61
    } else {
        r
    }
}

/// `a * x mod p` for `a, x < p = 2^61 - 1` (the reference the fused loop is tested against).
#[cfg(test)]
fn mul61(a: u64, x: u64) -> u64 {
    let z = (a as u128) * (x as u128);
    let s = ((z as u64) & MERSENNE_61) + ((z >> 61) as u64);
    reduce61(s)
}

#[cfg(test)]
fn add61(a: u64, b: u64) -> u64 {
    let s = a + b;
    if s >= MERSENNE_61 {
        s - MERSENNE_61
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modular_arithmetic_matches_u128_reference() {
        let p = MERSENNE_61 as u128;
        for (a, x) in [(1u64, 0u64), (MERSENNE_61 - 1, MERSENNE_61 - 1), (123_456_789, 987_654_321_012), (1 << 60, 3)] {
            assert_eq!(mul61(a, x) as u128, (a as u128 * x as u128) % p, "{a} {x}");
        }
        assert_eq!(reduce61(u64::MAX) as u128, (u64::MAX as u128) % p);
        assert_eq!(add61(MERSENNE_61 - 1, 1), 0);
    }

    #[test]
    fn normalisation_ignores_case_punctuation_and_whitespace() {
        let a = "The quick brown fox, jumps over the lazy dog! $x^2$";
        let b = "the QUICK   brown fox\n\njumps -- over the lazy dog   x 2";
        assert_eq!(shingle_hashes(a, 1), shingle_hashes(b, 1));
        assert_eq!(shingle_hashes(a, 1).len(), 11 - 4);
        assert_ne!(shingle_hashes("fox brown quick the a", 1), shingle_hashes("the quick brown fox a", 1));
        assert_eq!(shingle_hashes("two words", 1).len(), 1);
        assert!(shingle_hashes(" ... --- ", 1).is_empty());
        // Unicode lowercasing: Cyrillic and Greek.
        assert_eq!(shingle_hashes("ПРИВЕТ мир ΣΟΦΙΑ", 3), shingle_hashes("привет МИР σοφια", 3));
    }

    #[test]
    fn fused_permutation_matches_reference() {
        let h = MinHasher::new(16, 9);
        let text = "alpha beta gamma delta epsilon zeta eta theta iota kappa";
        let want: Vec<u64> = (0..16)
            .map(|i| shingle_hashes(text, 9).iter().map(|&s| add61(mul61(h.a[i], reduce61(s)), h.b[i])).min().unwrap())
            .collect();
        assert_eq!(h.signature(text).unwrap(), want);
    }

    #[test]
    fn signature_shape_and_determinism() {
        let h = MinHasher::new(112, 42);
        let s = h.signature("one two three four five six seven").unwrap();
        assert_eq!(s.len(), 112);
        assert!(s.iter().all(|&v| v < MERSENNE_61));
        assert_eq!(MinHasher::new(112, 42).signature("one two three four five six seven").unwrap(), s);
        assert_ne!(MinHasher::new(112, 43).signature("one two three four five six seven").unwrap(), s);
        assert!(h.signature("  !!  ").is_none());
        assert_eq!(estimated_jaccard(&s, &s), 1.0);
        assert_eq!(estimated_jaccard(&s, &s[..5]), 0.0);
    }
}
