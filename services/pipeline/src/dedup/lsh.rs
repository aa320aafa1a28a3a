//! Locality-sensitive hashing over MinHash signatures, out of core (Leskovec, Rajaraman,
//! Ullman, *Mining of Massive Datasets*, §3.4 "banding").
//!
//! A signature of `bands * rows` values is cut into `bands` bands of `rows` values; pages whose
//! band `i` is identical share bucket `(i, hash(band i))` and become candidate pairs. A pair
//! with Jaccard `s` is a candidate with probability `1 - (1 - s^rows)^bands` (14 x 8: 0.92 at
//! 0.8, 0.9996 at 0.9, 0.08 at 0.6). Candidates are confirmed by their estimated Jaccard
//! (share of equal signature positions) `>= threshold`; connected components of confirmed
//! pairs (union-find) are the near-duplicate clusters.
//!
//! Out-of-core flow, each step holding one piece at a time:
//! 1. per shard, [`NearDupWriter`] appends each page's signature (and score) to a signature file
//!    ([`SignatureFileWriter`]) and its [`BandRow`]s, 18 bytes each, to `partitions` row files
//!    chosen by [`BandRow::partition`] (a whole bucket always lands in one partition);
//! 2. [`dedup_partitions`] reads one partition at a time (all shards' files of that partition
//!    chained by the caller), sorts it, groups it by bucket ([`cluster_bucket_partition`]),
//!    confirms candidates with signatures looked up through [`SignatureLookup`] (a
//!    [`FileSignatures`] reads them by offset), and unions confirmed pairs;
//! 3. clusters are resolved; the kept page of each is the highest score, then the smallest id.
//!
//! Peak memory: one partition's rows plus one union-find entry per page that has a confirmed
//! near-duplicate (never one per page).

use super::minhash::fmix64;
use super::DedupError;
use crate::stats::Counters;
use std::collections::{BTreeMap, HashMap};
use std::io::{Read, Seek, SeekFrom, Write};

/// Banding parameters and the confirmation threshold.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LshConfig {
    /// Number of bands (default 14).
    pub bands: usize,
    /// Signature values per band (default 8). `bands * rows` is the signature length.
    pub rows: usize,
    /// Estimated Jaccard needed to confirm a candidate pair, in `[0, 1]` (default 0.8).
    pub threshold: f64,
}

impl Default for LshConfig {
    fn default() -> Self {
        Self { bands: 14, rows: 8, threshold: 0.8 }
    }
}

/// Buckets holding more pages than this are not compared all-pairs: each member is compared
/// with the bucket's smallest id and with its predecessor in id order (counted under
/// `large_bucket`), so a bucket of `n` pages costs `O(n)` comparisons, not `O(n^2)`.
pub const MAX_ALL_PAIRS_BUCKET: usize = 32;

impl LshConfig {
    /// Signature length, `bands * rows`.
    pub fn num_perm(&self) -> usize {
        self.bands * self.rows
    }

    /// Checks `bands, rows >= 1`, `bands <= 65,535` and `threshold` in `[0, 1]`.
    /// Errors: [`DedupError::Config`].
    pub fn validate(&self) -> Result<(), DedupError> {
        if self.bands == 0 || self.rows == 0 || self.bands > u16::MAX as usize {
            return Err(DedupError::Config(format!("bands {} x rows {}", self.bands, self.rows)));
        }
        if !(0.0..=1.0).contains(&self.threshold) {
            return Err(DedupError::Config(format!("threshold {} outside [0, 1]", self.threshold)));
        }
        Ok(())
    }

    /// Probability that a pair of Jaccard similarity `s` shares at least one bucket:
    /// `1 - (1 - s^rows)^bands`.
    pub fn candidate_probability(&self, s: f64) -> f64 {
        1.0 - (1.0 - s.powi(self.rows as i32)).powi(self.bands as i32)
    }
}

/// One LSH row: page `id` falls in bucket `bucket` of band `band`. Ordered by
/// `(band, bucket, id)`. Stored as 18 little-endian bytes: band u16, bucket u64, id u64.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BandRow {
    /// Band index, `0..bands`.
    pub band: u16,
    /// 64-bit hash of the band's `rows` signature values (seeded by the band index).
    pub bucket: u64,
    /// Page id.
    pub id: u64,
}

