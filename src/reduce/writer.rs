//! The writer stage: takes decided chunks strictly in input order, completes each decision
//! against representatives published after the deciding worker's snapshot (this is what makes
//! the result independent of thread count and chunk size), publishes new representatives to the
//! index, and writes the reduced FASTA, the deltas and the cluster tables.

use crate::delta::file::{DeltaWriter, Entry, Trailer};
use crate::fasta::record::{Chunk, Record};
use crate::reduce::clstr::ClstrCollector;
use crate::reduce::decide::{Decider, Features, Join, Verdict};
use crate::reduce::index::RepIndex;
use parking_lot::RwLock;
use std::io::Write;
use std::sync::Arc;
use talaria_stages::sink::{Sink, SinkError};

/// A chunk after the aligner workers: one verdict per record.
pub struct DecidedChunk {
    pub chunk: Chunk,
    pub features: Vec<Features>,
    pub verdicts: Vec<Verdict>,
}

impl talaria_stages::Weighted for DecidedChunk {
    fn weight(&self) -> usize {
        self.chunk.weight()
            + Features::weight_of(&self.features)
            + self.verdicts.iter().map(verdict_bytes).sum::<usize>()
    }
}

fn verdict_bytes(v: &Verdict) -> usize {
    64 + match v {
        Verdict::Member(join) => join.delta.capacity(),
        Verdict::Representative { tried, .. } => tried.capacity() * 4,
    }
}

/// The open outputs. Nothing here is committed by the writer: the caller commits only when
/// every stage succeeded, so a failed run leaves no finished-looking file.
pub struct Outputs {
    pub fasta: Sink,
    pub deltas: Option<DeltaWriter<Sink>>,
    pub clusters: Option<Sink>,
    pub clstr: Option<(Sink, ClstrCollector)>,
}

/// Counts kept by the writer.
#[derive(Clone, Copy, Debug, Default)]
pub struct WriterCounts {
    pub records: u64,
    pub representatives: u64,
    pub members: u64,
    pub exact_members: u64,
    /// Decisions the writer had to complete against representatives published after the
    /// worker's snapshot, and how many of those turned a would-be representative into a member.
    pub rechecks: u64,
    pub recheck_joins: u64,
    /// Decisions redone because an index eviction invalidated the worker's view.
    pub redone: u64,
    pub reduced_bytes: u64,
    pub reduced_xxh3: u64,
}

pub struct Writer {
    index: Arc<RwLock<RepIndex>>,
    decider: Decider,
    outputs: Outputs,
    counts: WriterCounts,
    reduced_hash: xxhash_rust::xxh3::Xxh3,
    /// Representative ids by ordinal, kept only when a cluster table is written.
    rep_ids: Option<Vec<Box<[u8]>>>,
    /// LRU touches not yet applied; eviction reads them only when publishing, so applying them
    /// just before each publish is exactly equivalent to applying them at once.
    pending_touches: Vec<(u32, u64)>,
    line: Vec<u8>,
}

impl Writer {
    pub fn new(index: Arc<RwLock<RepIndex>>, decider: Decider, outputs: Outputs) -> Writer {
        let keep_ids = outputs.clusters.is_some();
        Writer {
            index,
            decider,
            outputs,
            counts: WriterCounts::default(),
            reduced_hash: xxhash_rust::xxh3::Xxh3::new(),
            rep_ids: keep_ids.then(Vec::new),
            pending_touches: Vec::new(),
            line: Vec::new(),
        }
    }

    pub fn decider(&self) -> &Decider {
        &self.decider
    }

    /// Handle one chunk (chunks arrive in input order).
    pub fn write_chunk(&mut self, decided: DecidedChunk) -> Result<(), SinkError> {
        let DecidedChunk {
            chunk,
            features,
            verdicts,
        } = decided;
        if let (Some(preamble), Some(deltas)) = (&chunk.preamble, self.outputs.deltas.as_mut()) {
            deltas
                .write_entry(&Entry::Preamble(preamble.clone()))
                .map_err(io_err)?;
        }
        for ((record, feature), verdict) in chunk.records.iter().zip(&features).zip(verdicts) {
            match self.resolve(record, feature, verdict) {
                Some(join) => self.write_member(&chunk, record, join)?,
                None => self.write_representative(&chunk, record, feature)?,
            }
        }
        self.flush_touches();
        Ok(())
    }

    /// Complete a worker's verdict against the index as it is now. `None` = representative.
    fn resolve(&mut self, record: &Record, features: &Features, verdict: Verdict) -> Option<Join> {
        let index = Arc::clone(&self.index);
        // Exact duplicates of an indexed representative always join it (authoritative here:
        // the representative may have been published after the worker's snapshot).
        if let Some(join) = self.decider.exact(&index, &record.seq, features) {
            return Some(join);
        }
        let max = self.decider.params().max_candidates;
        match verdict {
            Verdict::Member(join) if !join.exact && index.read().get(join.rep).is_some() => {
                Some(join)
            }
            Verdict::Representative { snapshot, tried } => {
                let still_alive = {
                    let guard = index.read();
                    tried.iter().all(|&t| guard.get(t).is_some())
                };
                if !still_alive {
                    self.counts.redone += 1;
                    return as_join(self.decider.search(&index, &record.seq, features, 0, 0));
                }
                if tried.len() >= max || snapshot == index.read().published() {
                    return None;
                }
                self.counts.rechecks += 1;
                let joined = as_join(self.decider.search(
                    &index,
                    &record.seq,
                    features,
                    snapshot,
                    tried.len(),
                ));
                self.counts.recheck_joins += joined.is_some() as u64;
                joined
            }
            // The representative the worker chose was evicted since (or it was an exact hit
            // that no longer holds): decide again from scratch.
            Verdict::Member(_) => {
                self.counts.redone += 1;
                as_join(self.decider.search(&index, &record.seq, features, 0, 0))
            }
        }
    }

