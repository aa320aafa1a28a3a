//! The corpus as Parquet: one row per dolma document, its fields as columns (`id`, `text`,
//! `source`, `added`, `created`, and `metadata` as a struct column with the same fields as
//! the JSON), zstd-compressed pages, row groups of [`ROWS_PER_GROUP`] documents. Written as
//! the JSONL parts are read, so memory holds one row group, not the corpus.

use crate::corpus::DolmaDocument;
use arrow_array::builder::{Float32Builder, StringBuilder, UInt64Builder};
use arrow_array::{ArrayRef, RecordBatch, StructArray};
use arrow_schema::{DataType, Field, Fields, Schema};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::WriterProperties;
use std::io::{BufRead, Write};
use std::sync::Arc;

/// Documents per row group.
pub const ROWS_PER_GROUP: usize = 8192;

/// Errors of the export.
#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    /// A corpus part could not be read or decompressed.
    #[error("reading {part}: {source}")]
    Read {
        /// The part's name.
        part: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A line of a corpus part is not a dolma document.
    #[error("{part} line {line}: not a dolma document: {source}")]
    Document {
        /// The part's name.
        part: String,
        /// 1-based line number.
        line: usize,
        /// The JSON error.
        source: serde_json::Error,
    },
    /// Writing Parquet failed.
    #[error("writing Parquet: {0}")]
    Parquet(#[from] parquet::errors::ParquetError),
}

fn metadata_fields() -> Fields {
    let s = |n: &str| Field::new(n, DataType::Utf8, false);
    let u = |n: &str| Field::new(n, DataType::UInt64, false);
    Fields::from(vec![s("url"), s("host"), s("domain"), Field::new("score", DataType::Float32, false), u("tokens"), s("crawl"), s("shard"), u("warc_offset"), u("warc_length"), s("lang")])
}

/// The Arrow schema of the export.
pub fn schema() -> Arc<Schema> {
    Arc::new(Schema::new(vec![
        Field::new("id", DataType::Utf8, false),
        Field::new("text", DataType::Utf8, false),
        Field::new("source", DataType::Utf8, false),
        Field::new("added", DataType::Utf8, false),
        Field::new("created", DataType::Utf8, true),
        Field::new("metadata", DataType::Struct(metadata_fields()), false),
    ]))
}

fn batch(docs: &[DolmaDocument]) -> Result<RecordBatch, parquet::errors::ParquetError> {
    let strings = |f: &dyn Fn(&DolmaDocument) -> &str| {
        let mut b = StringBuilder::new();
        for d in docs {
            b.append_value(f(d));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let numbers = |f: &dyn Fn(&DolmaDocument) -> u64| {
        let mut b = UInt64Builder::with_capacity(docs.len());
        for d in docs {
            b.append_value(f(d));
        }
        Arc::new(b.finish()) as ArrayRef
    };
    let mut created = StringBuilder::new();
    for d in docs {
        created.append_option(d.created.as_deref());
    }
    let mut score = Float32Builder::with_capacity(docs.len());
    for d in docs {
        score.append_value(d.metadata.score);
    }
    let metadata = StructArray::new(
        metadata_fields(),
        vec![
            strings(&|d| &d.metadata.url),
            strings(&|d| &d.metadata.host),
            strings(&|d| &d.metadata.domain),
            Arc::new(score.finish()),
            numbers(&|d| d.metadata.tokens),
            strings(&|d| &d.metadata.crawl),
            strings(&|d| &d.metadata.shard),
            numbers(&|d| d.metadata.warc_offset),
            numbers(&|d| d.metadata.warc_length),
            strings(&|d| &d.metadata.lang),
        ],
        None,
    );
    let columns: Vec<ArrayRef> = vec![strings(&|d| &d.id), strings(&|d| &d.text), strings(&|d| &d.source), strings(&|d| &d.added), Arc::new(created.finish()), Arc::new(metadata)];
    Ok(RecordBatch::try_new(schema(), columns)?)
}

/// A corpus part: its name and a reader of its zstd-compressed dolma JSON Lines.
pub type Part = (String, Box<dyn std::io::Read>);

/// Writes the documents of `parts` (in order) to `out` as Parquet; returns the documents
/// written. The first part that cannot be read stops the export with its error.
pub fn write_parquet<W: Write + Send>(parts: impl IntoIterator<Item = Result<Part, ExportError>>, out: W) -> Result<u64, ExportError> {
    let props = WriterProperties::builder().set_compression(Compression::ZSTD(ZstdLevel::try_new(3)?)).set_max_row_group_row_count(Some(ROWS_PER_GROUP)).build();
    let mut writer = ArrowWriter::try_new(out, schema(), Some(props))?;
    let mut docs = Vec::with_capacity(ROWS_PER_GROUP);
    let mut written = 0u64;
    for item in parts {
        let (part, reader) = item?;
        let read_err = |source| ExportError::Read { part: part.clone(), source };
        let lines = std::io::BufReader::new(zstd::Decoder::new(reader).map_err(read_err)?);
        for (i, line) in lines.lines().enumerate() {
            let line = line.map_err(read_err)?;
            if line.trim().is_empty() {
                continue;
            }
            docs.push(serde_json::from_str::<DolmaDocument>(&line).map_err(|source| ExportError::Document { part: part.clone(), line: i + 1, source })?);
            if docs.len() == ROWS_PER_GROUP {
                writer.write(&batch(&docs)?)?;
                written += docs.len() as u64;
                docs.clear();
            }
        }
    }
    if !docs.is_empty() {
        writer.write(&batch(&docs)?)?;
        written += docs.len() as u64;
    }
    writer.close()?;
    Ok(written)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::corpus::DocumentMetadata;
    use parquet::file::reader::{FileReader, SerializedFileReader};

    fn doc(id: &str, created: Option<&str>) -> DolmaDocument {
        DolmaDocument {
            id: id.into(),
            text: format!("text of {id}: $x^2$"),
            source: "corpusminer/TEST".into(),
            added: "2026-12-03T00:00:00Z".into(),
            created: created.map(String::from),
            metadata: DocumentMetadata { url: format!("https://a.org/{id}"), host: "a.org".into(), domain: "a.org".into(), score: 0.75, tokens: 7, crawl: "TEST".into(), shard: "s.warc.gz".into(), warc_offset: 10, warc_length: 20, lang: "en".into() },
        }
    }

    fn part(docs: &[DolmaDocument]) -> Box<dyn std::io::Read> {
        let jsonl: String = docs.iter().map(|d| serde_json::to_string(d).unwrap() + "\n").collect();
        Box::new(std::io::Cursor::new(zstd::encode_all(jsonl.as_bytes(), 3).unwrap()))
    }

    #[test]
    fn every_document_becomes_a_row_with_the_dolma_fields() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.parquet");
        let a: Vec<_> = (0..ROWS_PER_GROUP + 5).map(|i| doc(&format!("a{i}"), Some("2024-01-01"))).collect();
        let n = write_parquet([Ok(("a".to_string(), part(&a))), Ok(("b".to_string(), part(&[doc("b0", None)])))], std::fs::File::create(&path).unwrap()).unwrap();
        assert_eq!(n, ROWS_PER_GROUP as u64 + 6);
        let reader = SerializedFileReader::new(std::fs::File::open(&path).unwrap()).unwrap();
        let meta = reader.metadata();
        assert_eq!(meta.file_metadata().num_rows(), n as i64);
        assert_eq!(meta.num_row_groups(), 2);
        let names: Vec<String> = meta.file_metadata().schema_descr().columns().iter().map(|c| c.path().string()).collect();
        for want in ["id", "text", "source", "added", "created", "metadata.url", "metadata.score", "metadata.lang", "metadata.warc_offset"] {
            assert!(names.iter().any(|c| c == want), "{want} missing from {names:?}");
        }
        let last = reader.get_row_iter(None).unwrap().last().unwrap().unwrap().to_string();
        assert!(last.contains("id: \"b0\"") && last.contains("created: null") && last.contains("score: 0.75"), "{last}");
        let bad: Box<dyn std::io::Read> = Box::new(std::io::Cursor::new(zstd::encode_all(&b"{\"id\": 1}\n"[..], 3).unwrap()));
        let err = write_parquet([Ok(("bad".to_string(), bad))], std::io::sink()).unwrap_err();
        assert!(err.to_string().contains("bad line 1"), "{err}");
    }
}

/// Writes iteration `id`'s corpus (the parts under `iterations/<id>/corpus/` of `store`, by
/// name) to `out` as Parquet, fetching one part at a time; returns the documents written.
/// Runs on a blocking thread.
pub async fn export_iteration<W: Write + Send + 'static>(store: Arc<dyn corpusminer_storage::ObjectStore>, id: i64, out: W) -> Result<u64, ExportError> {
    let prefix = crate::iteration::join_key(&["iterations", &id.to_string(), "corpus"]) + "/";
    let store_err = |part: &str, e: corpusminer_storage::StorageError| ExportError::Read { part: part.to_string(), source: std::io::Error::other(corpusminer_storage::error_chain(&e)) };
    let mut keys: Vec<String> = store.list(&prefix).await.map_err(|e| store_err(&prefix, e))?.into_iter().filter(|k| k.ends_with(".jsonl.zst")).collect();
    keys.sort();
    let handle = tokio::runtime::Handle::current();
    tokio::task::spawn_blocking(move || {
        let parts = keys.into_iter().map(|key| {
            let bytes = handle.block_on(store.get(&key)).map_err(|e| store_err(&key, e))?;
            Ok((key, Box::new(std::io::Cursor::new(bytes)) as Box<dyn std::io::Read>))
        });
        write_parquet(parts, out)
    })
    .await
    .expect("the Parquet export panicked")
}
