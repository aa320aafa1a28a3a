//! The tokenizer: a byte-level BPE (GPT-2's pre-tokenization, every byte in the base alphabet,
//! so no text is out of vocabulary) trained with the `tokenizers` crate on a sample of the
//! training sources, or any Hugging Face `tokenizer.json`. Its end-of-document token
//! [`EOS`] separates packed documents.

use crate::error::TrainerError;
use std::path::Path;
use tokenizers::models::bpe::{BpeTrainerBuilder, BPE};
use tokenizers::models::TrainerWrapper;
use tokenizers::pre_tokenizers::byte_level::ByteLevel;
use tokenizers::{AddedToken, Tokenizer};

/// The end-of-document token appended after every document (GPT-2's name for it).
pub const EOS: &str = "<|endoftext|>";

/// Trains a byte-level BPE of `vocab_size` tokens (the 256 byte symbols, [`EOS`] and merges)
/// on `texts`, merging pairs seen at least twice. Deterministic for the same texts in the same
/// order. Errors: [`TrainerError::Tokenizer`].
pub fn train_bpe<I, S>(texts: I, vocab_size: usize) -> Result<Tokenizer, TrainerError>
where
    I: Iterator<Item = S> + Send,
    S: AsRef<str> + Send,
{
    let err = |e: tokenizers::Error| TrainerError::Tokenizer(e.to_string());
    let mut trainer = TrainerWrapper::BpeTrainer(
        BpeTrainerBuilder::new()
            .vocab_size(vocab_size)
            .min_frequency(2)
            .show_progress(false)
            .special_tokens(vec![AddedToken::from(EOS, true)])
            .initial_alphabet(ByteLevel::alphabet().into_iter().collect())
            .build(),
    );
    let mut tok = Tokenizer::new(BPE::default());
    tok.with_pre_tokenizer(Some(ByteLevel::new(false, true, true)));
    tok.with_decoder(Some(ByteLevel::new(false, true, true)));
    tok.train(&mut trainer, texts).map_err(err)?;
    eos_id(&tok)?;
    Ok(tok)
}

/// Loads a `tokenizer.json`; it must know [`EOS`].
pub fn load(path: &Path) -> Result<Tokenizer, TrainerError> {
    let tok = Tokenizer::from_file(path).map_err(|e| TrainerError::Tokenizer(format!("{}: {e}", path.display())))?;
    eos_id(&tok)?;
    Ok(tok)
}

/// The id of [`EOS`]. Errors: the tokenizer has no such token.
pub fn eos_id(tok: &Tokenizer) -> Result<u32, TrainerError> {
    tok.token_to_id(EOS).ok_or_else(|| TrainerError::Tokenizer(format!("the tokenizer has no {EOS} token")))
}

/// Token ids of `text`, no special tokens added.
pub fn encode(tok: &Tokenizer, text: &str) -> Result<Vec<u32>, TrainerError> {
    Ok(tok.encode_fast(text, false).map_err(|e| TrainerError::Tokenizer(e.to_string()))?.get_ids().to_vec())
}

/// Text of `ids` (special tokens skipped).
pub fn decode(tok: &Tokenizer, ids: &[u32]) -> Result<String, TrainerError> {
    tok.decode(ids, true).map_err(|e| TrainerError::Tokenizer(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_trained_bpe_round_trips_text_and_knows_eos() {
        let texts = ["Let $x^2 + y^2 = 1$. Then x is at most 1.", "The sum of 1/2 and 1/3 is 5/6.", "Prove that 2 + 2 = 4, é ∑"];
        let tok = train_bpe(texts.iter().cycle().take(30).copied(), 300).unwrap();
        assert!(tok.get_vocab_size(true) <= 300);
        assert!(tok.get_vocab_size(true) > 257, "no merges learnt");
        for t in texts {
            let ids = encode(&tok, t).unwrap();
            assert!(ids.len() < t.len(), "merges should shorten {t:?}");
            assert_eq!(decode(&tok, &ids).unwrap(), t);
        }
        // Bytes never seen in training are still encoded (byte-level alphabet).
        assert_eq!(decode(&tok, &encode(&tok, "ж\u{1F600}").unwrap()).unwrap(), "ж\u{1F600}");
        let eos = eos_id(&tok).unwrap();
        assert_eq!(encode(&tok, &format!("a{EOS}b")).unwrap().iter().filter(|&&i| i == eos).count(), 1);
    }
}
