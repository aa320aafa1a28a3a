//! Training data: corpus snapshots read as streams, packed into fixed-length token sequences,
//! and mixed from several sources by weight, reproducibly from a seed.
//!
//! A snapshot is an iteration's `corpus/manifest.json` (or any manifest with the same `files`
//! list) and the dolma JSONL files it names, local or on S3 through the storage crate; files are
//! streamed line by line (memory holds a buffer, never a file). The paper trained on a mixture
//! (arXiv 2402.03300 §2.2: 56% math corpus, the rest code, arXiv and web text); here each
//! training sequence comes whole from one source, drawn by weight, so token shares follow the
//! weights.

use crate::error::TrainerError;
use crate::tokenizer;
use corpusminer_coordinator::corpus::ManifestFile;
use corpusminer_storage::{resolve, ObjectStore, StorageConfig};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use tokenizers::Tokenizer;

/// One training source: a name (for reports), a snapshot URI and a mixture weight. Written
/// `NAME=URI` or `NAME=URI@WEIGHT` (weight 1 by default).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SourceSpec {
    /// Name in reports (`mined`, `below-threshold`).
    pub name: String,
    /// A corpus folder holding `manifest.json`, or the manifest itself (path, `s3://`, `https://`).
    pub uri: String,
    /// Relative weight (positive; normalised over the sources).
    pub weight: f64,
}

impl std::str::FromStr for SourceSpec {
    type Err = TrainerError;

    fn from_str(s: &str) -> Result<Self, TrainerError> {
        let bad = || TrainerError::Config(format!("source {s:?}: expected NAME=URI or NAME=URI@WEIGHT"));
        let (name, rest) = s.split_once('=').ok_or_else(bad)?;
        let (uri, weight) = match rest.rsplit_once('@') {
            Some((u, w)) if w.parse::<f64>().is_ok() => (u, w.parse::<f64>().map_err(|_| bad())?),
            _ => (rest, 1.0),
        };
        if name.is_empty() || uri.is_empty() || !(weight > 0.0 && weight.is_finite()) {
            return Err(bad());
        }
        Ok(SourceSpec { name: name.to_string(), uri: uri.to_string(), weight })
    }
}

/// The part of a corpus manifest the trainer reads (the coordinator's
/// `corpus::Manifest` has these fields and more).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SnapshotManifest {
    /// Documents in the snapshot.
    pub documents: u64,
    /// Tokens in the snapshot (as the pipeline counts them: whitespace words, or the run's tokenizer).
    pub tokens: u64,
    /// The files, relative to the manifest's folder.
    pub files: Vec<ManifestFile>,
}

/// An opened snapshot: its store, the keys of its files, and its manifest.
#[derive(Debug, Clone)]
pub struct Snapshot {
    store: Arc<dyn ObjectStore>,
    /// Keys of the files in the store, in manifest order.
    pub keys: Vec<String>,
    /// The manifest.
    pub manifest: SnapshotManifest,
}

impl Snapshot {
    /// Reads the manifest at `uri` (a folder with `manifest.json`, or the file). Errors: the
    /// store's, or [`TrainerError::Corpus`] for a manifest that does not parse or lists no file.
    pub async fn open(uri: &str, cfg: &StorageConfig) -> Result<Self, TrainerError> {
        let (store, key) = resolve(uri, cfg)?;
        let manifest_key = if key.ends_with(".json") { key } else { format!("{}/manifest.json", key.trim_end_matches('/')) };
        let dir = manifest_key.rsplit_once('/').map(|(d, _)| format!("{d}/")).unwrap_or_default();
        let bytes = store.get(&manifest_key).await?;
        let manifest: SnapshotManifest =
            serde_json::from_slice(&bytes).map_err(|e| TrainerError::Corpus { key: manifest_key.clone(), message: e.to_string() })?;
        if manifest.files.is_empty() {
            return Err(TrainerError::Corpus { key: manifest_key, message: "the manifest lists no file".into() });
        }
        let keys = manifest.files.iter().map(|f| format!("{dir}{}", f.path)).collect();
        Ok(Snapshot { store, keys, manifest })
    }

