//! Word normalisation and hashing for decontamination n-grams.
//!
//! A *word* is a maximal run of alphanumeric characters (Unicode `is_alphanumeric`), lowercased.
//! Punctuation is stripped: every other character separates words, except that
//! - apostrophes (`'`, `’`, `‘`, `ʼ`), the soft hyphen and zero-width characters are dropped
//!   without splitting (`Janet’s` = `Janets`, `don't` = `dont`);
//! - a `,` or `.` between two digits is dropped without splitting (`1,000` = `1000`,
//!   `3.5` = `35`), so thousands separators and decimal points do not change the words.
//!
//! LaTeX is treated like any text: `\frac{1}{2}` is the three words `frac 1 2`.
//!
//! Chinese and Japanese runs are first cut into words ([`crate::segment::spaced`]), so a Chinese
//! benchmark question is as many words as it has segmented words, and its 10-grams match a page
//! that quotes it.
//!
//! Each word becomes a 64-bit hash (FNV-1a over its lowercased code points, then the murmur3
//! finaliser); a sequence of words hashes as the polynomial `sum w_k * B^(len-1-k)` mod 2^64,
//! so every window of a segment is one multiply and one subtract off a prefix array
//! ([`WordHashes::window`]), with no allocation per word.

/// FNV-1a 64 offset basis: the state of an empty word.
const WORD_SEED: u64 = 0xcbf2_9ce4_8422_2325;
/// FNV-1a 64 prime.
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;
/// Odd multiplier of the polynomial sequence hash.
const BASE: u64 = 0x9e37_79b9_7f4a_7c15;
/// Mixed into a window's key with its length, so windows of different lengths never share a key.
const LEN_MIX: u64 = 0xa076_1d64_78bd_642f;

/// murmur3's 64-bit finaliser: a bijection that spreads every input bit over the output.
#[inline]
pub(crate) fn fmix64(mut k: u64) -> u64 {
    k ^= k >> 33;
    k = k.wrapping_mul(0xff51_afd7_ed55_8ccd);
    k ^= k >> 33;
    k = k.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    k ^= k >> 33;
    k
}

#[inline]
fn step(h: u64, c: u32) -> u64 {
    (h ^ u64::from(c)).wrapping_mul(FNV_PRIME)
}

/// Characters dropped without splitting a word.
#[inline]
fn is_joiner(c: char) -> bool {
    matches!(
        c,
        '\'' | '\u{2019}' | '\u{2018}' | '\u{02BC}' | '\u{00AD}' | '\u{200B}' | '\u{200C}' | '\u{200D}' | '\u{2060}' | '\u{FEFF}'
    )
}

/// The word hashes of a text and their polynomial prefix hashes, reusable across texts.
#[derive(Debug, Default)]
pub(crate) struct WordHashes {
    /// `prefix[j]` = polynomial hash of words `0..j`; `prefix.len()` = words + 1.
    prefix: Vec<u64>,
    /// `pow[l]` = `BASE^l`, for `l` up to the longest window asked for.
    pow: Vec<u64>,
}

impl WordHashes {
    /// A reusable buffer able to hash windows of up to `max_window` words.
    pub(crate) fn new(max_window: usize) -> Self {
        let mut pow = Vec::with_capacity(max_window + 1);
        let mut p = 1u64;
        for _ in 0..=max_window {
            pow.push(p);
            p = p.wrapping_mul(BASE);
        }
        WordHashes { prefix: Vec::new(), pow }
    }

    /// Number of words of the last text given to [`Self::fill`].
    #[inline]
    pub(crate) fn len(&self) -> usize {
        self.prefix.len().saturating_sub(1)
    }