    fn flush_touches(&mut self) {
        if self.pending_touches.is_empty() {
            return;
        }
        let mut index = self.index.write();
        for &(rep, at) in &self.pending_touches {
            index.touch(rep, at);
        }
        self.pending_touches.clear();
    }

    fn write_representative(
        &mut self,
        chunk: &Chunk,
        record: &Record,
        features: &Features,
    ) -> Result<(), SinkError> {
        self.flush_touches();
        let ordinal = self.index.write().publish(
            Arc::from(record.seq.as_slice()),
            &features.kmers,
            features.exact_hash,
            record.ordinal,
        );
        debug_assert_eq!(ordinal as u64, self.counts.representatives);
        let raw = record.raw(&chunk.data);
        self.outputs.fasta.write_all(raw).map_err(io_err)?;
        self.reduced_hash.update(raw);
        self.counts.reduced_bytes += raw.len() as u64;
        if let Some(deltas) = self.outputs.deltas.as_mut() {
            deltas
                .write_entry(&Entry::Representative {
                    crc: crc32fast::hash(raw),
                })
                .map_err(io_err)?;
        }
        let id = record.id(&chunk.data);
        if let Some(ids) = self.rep_ids.as_mut() {
            ids.push(id.into());
        }
        self.write_cluster_line(id, id)?;
        if let Some((_, clstr)) = self.outputs.clstr.as_mut() {
            clstr.new_cluster(id, record.seq.len());
        }
        self.counts.records += 1;
        self.counts.representatives += 1;
        Ok(())
    }

    fn write_member(
        &mut self,
        chunk: &Chunk,
        record: &Record,
        join: Join,
    ) -> Result<(), SinkError> {
        self.pending_touches.push((join.rep, record.ordinal));
        if let Some(deltas) = self.outputs.deltas.as_mut() {
            let mut layout = Vec::new();
            record.layout.encode(&mut layout);
            let entry = Entry::Member {
                rep: join.rep as u64,
                header: record.header(&chunk.data).to_vec(),
                layout,
                delta: join.delta,
                seq_len: record.seq.len() as u64,
            };
            deltas.write_entry(&entry).map_err(io_err)?;
        }
        let id = record.id(&chunk.data);
        if let Some(ids) = self.rep_ids.take() {
            let result = self.write_cluster_line(&ids[join.rep as usize], id);
            self.rep_ids = Some(ids);
            result?;
        }
        if let Some((_, clstr)) = self.outputs.clstr.as_mut() {
            clstr.add_member(join.rep, id, record.seq.len(), join.identity);
        }
        self.counts.records += 1;
        self.counts.members += 1;
        self.counts.exact_members += join.exact as u64;
        Ok(())
    }

    fn write_cluster_line(&mut self, rep_id: &[u8], member_id: &[u8]) -> Result<(), SinkError> {
        if let Some(tsv) = self.outputs.clusters.as_mut() {
            self.line.clear();
            self.line.extend_from_slice(rep_id);
            self.line.push(b'\t');
            self.line.extend_from_slice(member_id);
            self.line.push(b'\n');
            tsv.write_all(&self.line).map_err(io_err)?;
        }
        Ok(())
    }

    /// All chunks written: finish the deltas (trailer) and the `.clstr` listing. Returns the
    /// outputs, still uncommitted, and the counts.
    pub fn finish(
        mut self,
        input_bytes: u64,
        input_xxh3: u64,
        unit: &str,
    ) -> Result<(Vec<Sink>, WriterCounts, crate::reduce::decide::DecideStats), SinkError> {
        self.counts.reduced_xxh3 = self.reduced_hash.digest();
        let mut sinks = Vec::new();
        sinks.push(self.outputs.fasta);
        if let Some(deltas) = self.outputs.deltas {
            let trailer = Trailer {
                records: self.counts.records,
                representatives: self.counts.representatives,
                members: self.counts.members,
                input_bytes,
                input_xxh3,
                reduced_bytes: self.counts.reduced_bytes,
                reduced_xxh3: self.counts.reduced_xxh3,
            };
            sinks.push(deltas.finish(&trailer).map_err(io_err)?);
        }
        if let Some(tsv) = self.outputs.clusters {
            sinks.push(tsv);
        }
        if let Some((mut sink, clstr)) = self.outputs.clstr {
            clstr.write_to(unit, &mut sink).map_err(io_err)?;
            sinks.push(sink);
        }
        Ok((sinks, self.counts, self.decider.stats))
    }
}

fn as_join(verdict: Verdict) -> Option<Join> {
    match verdict {
        Verdict::Member(join) => Some(join),
        Verdict::Representative { .. } => None,
    }
}

/// Sink errors come back through `io::Write` as `io::Error`s; keep their kind.
fn io_err(e: std::io::Error) -> SinkError {
    SinkError {
        path: String::from("output"),
        message: e.to_string(),
        kind: Some(e.kind()),
    }
}
