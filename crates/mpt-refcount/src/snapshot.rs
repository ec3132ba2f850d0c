//! A snapshot of one root as a stream of bounded records: a header (root and counts),
//! chunk records ([`RangeChunk`]s), an end record.
//!
//! # Record format (version 1)
//!
//! Each record is one buffer (the host frames records on its transport, and may wrap them
//! with its own proofs: the format knows nothing of the ledger). It is a versioned SCALE
//! frame (DESIGN.md §3): the version byte `1`, then a SCALE enum —
//!
//! | tag | record | fields |
//! |---|---|---|
//! | 0 | [`Record::Header`] | `root: [u8; 32]`, `leaves: u64`, `chunks: u64` |
//! | 1 | [`Record::Chunk`] | `start: Vec<u8>`, `leaves: Vec<(Vec<u8>, Vec<u8>)>`, `proof: Vec<Vec<u8>>` |
//! | 2 | [`Record::End`] | `leaves: u64`, `chunks: u64` |
//!
//! (`u64` little-endian; `Vec` a compact length, then the items). [`decode_record`] takes
//! explicit [`SnapshotLimits`], checks every count and length against them and against
//! the bytes left *before* allocating, accepts only the canonical encoding (so an
//! accepted record re-encodes to the same bytes) and never panics.
//!
//! # Export and import
//!
//! [`SnapshotWriter`] yields the records of a root, each chunk of at most N leaves and at
//! most M bytes. [`SnapshotReader`] checks the stream's shape (header first, the chunk
//! and leaf counts of the header, the end record last) and feeds the chunks to a
//! [`SyncImporter`] of the root the host trusts; nothing is written before the end record
//! and [`SnapshotReader::finish`].
//!
//! ```
//! use mpt_refcount::{MemoryStore, SnapshotLimits, SnapshotReader, SnapshotWriter, Trie};
//!
//! let mut source = MemoryStore::new();
//! let mut trie = Trie::new();
//! for i in 0u16..500 {
//!     trie.insert(&source, &i.to_be_bytes(), &[1; 50])?;
//! }
//! let (root, _) = trie.commit_to(&mut source)?;
//!
//! let records: Vec<Vec<u8>> = SnapshotWriter::new(&source, root, 100, 8 * 1024)?.collect::<Result<_, _>>()?;
//! assert!(records.iter().all(|r| r.len() <= 8 * 1024));
//!
//! let mut store = MemoryStore::new();
//! let mut reader = SnapshotReader::new(root, SnapshotLimits::default());
//! for r in &records {
//!     reader.push(r)?;
//! }
//! let stats = reader.finish(&mut store)?;
//! assert_eq!((stats.root, stats.leaves), (root, 500));
//! assert_eq!(store.nodes(), source.nodes());
//! # Ok::<(), mpt_refcount::SyncError>(())
//! ```

use primitives::H256;

use crate::import::{ImportStats, SyncImporter};
use crate::range::{ChunkCursor, RangeChunk, RangeLimits, compact_len};
use crate::store::NodeStore;
use crate::trie::{MAX_KEY_BYTES, MAX_VALUE_BYTES};
use crate::{SyncError, codec::MAX_NODE_BYTES};

/// The record format version this crate writes and reads.
pub const SNAPSHOT_VERSION: u8 = 1;

/// One snapshot record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Record {
    /// First: the root the snapshot is of, and how many leaves and chunks follow.
    Header {
        /// The state root.
        root: H256,
        /// Leaves in all chunks.
        leaves: u64,
        /// Chunk records.
        chunks: u64,
    },
    /// A chunk of leaves with its range proof.
    Chunk(RangeChunk),
    /// Last: the counts again, so a stream cut after a chunk boundary is detected.
    End {
        /// Leaves in all chunks.
        leaves: u64,
        /// Chunk records.
        chunks: u64,
    },
}

impl Record {
    fn kind(&self) -> &'static str {
        match self {
            Record::Header { .. } => "header",
            Record::Chunk(_) => "chunk",
            Record::End { .. } => "end",
        }
    }
}