    /// A blocking reader of file `i`, decompressed by its extension (`.zst`, `.gz`, else
    /// plain), streamed through `handle`'s runtime. Call it off the runtime's worker threads.
    fn open_file(&self, i: usize, handle: &tokio::runtime::Handle) -> Result<Box<dyn BufRead + Send>, TrainerError> {
        let key = &self.keys[i];
        let reader = handle.block_on(self.store.open_read(key, 0))?;
        let raw = BufReader::with_capacity(1 << 20, tokio_util::io::SyncIoBridge::new_with_handle(reader, handle.clone()));
        let err = |e: std::io::Error| TrainerError::Corpus { key: key.clone(), message: e.to_string() };
        let inner: Box<dyn Read + Send> = if key.ends_with(".zst") {
            Box::new(zstd::Decoder::with_buffer(raw).map_err(err)?)
        } else if key.ends_with(".gz") {
            Box::new(flate2::read::MultiGzDecoder::new(raw))
        } else {
            Box::new(raw)
        };
        Ok(Box::new(BufReader::new(inner)))
    }
}

/// Where a [`DocStream`] is: file index, lines read in that file, and full passes completed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DocPosition {
    /// Index of the current file in the manifest.
    pub file: usize,
    /// Lines of that file already read.
    pub line: u64,
    /// Completed passes over the whole snapshot.
    pub epoch: u64,
}

#[derive(Deserialize)]
struct TextOnly {
    text: String,
}

/// The documents' texts of a snapshot in manifest order, file after file, starting over (next
/// epoch) after the last; blank lines and documents with empty text are passed over.
pub struct DocStream {
    snapshot: Arc<Snapshot>,
    handle: tokio::runtime::Handle,
    pos: DocPosition,
    reader: Option<Box<dyn BufRead + Send>>,
}

impl DocStream {
    /// A stream at `pos` (the start: `DocPosition::default()`); the file is opened, and its
    /// first `pos.line` lines skipped, on the first read.
    pub fn new(snapshot: Arc<Snapshot>, handle: tokio::runtime::Handle, pos: DocPosition) -> Self {
        DocStream { snapshot, handle, pos, reader: None }
    }

    /// The position after the documents read so far.
    pub fn position(&self) -> &DocPosition {
        &self.pos
    }

    /// The next document's text. Errors: a file that cannot be read, a line that is not a
    /// document, or a snapshot with no text at all.
    pub fn next_text(&mut self) -> Result<String, TrainerError> {
        let mut empty_files = 0;
        loop {
            if self.reader.is_none() {
                let mut r = self.snapshot.open_file(self.pos.file, &self.handle)?;
                let mut skip = String::new();
                for _ in 0..self.pos.line {
                    skip.clear();
                    if r.read_line(&mut skip).map_err(|e| self.corpus_err(e.to_string()))? == 0 {
                        break;
                    }
                }
                self.reader = Some(r);
            }
            let mut line = String::new();
            let n = self.reader.as_mut().expect("opened above").read_line(&mut line).map_err(|e| self.corpus_err(e.to_string()))?;
            if n == 0 {
                self.reader = None;
                empty_files = if self.pos.line == 0 { empty_files + 1 } else { 0 };
                self.pos.line = 0;
                self.pos.file += 1;
                if self.pos.file == self.snapshot.keys.len() {
                    self.pos.file = 0;
                    self.pos.epoch += 1;
                }
                if empty_files > self.snapshot.keys.len() {
                    return Err(self.corpus_err("the snapshot holds no document".into()));
                }
                continue;
            }
            self.pos.line += 1;
            empty_files = 0;
            if line.trim().is_empty() {
                continue;
            }
            let doc: TextOnly = serde_json::from_str(&line).map_err(|e| self.corpus_err(format!("line {}: {e}", self.pos.line)))?;
            if !doc.text.is_empty() {
                return Ok(doc.text);
            }
        }
    }

    fn corpus_err(&self, message: String) -> TrainerError {
        TrainerError::Corpus { key: self.snapshot.keys[self.pos.file.min(self.snapshot.keys.len() - 1)].clone(), message }
    }
}

/// Where a [`Packer`] is: its stream's position and the tokens read but not yet emitted.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PackerPosition {
    /// The document stream's position.
    pub docs: DocPosition,
    /// Tokens of the last documents read, not yet in a sequence.
    pub pending: Vec<u32>,
}

/// Packs a stream of documents into sequences of `len` tokens: each document's tokens followed
/// by the end-of-document token, concatenated, cut every `len` tokens (a document may span two
/// sequences; no padding, no token dropped).
pub struct Packer {
    stream: DocStream,
    pending: Vec<u32>,
    eos: u32,
    len: usize,
}