/// Bytes of one stored [`BandRow`].
pub const BAND_ROW_BYTES: usize = 18;

impl BandRow {
    /// The partition (`0..n`) this row belongs to: a function of `(band, bucket)` only, so every
    /// row of a bucket lands in the same partition. `n` must be at least 1.
    pub fn partition(&self, n: usize) -> usize {
        (fmix64(self.bucket ^ (self.band as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15)) % n.max(1) as u64) as usize
    }

    /// The 18-byte encoding.
    pub fn to_bytes(&self) -> [u8; BAND_ROW_BYTES] {
        let mut b = [0u8; BAND_ROW_BYTES];
        b[..2].copy_from_slice(&self.band.to_le_bytes());
        b[2..10].copy_from_slice(&self.bucket.to_le_bytes());
        b[10..].copy_from_slice(&self.id.to_le_bytes());
        b
    }

    /// Decodes [`to_bytes`](Self::to_bytes).
    pub fn from_bytes(b: &[u8; BAND_ROW_BYTES]) -> Self {
        Self {
            band: u16::from_le_bytes([b[0], b[1]]),
            bucket: u64::from_le_bytes(b[2..10].try_into().expect("8 bytes")),
            id: u64::from_le_bytes(b[10..].try_into().expect("8 bytes")),
        }
    }
}

/// The `bands` rows of page `id`: band `i` hashes `signature[i*rows .. (i+1)*rows]`.
/// Errors: [`DedupError::SignatureLength`] when the signature is not `bands * rows` long.
pub fn band_keys(id: u64, signature: &[u64], cfg: &LshConfig) -> Result<Vec<BandRow>, DedupError> {
    if signature.len() != cfg.num_perm() {
        return Err(DedupError::SignatureLength { expected: cfg.num_perm(), got: signature.len() });
    }
    Ok(signature
        .chunks(cfg.rows)
        .enumerate()
        .map(|(band, vals)| {
            let mut h = fmix64(band as u64 ^ 0xB4D5_EED0_0000_0000);
            for &v in vals {
                h = fmix64(h ^ v).wrapping_add(0x9E37_79B9_7F4A_7C15);
            }
            BandRow { band: band as u16, bucket: h, id }
        })
        .collect())
}

/// A stored signature with the score that decides which page of a cluster is kept.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredSignature {
    /// Page id.
    pub id: u64,
    /// Classifier score (higher is kept first; NaN ranks lowest).
    pub score: f32,
    /// MinHash signature, `bands * rows` long.
    pub signature: Vec<u64>,
}

/// Where [`cluster_bucket_partition`] finds the signatures and scores of candidate pages.
pub trait SignatureLookup {
    /// The stored signature of page `id`; `Ok(None)` when it was never stored (counted under
    /// `missing_signature`, the pair is not confirmed). Errors: I/O or a corrupt store.
    fn lookup(&mut self, id: u64) -> Result<Option<StoredSignature>, DedupError>;
}

/// Signatures held in memory, by id.
#[derive(Debug, Clone, Default)]
pub struct MemorySignatures(pub HashMap<u64, StoredSignature>);

impl SignatureLookup for MemorySignatures {
    fn lookup(&mut self, id: u64) -> Result<Option<StoredSignature>, DedupError> {
        Ok(self.0.get(&id).cloned())
    }
}

/// Appends signatures to a byte stream. Record layout (little-endian): id u64, score f32,
/// length u32, then `length` u64 values; `16 + 8 * length` bytes.
pub struct SignatureFileWriter<W: Write> {
    w: W,
    offset: u64,
}

impl<W: Write> SignatureFileWriter<W> {
    /// A writer whose first record goes at byte `start_offset` of the file (0 for a new file).
    pub fn new(w: W, start_offset: u64) -> Self {
        Self { w, offset: start_offset }
    }