/// Limits for [`decode_record`] and [`SnapshotReader`]: a snapshot is hostile input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SnapshotLimits {
    /// Longest record, in bytes.
    pub max_record_bytes: usize,
    /// Most leaves and proof nodes in one chunk (see [`RangeLimits`]).
    pub range: RangeLimits,
    /// Most leaves a header may announce.
    pub max_total_leaves: u64,
    /// Most chunks a header may announce.
    pub max_chunks: u64,
}

impl Default for SnapshotLimits {
    /// 16 MiB records, [`RangeLimits::default`], at most 2^32 leaves and 2^24 chunks.
    fn default() -> Self {
        SnapshotLimits {
            max_record_bytes: 16 << 20,
            range: RangeLimits::default(),
            max_total_leaves: 1 << 32,
            max_chunks: 1 << 24,
        }
    }
}

fn put_compact(out: &mut Vec<u8>, n: usize) {
    // Lengths here are at most the record limit; a usize past u32 is written in the
    // big-integer mode with its minimal byte count.
    match n {
        0..=0x3f => out.push((n as u8) << 2),
        0x40..=0x3fff => out.extend_from_slice(&(((n as u16) << 2) | 1).to_le_bytes()),
        0x4000..=0x3fff_ffff => out.extend_from_slice(&(((n as u32) << 2) | 2).to_le_bytes()),
        _ => {
            let bytes = (n as u64).to_le_bytes();
            let len = 8 - (n as u64).leading_zeros() as usize / 8;
            out.push((((len - 4) as u8) << 2) | 3);
            out.extend_from_slice(&bytes[..len]);
        }
    }
}

fn put_bytes(out: &mut Vec<u8>, b: &[u8]) {
    put_compact(out, b.len());
    out.extend_from_slice(b);
}

/// Encodes a record (version byte included).
pub fn encode_record(record: &Record) -> Vec<u8> {
    let mut out = vec![SNAPSHOT_VERSION];
    match record {
        Record::Header { root, leaves, chunks } => {
            out.push(0);
            out.extend_from_slice(root.as_bytes());
            out.extend_from_slice(&leaves.to_le_bytes());
            out.extend_from_slice(&chunks.to_le_bytes());
        }
        Record::Chunk(chunk) => {
            out.push(1);
            put_bytes(&mut out, &chunk.start);
            put_compact(&mut out, chunk.leaves.len());
            for (k, v) in &chunk.leaves {
                put_bytes(&mut out, k);
                put_bytes(&mut out, v);
            }
            put_compact(&mut out, chunk.proof.len());
            for n in &chunk.proof {
                put_bytes(&mut out, n);
            }
        }
        Record::End { leaves, chunks } => {
            out.push(2);
            out.extend_from_slice(&leaves.to_le_bytes());
            out.extend_from_slice(&chunks.to_le_bytes());
        }
    }
    out
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    fn err(&self, reason: &'static str) -> SyncError {
        SyncError::BadRecord { offset: self.pos, reason }
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], SyncError> {
        let end = self.pos.checked_add(n).ok_or_else(|| self.err("length overflows"))?;
        let s = self.buf.get(self.pos..end).ok_or_else(|| self.err("runs past the end of the record"))?;
        self.pos = end;
        Ok(s)
    }

    fn byte(&mut self) -> Result<u8, SyncError> {
        Ok(self.take(1)?[0])
    }

    fn u64(&mut self) -> Result<u64, SyncError> {
        let mut b = [0u8; 8];
        b.copy_from_slice(self.take(8)?);
        Ok(u64::from_le_bytes(b))
    }

    /// A canonical SCALE compact integer that fits in a `usize` of 32 bits or more.
    fn compact(&mut self) -> Result<usize, SyncError> {
        let first = self.byte()?;
        let n: u64 = match first & 3 {
            0 => u64::from(first >> 2),
            1 => {
                let b = self.take(1)?;
                let v = u64::from(u16::from_le_bytes([first, b[0]]) >> 2);
                if v < 0x40 {
                    return Err(self.err("non-canonical compact integer"));
                }
                v
            }
            2 => {
                let b = self.take(3)?;
                let v = u64::from(u32::from_le_bytes([first, b[0], b[1], b[2]]) >> 2);
                if v < 0x4000 {
                    return Err(self.err("non-canonical compact integer"));
                }
                v
            }
            _ => {
                let len = usize::from(first >> 2) + 4;
                if len > 8 {
                    return Err(self.err("compact integer wider than 64 bits"));
                }
                let b = self.take(len)?;
                if b[len - 1] == 0 {
                    return Err(self.err("non-canonical compact integer"));
                }
                let mut w = [0u8; 8];
                w[..len].copy_from_slice(b);
                let v = u64::from_le_bytes(w);
                if v < 0x4000_0000 {
                    return Err(self.err("non-canonical compact integer"));
                }
                v
            }
        };
        usize::try_from(n).map_err(|_| self.err("integer does not fit in usize"))
    }

    /// A count, checked against `limit` and against the bytes left (each item takes at
    /// least `min_item` bytes) before anything is allocated for it.
    fn count(&mut self, what: &'static str, limit: usize, min_item: usize) -> Result<usize, SyncError> {
        let n = self.compact()?;
        if n > limit {
            return Err(SyncError::OverLimit { what, value: n as u64, limit: limit as u64 });
        }
        if n.saturating_mul(min_item) > self.buf.len() - self.pos {
            return Err(self.err("count larger than the bytes left"));
        }
        Ok(n)
    }

    fn bytes(&mut self, what: &'static str, limit: usize) -> Result<Vec<u8>, SyncError> {
        let n = self.compact()?;
        if n > limit {
            return Err(SyncError::OverLimit { what, value: n as u64, limit: limit as u64 });
        }
        Ok(self.take(n)?.to_vec())
    }
}