impl Packer {
    /// A packer of `len`-token sequences over `stream`, resuming with `pending` tokens.
    pub fn new(stream: DocStream, pending: Vec<u32>, eos: u32, len: usize) -> Self {
        Packer { stream, pending, eos, len }
    }

    /// The next sequence (`len` token ids).
    pub fn next_sequence(&mut self, tok: &Tokenizer) -> Result<Vec<u32>, TrainerError> {
        while self.pending.len() < self.len {
            let text = self.stream.next_text()?;
            self.pending.extend(tokenizer::encode(tok, &text)?);
            self.pending.push(self.eos);
        }
        let rest = self.pending.split_off(self.len);
        Ok(std::mem::replace(&mut self.pending, rest))
    }

    /// Where the packer is (to save in a checkpoint).
    pub fn position(&self) -> PackerPosition {
        PackerPosition { docs: self.stream.position().clone(), pending: self.pending.clone() }
    }

    /// Full passes over the snapshot completed so far.
    pub fn epoch(&self) -> u64 {
        self.stream.position().epoch
    }
}

/// Where a [`Mixture`] is: the sampler's random stream (ChaCha8 seed and word position) and
/// each source's packer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MixturePosition {
    /// The ChaCha8 seed.
    pub seed: u64,
    /// Words of the ChaCha8 stream consumed.
    pub rng_word_pos: u128,
    /// Per source, in spec order.
    pub sources: Vec<PackerPosition>,
    /// Sequences drawn from each source so far.
    pub sequences: Vec<u64>,
}

/// A weighted mixture of sources: each sequence is drawn from source `i` with probability
/// `weight_i / Σ weight`, from a ChaCha8 stream seeded by the run's seed, so the same seed and
/// sources give the same sequences in the same order.
pub struct Mixture {
    names: Vec<String>,
    cumulative: Vec<f64>,
    packers: Vec<Packer>,
    rng: ChaCha8Rng,
    seed: u64,
    sequences: Vec<u64>,
}

impl Mixture {
    /// A mixture over opened `snapshots` (one per spec) producing sequences of `len` tokens,
    /// at `pos` (or the start with `seed` when `None`).
    pub fn new(
        specs: &[SourceSpec],
        snapshots: Vec<Arc<Snapshot>>,
        handle: &tokio::runtime::Handle,
        eos: u32,
        len: usize,
        seed: u64,
        pos: Option<MixturePosition>,
    ) -> Result<Self, TrainerError> {
        if specs.is_empty() || specs.len() != snapshots.len() {
            return Err(TrainerError::Config("a mixture needs one snapshot per source, and at least one source".into()));
        }
        let pos = pos.unwrap_or(MixturePosition {
            seed,
            rng_word_pos: 0,
            sources: vec![PackerPosition::default(); specs.len()],
            sequences: vec![0; specs.len()],
        });
        if pos.sources.len() != specs.len() {
            return Err(TrainerError::Config(format!("the saved data position has {} sources, the run {}", pos.sources.len(), specs.len())));
        }
        let total: f64 = specs.iter().map(|s| s.weight).sum();
        let cumulative = specs.iter().scan(0.0, |acc, s| {
            *acc += s.weight / total;
            Some(*acc)
        });
        let packers = snapshots
            .into_iter()
            .zip(&pos.sources)
            .map(|(snap, p)| Packer::new(DocStream::new(snap, handle.clone(), p.docs.clone()), p.pending.clone(), eos, len))
            .collect();
        let mut rng = ChaCha8Rng::seed_from_u64(pos.seed);
        rng.set_word_pos(pos.rng_word_pos);
        Ok(Mixture {
            names: specs.iter().map(|s| s.name.clone()).collect(),
            cumulative: cumulative.collect(),
            packers,
            rng,
            seed: pos.seed,
            sequences: pos.sequences,
        })
    }

    /// The next `b` sequences, concatenated (`b * len` ids, row-major `[b, len]`), with the
    /// source index of each.
    pub fn next_batch(&mut self, tok: &Tokenizer, b: usize) -> Result<(Vec<u32>, Vec<usize>), TrainerError> {
        let mut ids = Vec::new();
        let mut from = Vec::with_capacity(b);
        for _ in 0..b {
            let u: f64 = self.rng.gen();
            let i = self.cumulative.iter().position(|&c| u < c).unwrap_or(self.cumulative.len() - 1);
            ids.extend(self.packers[i].next_sequence(tok)?);
            self.sequences[i] += 1;
            from.push(i);
        }
        Ok((ids, from))
    }