    /// Appends one record and returns its byte offset. Errors: I/O.
    pub fn append(&mut self, id: u64, score: f32, signature: &[u64]) -> Result<u64, DedupError> {
        let at = self.offset;
        let mut buf = Vec::with_capacity(16 + 8 * signature.len());
        buf.extend_from_slice(&id.to_le_bytes());
        buf.extend_from_slice(&score.to_le_bytes());
        buf.extend_from_slice(&(signature.len() as u32).to_le_bytes());
        for v in signature {
            buf.extend_from_slice(&v.to_le_bytes());
        }
        self.w.write_all(&buf)?;
        self.offset += buf.len() as u64;
        Ok(at)
    }

    /// Flushes and returns the inner writer. Errors: I/O.
    pub fn finish(mut self) -> Result<W, DedupError> {
        self.w.flush()?;
        Ok(self.w)
    }
}

/// Signatures read by offset from a file written by [`SignatureFileWriter`], through an index
/// `id -> offset` (kept by the caller, or rebuilt with [`FileSignatures::scan`]).
pub struct FileSignatures<R: Read + Seek> {
    r: R,
    index: HashMap<u64, u64>,
}

impl<R: Read + Seek> FileSignatures<R> {
    /// A store over `r` with a known index.
    pub fn new(r: R, index: HashMap<u64, u64>) -> Self {
        Self { r, index }
    }

    /// Reads the whole file once to build the index. A truncated last record is left out and
    /// counted under `truncated_signature` in `counters`. Errors: I/O.
    pub fn scan(mut r: R, counters: &mut Counters) -> Result<Self, DedupError> {
        let end = r.seek(SeekFrom::End(0))?;
        let mut index = HashMap::new();
        let mut at = 0u64;
        while at < end {
            r.seek(SeekFrom::Start(at))?;
            let mut head = [0u8; 16];
            if end - at < 16 || read_full(&mut r, &mut head)? < 16 {
                counters.incr("truncated_signature");
                break;
            }
            let id = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
            let len = u32::from_le_bytes(head[12..].try_into().expect("4 bytes")) as u64;
            let next = at + 16 + 8 * len;
            if next > end {
                counters.incr("truncated_signature");
                break;
            }
            index.insert(id, at);
            at = next;
        }
        Ok(Self { r, index })
    }

    /// Number of indexed signatures.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// True when no signature is indexed.
    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }
}

impl<R: Read + Seek> SignatureLookup for FileSignatures<R> {
    fn lookup(&mut self, id: u64) -> Result<Option<StoredSignature>, DedupError> {
        let Some(&at) = self.index.get(&id) else { return Ok(None) };
        self.r.seek(SeekFrom::Start(at))?;
        let mut head = [0u8; 16];
        self.r.read_exact(&mut head)?;
        let stored_id = u64::from_le_bytes(head[..8].try_into().expect("8 bytes"));
        if stored_id != id {
            return Err(DedupError::CorruptStore(format!("offset {at} holds id {stored_id}, not {id}")));
        }
        let score = f32::from_le_bytes(head[8..12].try_into().expect("4 bytes"));
        let len = u32::from_le_bytes(head[12..].try_into().expect("4 bytes")) as usize;
        let mut body = vec![0u8; 8 * len];
        self.r.read_exact(&mut body)?;
        let signature = body.chunks_exact(8).map(|c| u64::from_le_bytes(c.try_into().expect("8 bytes"))).collect();
        Ok(Some(StoredSignature { id, score, signature }))
    }
}

fn read_full<R: Read>(r: &mut R, buf: &mut [u8]) -> std::io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// Union-find over page ids with a confirmed near-duplicate; the root of a set is its smallest
/// id (deterministic whatever the union order). Path halving.
#[derive(Debug, Clone, Default)]
pub struct UnionFind {
    parent: HashMap<u64, u64>,
}

impl UnionFind {
    /// The root of `x` (x itself when never joined).
    pub fn find(&mut self, x: u64) -> u64 {
        let mut x = x;
        while let Some(&p) = self.parent.get(&x) {
            if p == x {
                break;
            }
            let gp = *self.parent.get(&p).unwrap_or(&p);
            self.parent.insert(x, gp);
            x = gp;
        }
        x
    }

    /// Joins the sets of `a` and `b`; returns false when they were already one set.
    pub fn union(&mut self, a: u64, b: u64) -> bool {
        let (ra, rb) = (self.find(a), self.find(b));
        if ra == rb {
            return false;
        }
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        self.parent.entry(lo).or_insert(lo);
        self.parent.insert(hi, lo);
        true
    }