/// Decodes one record, checking it against `limits` (record size, leaves and proof
/// nodes per chunk, key, value and node sizes) before allocating for any part of it.
/// Trailing bytes, a wrong version, an unknown tag and non-canonical integers are
/// [`SyncError::BadRecord`] / [`SyncError::UnsupportedVersion`].
pub fn decode_record(bytes: &[u8], limits: &SnapshotLimits) -> Result<Record, SyncError> {
    if bytes.len() > limits.max_record_bytes {
        return Err(SyncError::OverLimit {
            what: "record bytes",
            value: bytes.len() as u64,
            limit: limits.max_record_bytes as u64,
        });
    }
    let mut r = Reader { buf: bytes, pos: 0 };
    let version = r.byte()?;
    if version != SNAPSHOT_VERSION {
        return Err(SyncError::UnsupportedVersion { found: version, expected: SNAPSHOT_VERSION });
    }
    let record = match r.byte()? {
        0 => {
            let root = H256::from_slice(r.take(32)?);
            Record::Header { root, leaves: r.u64()?, chunks: r.u64()? }
        }
        1 => {
            let start = r.bytes("start key bytes", MAX_KEY_BYTES + 1)?;
            let n = r.count("leaves in the chunk", limits.range.max_leaves, 2)?;
            let mut leaves = Vec::with_capacity(n);
            for _ in 0..n {
                let k = r.bytes("key bytes", MAX_KEY_BYTES)?;
                let v = r.bytes("value bytes", MAX_VALUE_BYTES)?;
                leaves.push((k, v));
            }
            let m = r.count("proof nodes", limits.range.max_proof_nodes, 1)?;
            let mut proof = Vec::with_capacity(m);
            let mut proof_bytes = 0usize;
            for _ in 0..m {
                let node = r.bytes("proof node bytes", MAX_NODE_BYTES)?;
                proof_bytes += node.len();
                if proof_bytes > limits.range.max_proof_bytes {
                    return Err(SyncError::OverLimit {
                        what: "proof bytes",
                        value: proof_bytes as u64,
                        limit: limits.range.max_proof_bytes as u64,
                    });
                }
                proof.push(node);
            }
            Record::Chunk(RangeChunk { start, leaves, proof })
        }
        2 => Record::End { leaves: r.u64()?, chunks: r.u64()? },
        _ => return Err(SyncError::BadRecord { offset: 1, reason: "unknown record tag" }),
    };
    if r.pos != bytes.len() {
        return Err(r.err("trailing bytes after the record"));
    }
    Ok(record)
}