    /// Splits `text` into normalised words and stores their prefix hashes.
    pub(crate) fn fill(&mut self, text: &str) {
        let text = &*crate::segment::spaced(text);
        self.prefix.clear();
        self.prefix.push(0);
        let mut acc = 0u64;
        let mut push = |h: u64, prefix: &mut Vec<u64>| {
            acc = acc.wrapping_mul(BASE).wrapping_add(fmix64(h));
            prefix.push(acc);
        };
        let mut h = WORD_SEED;
        let mut in_word = false;
        let mut last_digit = false;
        // A `,` or `.` just followed a digit: joins if the next character is a digit.
        let mut pending = false;
        for c in text.chars() {
            if c.is_ascii() {
                let b = c as u8;
                if b.is_ascii_alphanumeric() {
                    let digit = b.is_ascii_digit();
                    if pending && !digit {
                        push(h, &mut self.prefix);
                        h = WORD_SEED;
                    }
                    pending = false;
                    h = step(h, u32::from(b.to_ascii_lowercase()));
                    in_word = true;
                    last_digit = digit;
                    continue;
                }
                if b == b'\'' {
                    continue;
                }
                if (b == b',' || b == b'.') && in_word && last_digit && !pending {
                    pending = true;
                    continue;
                }
            } else if c.is_alphanumeric() {
                let digit = c.is_numeric();
                if pending && !digit {
                    push(h, &mut self.prefix);
                    h = WORD_SEED;
                }
                pending = false;
                for l in c.to_lowercase() {
                    h = step(h, u32::from(l));
                }
                in_word = true;
                last_digit = digit;
                continue;
            } else if is_joiner(c) {
                continue;
            }
            // A separator.
            if in_word {
                push(h, &mut self.prefix);
                h = WORD_SEED;
                in_word = false;
            }
            pending = false;
        }
        if in_word {
            push(h, &mut self.prefix);
        }
    }

    /// The key of the window of `len` words starting at word `start`: equal for equal word
    /// sequences, independent of where they sit. Needs `start + len <= self.len()` and
    /// `len <= max_window`.
    #[inline]
    pub(crate) fn window(&self, start: usize, len: usize) -> u64 {
        let h = self.prefix[start + len].wrapping_sub(self.prefix[start].wrapping_mul(self.pow[len]));
        fmix64(h.wrapping_add((len as u64).wrapping_mul(LEN_MIX)))
    }
}

/// The normalised words of `text`, as strings (for tests and diagnostics; the index never
/// allocates words).
pub fn normalized_words(text: &str) -> Vec<String> {
    let text = &*crate::segment::spaced(text);
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut last_digit = false;
    let mut pending = false;
    for c in text.chars() {
        if c.is_alphanumeric() {
            let digit = c.is_numeric();
            if pending && !digit && !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            pending = false;
            cur.extend(c.to_lowercase());
            last_digit = digit;
        } else if is_joiner(c) {
        } else if (c == ',' || c == '.') && !cur.is_empty() && last_digit && !pending {
            pending = true;
        } else {
            if !cur.is_empty() {
                out.push(std::mem::take(&mut cur));
            }
            pending = false;
        }
    }
    if !cur.is_empty() {
        out.push(cur);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(text: &str) -> (usize, u64) {
        let mut w = WordHashes::new(16);
        w.fill(text);
        let n = w.len();
        (n, w.window(0, n))
    }

    #[test]
    fn words_strip_punctuation_and_case() {
        assert_eq!(normalized_words("Janet’s ducks lay 1,000 eggs, at $2.50!"), ["janets", "ducks", "lay", "1000", "eggs", "at", "250"]);
        assert_eq!(normalized_words("x=2, 5.x; \\frac{1}{2}"), ["x", "2", "5", "x", "frac", "1", "2"]);
        assert_eq!(normalized_words("ÉTÉ  don't"), ["été", "dont"]);
        assert!(normalized_words(" ... -- ").is_empty());
    }

    #[test]
    fn hashes_agree_with_string_words() {
        for (a, b) in [
            ("Janet’s ducks lay 16 eggs per day.", "JANET'S DUCKS -- lay 16 eggs, per day"),
            ("It costs 1,000.50 dollars", "it costs 100050 dollars"),
            ("ÉTÉ à Paris", "été À paris"),
            ("$x^2+x-6=(x-2)(x+3)$", "x 2 x 6 x 2 x 3"),
        ] {
            assert_eq!(normalized_words(a), normalized_words(b), "{a:?} / {b:?}");
            assert_eq!(key(a), key(b), "{a:?} / {b:?}");
        }
        assert_ne!(key("one two three"), key("one two four"));
        assert_ne!(key("one two three"), key("three two one"));
        assert_eq!(key("a, b. c").0, 3);
    }

    #[test]
    fn windows_are_position_independent() {
        let mut w = WordHashes::new(10);
        w.fill("alpha beta gamma delta alpha beta gamma");
        assert_eq!(w.len(), 7);
        assert_eq!(w.window(0, 3), w.window(4, 3));
        assert_ne!(w.window(0, 3), w.window(1, 3));
        assert_ne!(w.window(0, 2), w.window(0, 3));
        let mut v = WordHashes::new(10);
        v.fill("Beta, GAMMA");
        assert_eq!(v.window(0, 2), w.window(1, 2));
    }
}