    /// Number of ids held (pages with a confirmed near-duplicate).
    pub fn len(&self) -> usize {
        self.parent.len()
    }

    /// True when nothing was joined.
    pub fn is_empty(&self) -> bool {
        self.parent.is_empty()
    }

    /// The sets, each as its ids ascending, ordered by smallest id.
    pub fn sets(&mut self) -> Vec<Vec<u64>> {
        let ids: Vec<u64> = self.parent.keys().copied().collect();
        let mut by_root: BTreeMap<u64, Vec<u64>> = BTreeMap::new();
        for id in ids {
            let r = self.find(id);
            by_root.entry(r).or_default().push(id);
        }
        by_root
            .into_values()
            .map(|mut v| {
                v.sort_unstable();
                v
            })
            .collect()
    }
}

/// Clusters one partition of band rows: sorts `rows` by `(band, bucket, id)`, turns each bucket
/// of two or more pages into candidate pairs (all pairs up to [`MAX_ALL_PAIRS_BUCKET`] pages,
/// else each page against the smallest id and its predecessor), confirms a pair when the
/// estimated Jaccard of the two signatures is `>= cfg.threshold`, and unions confirmed pairs in
/// `uf`. Pairs already in one set are not looked up again.
///
/// Counters: `candidate_pairs`, `confirmed_pairs`, `rejected_pairs`, `missing_signature`,
/// `large_bucket`. Errors: from the lookup (I/O, corrupt store).
pub fn cluster_bucket_partition<L: SignatureLookup + ?Sized>(
    rows: &mut Vec<BandRow>,
    lookup: &mut L,
    cfg: &LshConfig,
    uf: &mut UnionFind,
    counters: &mut Counters,
) -> Result<(), DedupError> {
    rows.sort_unstable();
    rows.dedup();
    let mut start = 0;
    let mut cache: HashMap<u64, Option<Vec<u64>>> = HashMap::new();
    while start < rows.len() {
        let key = (rows[start].band, rows[start].bucket);
        let mut end = start + 1;
        while end < rows.len() && (rows[end].band, rows[end].bucket) == key {
            end += 1;
        }
        let ids: Vec<u64> = rows[start..end].iter().map(|r| r.id).collect();
        start = end;
        if ids.len() < 2 {
            continue;
        }
        let mut pairs: Vec<(u64, u64)> = Vec::new();
        if ids.len() <= MAX_ALL_PAIRS_BUCKET {
            for i in 0..ids.len() {
                for j in i + 1..ids.len() {
                    pairs.push((ids[i], ids[j]));
                }
            }
        } else {
            counters.incr("large_bucket");
            for j in 1..ids.len() {
                pairs.push((ids[0], ids[j]));
                if j > 1 {
                    pairs.push((ids[j - 1], ids[j]));
                }
            }
        }
        counters.add("candidate_pairs", pairs.len() as u64);
        cache.clear();
        for (a, b) in pairs {
            if uf.find(a) == uf.find(b) {
                continue;
            }
            for id in [a, b] {
                if let std::collections::hash_map::Entry::Vacant(slot) = cache.entry(id) {
                    let sig = lookup.lookup(id)?.map(|s| s.signature);
                    if sig.is_none() {
                        counters.incr("missing_signature");
                    }
                    slot.insert(sig);
                }
            }
            let (Some(Some(sa)), Some(Some(sb))) = (cache.get(&a), cache.get(&b)) else { continue };
            if super::minhash::estimated_jaccard(sa, sb) >= cfg.threshold {
                counters.incr("confirmed_pairs");
                uf.union(a, b);
            } else {
                counters.incr("rejected_pairs");
            }
        }
    }
    Ok(())
}

/// One near-duplicate cluster: the page kept and the pages removed.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Cluster {
    /// The page kept: highest score, then smallest id.
    pub kept: u64,
    /// The other pages of the cluster, ascending.
    pub removed: Vec<u64>,
}