/// Bytes of framing per item in a chunk record, as [`ChunkCursor`] estimates sizes.
fn framing(len: usize) -> usize {
    compact_len(len)
}

/// The records of a snapshot of `root`: a header, chunks, an end record (see the
/// [module docs](self)). An iterator of encoded records.
///
/// Each chunk holds at most `max_leaves` leaves and its record at most `max_bytes`
/// bytes (leaves, both proof paths and framing counted from above). [`SnapshotWriter::new`]
/// walks the trie once to count the leaves and chunks for the header; the records are
/// then produced one at a time, holding one chunk in memory. Keep `max_leaves` and
/// `max_bytes` within the importing side's [`SnapshotLimits`] (by default 65,536 leaves
/// and 16 MiB), or its reader refuses the records.
#[derive(Debug)]
pub struct SnapshotWriter<'s, S: NodeStore + ?Sized> {
    cursor: ChunkCursorBox<'s, S>,
    max_leaves: usize,
    max_bytes: usize,
    header: Option<Record>,
    end: Option<Record>,
    failed: bool,
}

/// The cursor, boxed away from the writer's `Debug`.
struct ChunkCursorBox<'s, S: NodeStore + ?Sized>(ChunkCursor<'s, S>);

impl<S: NodeStore + ?Sized> std::fmt::Debug for ChunkCursorBox<'_, S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ChunkCursor")
    }
}

impl<'s, S: NodeStore + ?Sized> SnapshotWriter<'s, S> {
    /// A writer of `root`'s snapshot with at most `max_leaves` leaves (at least 1) and
    /// `max_bytes` bytes per chunk record. Fails with [`SyncError::RecordLimitTooSmall`]
    /// if a single leaf with its proofs does not fit, or with the store's error.
    pub fn new(store: &'s S, root: H256, max_leaves: usize, max_bytes: usize) -> Result<Self, SyncError> {
        let max_leaves = max_leaves.max(1);
        let mut counter = ChunkCursor::new(store, root, Vec::new());
        let (mut leaves, mut chunks) = (0u64, 0u64);
        while let Some(c) = counter.next_chunk(max_leaves, max_bytes, framing)? {
            leaves += c.leaves.len() as u64;
            chunks += 1;
        }
        Ok(SnapshotWriter {
            cursor: ChunkCursorBox(ChunkCursor::new(store, root, Vec::new())),
            max_leaves,
            max_bytes,
            header: Some(Record::Header { root, leaves, chunks }),
            end: Some(Record::End { leaves, chunks }),
            failed: false,
        })
    }
}

impl<S: NodeStore + ?Sized> Iterator for SnapshotWriter<'_, S> {
    type Item = Result<Vec<u8>, SyncError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed {
            return None;
        }
        if let Some(h) = self.header.take() {
            return Some(Ok(encode_record(&h)));
        }
        match self.cursor.0.next_chunk(self.max_leaves, self.max_bytes, framing) {
            Ok(Some(chunk)) => Some(Ok(encode_record(&Record::Chunk(chunk)))),
            Ok(None) => self.end.take().map(|e| Ok(encode_record(&e))),
            Err(e) => {
                self.failed = true;
                Some(Err(e))
            }
        }
    }
}

#[derive(Debug)]
enum ReadPhase {
    Header,
    Chunks { leaves: u64, chunks: u64 },
    Ended,
    Failed,
}

/// Reads a snapshot's records into a [`SyncImporter`] of a trusted root (see the
/// [module docs](self)).
///
/// The header must name the trusted root and announce counts within the limits; chunks
/// go to the importer (each verified against the root); the end record must repeat the
/// header's counts and come right after the chunk that ends the trie. A refused record
/// is a typed error; nothing is written before [`SnapshotReader::finish`].
#[derive(Debug)]
pub struct SnapshotReader {
    limits: SnapshotLimits,
    importer: SyncImporter,
    phase: ReadPhase,
}

impl SnapshotReader {
    /// A reader of the snapshot of `root` (a root the host trusts) with `limits`.
    pub fn new(root: H256, limits: SnapshotLimits) -> Self {
        SnapshotReader {
            limits,
            importer: SyncImporter::with_limits(root, limits.range),
            phase: ReadPhase::Header,
        }
    }