    /// Where the mixture is (to save in a checkpoint).
    pub fn position(&self) -> MixturePosition {
        MixturePosition {
            seed: self.seed,
            rng_word_pos: self.rng.get_word_pos(),
            sources: self.packers.iter().map(Packer::position).collect(),
            sequences: self.sequences.clone(),
        }
    }

    /// Per source: name, sequences drawn, completed epochs.
    pub fn usage(&self) -> Vec<(String, u64, u64)> {
        self.names.iter().zip(&self.sequences).zip(&self.packers).map(|((n, s), p)| (n.clone(), *s, p.epoch())).collect()
    }
}

/// Up to `max_bytes` of text from each snapshot, taken from its start, for training a
/// tokenizer (documents cut at `max_bytes`, read in manifest order).
pub fn sample_texts(snapshots: &[Arc<Snapshot>], handle: &tokio::runtime::Handle, max_bytes: usize) -> Result<Vec<String>, TrainerError> {
    let mut out = Vec::new();
    for snap in snapshots {
        let mut stream = DocStream::new(snap.clone(), handle.clone(), DocPosition::default());
        let mut bytes = 0;
        while bytes < max_bytes && stream.position().epoch == 0 {
            let mut t = stream.next_text()?;
            if t.len() > max_bytes - bytes {
                let mut cut = max_bytes - bytes;
                while !t.is_char_boundary(cut) {
                    cut -= 1;
                }
                t.truncate(cut);
            }
            bytes += t.len().max(1);
            out.push(t);
        }
    }
    Ok(out)
}