/// Outcome of near-dedup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NearDupReport {
    /// Clusters of two or more pages, ordered by kept id.
    pub clusters: Vec<Cluster>,
    /// Pages removed: the sum of the clusters' `removed` lengths.
    pub removed: u64,
    /// Most band rows held in memory at once.
    pub peak_rows_in_memory: usize,
    /// `near_duplicate_removed`, `partitions`, `band_rows`, `truncated_band_row` and those of
    /// [`cluster_bucket_partition`].
    pub counters: Counters,
}

/// Turns union-find sets into [`Cluster`]s, choosing the kept page of each by score (looked up)
/// then smallest id. Errors: from the lookup.
pub fn resolve_clusters<L: SignatureLookup + ?Sized>(
    uf: &mut UnionFind,
    lookup: &mut L,
) -> Result<Vec<Cluster>, DedupError> {
    let mut clusters = Vec::new();
    for set in uf.sets() {
        let mut ranked = Vec::with_capacity(set.len());
        for id in set {
            let score = lookup.lookup(id)?.map(|s| s.score).unwrap_or(f32::NAN);
            let score = if score.is_nan() { f32::NEG_INFINITY } else { score };
            ranked.push((score, id));
        }
        ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
        let kept = ranked[0].1;
        let mut removed: Vec<u64> = ranked[1..].iter().map(|r| r.1).collect();
        removed.sort_unstable();
        clusters.push(Cluster { kept, removed });
    }
    clusters.sort();
    Ok(clusters)
}

/// Writes band rows to `partitions` row streams (one per partition, created by the caller's
/// factory: files, object-store uploads, buffers).
pub struct BandRowWriter<W: Write> {
    writers: Vec<W>,
    rows: Vec<u64>,
}

impl<W: Write> BandRowWriter<W> {
    /// Opens `partitions` streams with `create(partition)`. Errors: I/O from the factory,
    /// [`DedupError::Config`] for zero partitions.
    pub fn new<F: FnMut(usize) -> std::io::Result<W>>(partitions: usize, mut create: F) -> Result<Self, DedupError> {
        if partitions == 0 {
            return Err(DedupError::Config("zero partitions".into()));
        }
        let writers = (0..partitions).map(&mut create).collect::<Result<Vec<_>, _>>()?;
        Ok(Self { writers, rows: vec![0; partitions] })
    }

    /// Writes one row to its partition. Errors: I/O.
    pub fn write(&mut self, row: &BandRow) -> Result<(), DedupError> {
        let p = row.partition(self.writers.len());
        self.writers[p].write_all(&row.to_bytes())?;
        self.rows[p] += 1;
        Ok(())
    }

    /// Rows written per partition so far.
    pub fn rows_per_partition(&self) -> &[u64] {
        &self.rows
    }

    /// Flushes and returns the streams, by partition. Errors: I/O.
    pub fn finish(mut self) -> Result<Vec<W>, DedupError> {
        for w in &mut self.writers {
            w.flush()?;
        }
        Ok(self.writers)
    }
}

/// The per-shard side of near-dedup: signs each page, appends its signature to the signature
/// file and its band rows to the partition streams.
pub struct NearDupWriter<S: Write, B: Write> {
    hasher: super::MinHasher,
    cfg: LshConfig,
    signatures: SignatureFileWriter<S>,
    rows: BandRowWriter<B>,
    index: HashMap<u64, u64>,
    /// `pages`, `signed`, `no_words`.
    pub counters: Counters,
}

impl<S: Write, B: Write> NearDupWriter<S, B> {
    /// A writer for one shard. `hasher.num_perm()` must equal `cfg.num_perm()`.
    /// Errors: [`DedupError::Config`].
    pub fn new(
        hasher: super::MinHasher,
        cfg: LshConfig,
        signatures: SignatureFileWriter<S>,
        rows: BandRowWriter<B>,
    ) -> Result<Self, DedupError> {
        cfg.validate()?;
        if hasher.num_perm() != cfg.num_perm() {
            return Err(DedupError::Config(format!(
                "{} permutations for {} bands x {} rows",
                hasher.num_perm(),
                cfg.bands,
                cfg.rows
            )));
        }
        Ok(Self { hasher, cfg, signatures, rows, index: HashMap::new(), counters: Counters::default() })
    }