    /// The importer, for progress.
    pub fn importer(&self) -> &SyncImporter {
        &self.importer
    }

    /// Decodes and takes in the next record.
    ///
    /// A chunk that fails to verify leaves the reader as it was (the host may fetch that
    /// record again); a record out of place, or counts that disagree with the header,
    /// fail the reader for good.
    pub fn push(&mut self, bytes: &[u8]) -> Result<(), SyncError> {
        let record = decode_record(bytes, &self.limits)?;
        match (&self.phase, record) {
            (ReadPhase::Header, Record::Header { root, leaves, chunks }) => {
                if root != self.importer.target() {
                    self.phase = ReadPhase::Failed;
                    return Err(SyncError::WrongSnapshotRoot {
                        expected: self.importer.target(),
                        found: root,
                    });
                }
                for (what, value, limit) in [
                    ("leaves announced", leaves, self.limits.max_total_leaves),
                    ("chunks announced", chunks, self.limits.max_chunks),
                ] {
                    if value > limit {
                        self.phase = ReadPhase::Failed;
                        return Err(SyncError::OverLimit { what, value, limit });
                    }
                }
                self.phase = ReadPhase::Chunks { leaves, chunks };
                Ok(())
            }
            (&ReadPhase::Chunks { leaves, chunks }, Record::Chunk(chunk)) => {
                let next_leaves = self.importer.leaves() + chunk.leaves.len() as u64;
                if self.importer.chunks() >= chunks {
                    self.phase = ReadPhase::Failed;
                    return Err(SyncError::CountMismatch {
                        what: "chunks",
                        header: chunks,
                        found: self.importer.chunks() + 1,
                    });
                }
                if next_leaves > leaves {
                    self.phase = ReadPhase::Failed;
                    return Err(SyncError::CountMismatch {
                        what: "leaves",
                        header: leaves,
                        found: next_leaves,
                    });
                }
                self.importer.import_chunk(&chunk).map(|_| ())
            }
            (
                &ReadPhase::Chunks { leaves, chunks },
                Record::End { leaves: end_leaves, chunks: end_chunks },
            ) => {
                let mismatch = [
                    ("end record leaves", leaves, end_leaves),
                    ("end record chunks", chunks, end_chunks),
                    ("leaves", leaves, self.importer.leaves()),
                    ("chunks", chunks, self.importer.chunks()),
                ]
                .into_iter()
                .find(|(_, h, f)| h != f);
                if let Some((what, header, found)) = mismatch {
                    self.phase = ReadPhase::Failed;
                    return Err(SyncError::CountMismatch { what, header, found });
                }
                if !self.importer.is_complete() {
                    self.phase = ReadPhase::Failed;
                    let next_start = self.importer.next_start().map(<[u8]>::to_vec).unwrap_or_default();
                    return Err(SyncError::Incomplete { next_start });
                }
                self.phase = ReadPhase::Ended;
                Ok(())
            }
            (phase, record) => {
                let expected = match phase {
                    ReadPhase::Header => "header",
                    ReadPhase::Chunks { .. } => "chunk or end",
                    ReadPhase::Ended | ReadPhase::Failed => "nothing",
                };
                self.phase = ReadPhase::Failed;
                Err(SyncError::UnexpectedRecord { expected, found: record.kind() })
            }
        }
    }

    /// Writes the imported trie to `store` (one atomic [`crate::apply`]) after the end
    /// record; before it, [`SyncError::Incomplete`] (a truncated stream) and nothing is
    /// written.
    pub fn finish<S: NodeStore + ?Sized>(self, store: &mut S) -> Result<ImportStats, SyncError> {
        match self.phase {
            ReadPhase::Ended => self.importer.finish(store),
            ReadPhase::Failed => Err(SyncError::Poisoned),
            ReadPhase::Header | ReadPhase::Chunks { .. } => Err(SyncError::Incomplete {
                next_start: self.importer.next_start().map(<[u8]>::to_vec).unwrap_or_default(),
            }),
        }
    }
}