/// Writes `texts` as a one-file dolma snapshot in `dir` (`docs.jsonl.zst` and `manifest.json`,
/// tokens counted as whitespace words, as the pipeline does by default): derived corpora and
/// tests use it.
pub fn write_snapshot(dir: &std::path::Path, source: &str, texts: &[String]) -> Result<SnapshotManifest, TrainerError> {
    use sha2::Digest;
    std::fs::create_dir_all(dir).map_err(|e| TrainerError::io(dir, e))?;
    let mut enc = zstd::Encoder::new(Vec::new(), 3).map_err(|e| TrainerError::io(dir, e))?;
    let mut tokens = 0;
    for (i, t) in texts.iter().enumerate() {
        tokens += t.split_whitespace().count() as u64;
        let doc = serde_json::json!({"id": format!("{source}-{i}"), "text": t, "source": source, "added": "", "created": null, "metadata": {}});
        serde_json::to_writer(&mut enc, &doc).map_err(|e| TrainerError::Corpus { key: dir.display().to_string(), message: e.to_string() })?;
        std::io::Write::write_all(&mut enc, b"\n").map_err(|e| TrainerError::io(dir, e))?;
    }
    let bytes = enc.finish().map_err(|e| TrainerError::io(dir, e))?;
    let path = dir.join("docs.jsonl.zst");
    std::fs::write(&path, &bytes).map_err(|e| TrainerError::io(&path, e))?;
    let file = ManifestFile {
        path: "docs.jsonl.zst".into(),
        documents: texts.len() as u64,
        tokens,
        bytes: bytes.len() as u64,
        sha256: hex::encode(sha2::Sha256::digest(&bytes)),
    };
    let manifest = SnapshotManifest { documents: texts.len() as u64, tokens, files: vec![file] };
    let mpath = dir.join("manifest.json");
    std::fs::write(&mpath, serde_json::to_vec_pretty(&manifest).expect("a manifest serialises")).map_err(|e| TrainerError::io(&mpath, e))?;
    Ok(manifest)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn runtime() -> tokio::runtime::Runtime {
        tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap()
    }

    fn snapshot(rt: &tokio::runtime::Runtime, dir: &std::path::Path, name: &str, n: usize) -> Arc<Snapshot> {
        let texts: Vec<String> = (0..n).map(|i| format!("{name} document number {i} says {}", "word ".repeat(i % 7))).collect();
        write_snapshot(&dir.join(name), name, &texts).unwrap();
        Arc::new(rt.block_on(Snapshot::open(dir.join(name).to_str().unwrap(), &StorageConfig::default())).unwrap())
    }

    #[test]
    fn source_specs_parse_with_and_without_weights() {
        let s: SourceSpec = "math=s3://b/it/1/corpus@0.56".parse().unwrap();
        assert_eq!((s.name.as_str(), s.uri.as_str(), s.weight), ("math", "s3://b/it/1/corpus", 0.56));
        let s: SourceSpec = "web=out/corpus".parse().unwrap();
        assert_eq!(s.weight, 1.0);
        assert!("noname".parse::<SourceSpec>().is_err());
        assert!("x=y@0".parse::<SourceSpec>().is_err());
    }

    #[test]
    fn the_mixture_is_reproducible_from_its_seed_and_respects_weights() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let snaps = vec![snapshot(&rt, dir.path(), "alpha", 40), snapshot(&rt, dir.path(), "beta", 25), snapshot(&rt, dir.path(), "gamma", 10)];
        let tok = tokenizer::train_bpe(sample_texts(&snaps, rt.handle(), 10_000).unwrap().into_iter(), 300).unwrap();
        let eos = tokenizer::eos_id(&tok).unwrap();
        let specs: Vec<SourceSpec> = ["alpha=a@0.6", "beta=b@0.3", "gamma=c@0.1"].iter().map(|s| s.parse().unwrap()).collect();
        let draw = |seed: u64, n: usize| {
            let mut m = Mixture::new(&specs, snaps.clone(), rt.handle(), eos, 16, seed, None).unwrap();
            let (ids, from) = m.next_batch(&tok, n).unwrap();
            (ids, from, m)
        };
        let (a, fa, m) = draw(5, 2000);
        let (b, fb, _) = draw(5, 2000);
        assert_eq!((a.clone(), fa.clone()), (b, fb), "same seed, different data");
        let (c, _, _) = draw(6, 2000);
        assert_ne!(a, c, "another seed gave the same data");
        for (i, w) in [0.6, 0.3, 0.1].iter().enumerate() {
            let share = fa.iter().filter(|&&f| f == i).count() as f64 / 2000.0;
            // Binomial standard deviation at n = 2000 is at most 0.011: 4 sd.
            assert!((share - w).abs() < 0.045, "source {i}: share {share}, weight {w}");
        }
        // Small sources wrap around (epochs) rather than run dry.
        assert!(m.usage()[2].2 >= 1);
        // Resuming at a saved position continues the same sequence.
        let mut m1 = Mixture::new(&specs, snaps.clone(), rt.handle(), eos, 16, 9, None).unwrap();
        let (first, _) = m1.next_batch(&tok, 37).unwrap();
        let saved = m1.position();
        let (rest, _) = m1.next_batch(&tok, 50).unwrap();
        let mut m2 = Mixture::new(&specs, snaps.clone(), rt.handle(), eos, 16, 0, Some(serde_json::from_str(&serde_json::to_string(&saved).unwrap()).unwrap())).unwrap();
        assert_eq!(m2.next_batch(&tok, 50).unwrap().0, rest);
        assert_eq!(first.len(), 37 * 16);
    }

    #[test]
    fn packing_keeps_every_token_and_separates_documents() {
        let rt = runtime();
        let dir = tempfile::tempdir().unwrap();
        let snap = snapshot(&rt, dir.path(), "docs", 3);
        let tok = tokenizer::train_bpe(sample_texts(std::slice::from_ref(&snap), rt.handle(), 10_000).unwrap().into_iter(), 280).unwrap();
        let eos = tokenizer::eos_id(&tok).unwrap();
        let mut expect = Vec::new();
        for i in 0..3 {
            expect.extend(tokenizer::encode(&tok, &format!("docs document number {i} says {}", "word ".repeat(i % 7))).unwrap());
            expect.push(eos);
        }
        let mut p = Packer::new(DocStream::new(snap, rt.handle().clone(), DocPosition::default()), Vec::new(), eos, 7);
        let mut got = Vec::new();
        while got.len() < expect.len() {
            let s = p.next_sequence(&tok).unwrap();
            assert_eq!(s.len(), 7);
            got.extend(s);
        }
        assert_eq!(&got[..expect.len()], &expect[..]);
        // The stream starts over after the last document (the next epoch).
        assert_eq!(got[expect.len()..], expect[..got.len() - expect.len()]);
    }
}