    /// Signs and writes page `id`; returns false (counted `no_words`) when the text has no word,
    /// so the page takes no part in near-dedup and is kept. Errors: I/O.
    pub fn add(&mut self, id: u64, score: f32, text: &str) -> Result<bool, DedupError> {
        self.counters.incr("pages");
        let Some(sig) = self.hasher.signature(text) else {
            self.counters.incr("no_words");
            return Ok(false);
        };
        self.add_signature(id, score, &sig)?;
        Ok(true)
    }

    /// Writes a signature computed elsewhere. Errors: I/O, [`DedupError::SignatureLength`].
    pub fn add_signature(&mut self, id: u64, score: f32, sig: &[u64]) -> Result<(), DedupError> {
        let rows = band_keys(id, sig, &self.cfg)?;
        let at = self.signatures.append(id, score, sig)?;
        self.index.insert(id, at);
        for r in &rows {
            self.rows.write(r)?;
        }
        self.counters.incr("signed");
        Ok(())
    }

    /// Flushes; returns the signature stream, its `id -> offset` index and the partition streams.
    /// Errors: I/O.
    #[allow(clippy::type_complexity)]
    pub fn finish(self) -> Result<(S, HashMap<u64, u64>, Vec<B>), DedupError> {
        Ok((self.signatures.finish()?, self.index, self.rows.finish()?))
    }
}

/// Reads all rows of one partition stream into `out`, holding at most `max_rows`. A truncated
/// last row is counted under `truncated_band_row` and the rows before it are kept.
/// Errors: I/O, [`DedupError::PartitionOverBudget`] when the partition has more than `max_rows`.
pub fn read_band_rows<R: Read>(
    mut r: R,
    partition: usize,
    max_rows: usize,
    out: &mut Vec<BandRow>,
    counters: &mut Counters,
) -> Result<(), DedupError> {
    let mut r = std::io::BufReader::with_capacity(1 << 16, &mut r);
    let mut buf = [0u8; BAND_ROW_BYTES];
    loop {
        let n = read_full(&mut r, &mut buf)?;
        if n == 0 {
            return Ok(());
        }
        if n < BAND_ROW_BYTES {
            counters.incr("truncated_band_row");
            return Ok(());
        }
        if out.len() >= max_rows {
            return Err(DedupError::PartitionOverBudget { partition, max_rows });
        }
        out.push(BandRow::from_bytes(&buf));
    }
}

/// The partitioned driver: for each partition `0..partitions`, opens its row stream with
/// `open(partition)` (the caller chains every shard's file of that partition), reads it into
/// memory (at most `max_rows_in_memory` rows, else [`DedupError::PartitionOverBudget`]:
/// re-run with more partitions), clusters it with [`cluster_bucket_partition`], and drops it
/// before the next. Clusters come out identical to [`super::dedup_in_memory`]'s for the same
/// signatures. Errors: I/O, lookup errors, over budget.
pub fn dedup_partitions<R, F, L>(
    partitions: usize,
    mut open: F,
    lookup: &mut L,
    cfg: &LshConfig,
    max_rows_in_memory: usize,
) -> Result<NearDupReport, DedupError>
where
    R: Read,
    F: FnMut(usize) -> std::io::Result<R>,
    L: SignatureLookup + ?Sized,
{
    cfg.validate()?;
    let mut report = NearDupReport::default();
    let mut uf = UnionFind::default();
    let mut rows = Vec::new();
    for p in 0..partitions {
        rows.clear();
        let r = open(p)?;
        read_band_rows(r, p, max_rows_in_memory, &mut rows, &mut report.counters)?;
        report.peak_rows_in_memory = report.peak_rows_in_memory.max(rows.len());
        report.counters.add("band_rows", rows.len() as u64);
        report.counters.incr("partitions");
        cluster_bucket_partition(&mut rows, lookup, cfg, &mut uf, &mut report.counters)?;
        rows.shrink_to(max_rows_in_memory.min(1 << 20));
    }
    finish_report(&mut report, &mut uf, lookup)?;
    Ok(report)
}

/// Resolves clusters into `report` and counts `near_duplicate_removed`.
pub(crate) fn finish_report<L: SignatureLookup + ?Sized>(
    report: &mut NearDupReport,
    uf: &mut UnionFind,
    lookup: &mut L,
) -> Result<(), DedupError> {
    report.clusters = resolve_clusters(uf, lookup)?;
    report.removed = report.clusters.iter().map(|c| c.removed.len() as u64).sum();
    report.counters.add("near_duplicate_removed", report.removed);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn band_rows_round_trip_and_partition_by_bucket() {
        let cfg = LshConfig::default();
        let sig: Vec<u64> = (0..112).map(|i| i * 7919).collect();
        let rows = band_keys(42, &sig, &cfg).unwrap();
        assert_eq!(rows.len(), 14);
        assert!(rows.iter().enumerate().all(|(i, r)| r.band as usize == i && r.id == 42));
        let same = band_keys(43, &sig, &cfg).unwrap();
        for (a, b) in rows.iter().zip(&same) {
            assert_eq!(a.bucket, b.bucket);
            assert_eq!(a.partition(16), b.partition(16));
            assert_eq!(BandRow::from_bytes(&a.to_bytes()), *a);
        }
        // Same values in different bands do not share a bucket.
        let flat = vec![5u64; 112];
        let r = band_keys(1, &flat, &cfg).unwrap();
        assert_ne!(r[0].bucket, r[1].bucket);
        assert!(matches!(
            band_keys(1, &sig[..100], &cfg),
            Err(DedupError::SignatureLength { expected: 112, got: 100 })
        ));
    }

    #[test]
    fn candidate_probability_of_default_banding() {
        let cfg = LshConfig::default();
        assert!((cfg.candidate_probability(0.8) - 0.924).abs() < 0.01);
        assert!(cfg.candidate_probability(0.9) > 0.999);
        assert!(cfg.candidate_probability(0.5) < 0.06);
        assert!(LshConfig { threshold: 1.5, ..cfg }.validate().is_err());
        assert!(LshConfig { bands: 0, ..cfg }.validate().is_err());
    }

    #[test]
    fn union_find_roots_at_smallest_id() {
        let mut uf = UnionFind::default();
        assert!(uf.union(9, 4));
        assert!(uf.union(7, 2));
        assert!(uf.union(4, 7));
        assert!(!uf.union(9, 2));
        assert!(uf.union(100, 101));
        assert_eq!(uf.find(9), 2);
        assert_eq!(uf.sets(), vec![vec![2, 4, 7, 9], vec![100, 101]]);
        assert_eq!(uf.find(55), 55);
    }

    #[test]
    fn truncated_row_streams_and_signature_files_keep_what_came_before() {
        let cfg = LshConfig::default();
        let sig: Vec<u64> = (0..112).collect();
        let mut bytes = Vec::new();
        for r in band_keys(3, &sig, &cfg).unwrap() {
            bytes.extend_from_slice(&r.to_bytes());
        }
        bytes.extend_from_slice(&[1, 2, 3]);
        let (mut out, mut c) = (Vec::new(), Counters::default());
        read_band_rows(&bytes[..], 0, 100, &mut out, &mut c).unwrap();
        assert_eq!(out.len(), 14);
        assert_eq!(c.get("truncated_band_row"), 1);
        let e = read_band_rows(&bytes[..], 5, 10, &mut Vec::new(), &mut c).unwrap_err();
        assert!(matches!(e, DedupError::PartitionOverBudget { partition: 5, max_rows: 10 }));
        assert_eq!(e.reason(), "partition_over_budget");

        let mut w = SignatureFileWriter::new(Vec::new(), 0);
        assert_eq!(w.append(10, 0.5, &sig).unwrap(), 0);
        assert_eq!(w.append(11, 0.25, &sig).unwrap(), 16 + 8 * 112);
        let mut file = w.finish().unwrap();
        file.truncate(file.len() - 5);
        let mut c = Counters::default();
        let mut store = FileSignatures::scan(std::io::Cursor::new(file), &mut c).unwrap();
        assert_eq!(c.get("truncated_signature"), 1);
        assert_eq!(store.len(), 1);
        let got = store.lookup(10).unwrap().unwrap();
        assert_eq!((got.score, got.signature), (0.5, sig.clone()));
        assert!(store.lookup(11).unwrap().is_none());
    }
}
