//! The writer stage: takes decided chunks strictly in input order, completes each decision
//! against representatives published after the deciding worker's snapshot (this is what makes
//! the result independent of thread count and chunk size), publishes new representatives to the
//! index, and writes the reduced FASTA, the deltas and the cluster tables — or, when records
//! are decided longest first, records each decision for `reduce::longest_first` to write in
//! input order at the end.

use crate::fasta::record::{Chunk, Record};
use crate::reduce::decide::{Decider, Features, Join, Verdict};
use crate::reduce::emit::{EmitCounts, Emitter, MemberOut};
use crate::reduce::index::{RepIndex, Residues};
use crate::reduce::longest_first::Decisions;
use crate::reduce::lookahead::{Answer, Pool, Recent, RecentRep, TentativeChunk};
use crate::reduce::residue_file::{ResidueFile, SPILL_BATCH};
use parking_lot::RwLock;
use std::sync::Arc;
use talaria_stages::sink::{Sink, SinkError};

pub use crate::reduce::emit::Outputs;

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
        Verdict::Representative {
            tried, lookahead, ..
        } => tried.capacity() * 4 + lookahead.as_ref().map_or(0, |l| 64 + l.heap_bytes()),
    }
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
    /// Re-checks the aligners' look-ahead answered whole: the writer aligned nothing.
    pub lookahead_settled: u64,
    /// Decisions redone because an index eviction invalidated the worker's view.
    pub redone: u64,
    pub reduced_bytes: u64,
    pub reduced_xxh3: u64,
}

impl WriterCounts {
    /// Take the output figures (bytes and checksum of the reduced FASTA) from what was written.
    pub fn add_written(&mut self, written: &EmitCounts) {
        self.reduced_bytes = written.reduced_bytes;
        self.reduced_xxh3 = written.reduced_xxh3;
    }
}

/// Where decisions go.
pub enum Destination {
    /// Straight into the output files: records are decided in input order.
    Emit(Box<Emitter>),
    /// Into a table, written in input order afterwards (`reduce::longest_first`).
    Collect(Decisions),
}

/// What the writer hands back at the end.
pub enum Finished {
    Written(Vec<Sink>),
    Collected(Decisions),
}

pub struct Writer {
    index: Arc<RwLock<RepIndex>>,
    decider: Decider,
    destination: Destination,
    counts: WriterCounts,
    /// LRU touches not yet applied; eviction reads them only when publishing, so applying them
    /// just before each publish is exactly equivalent to applying them at once.
    pending_touches: Vec<(u32, u64)>,
    /// When records are replayed from a file: new representatives are indexed by where their
    /// residues are in it, not with a copy of them. A spill file (streams): their residues are
    /// collected in `spill_batch` and written there a batch at a time.
    residue_file: Option<Arc<ResidueFile>>,
    spill_batch: Vec<u8>,
    /// (ordinal, offset in the batch) of the representatives in `spill_batch`.
    spill_reps: Vec<(u32, u32)>,
    /// The would-be representatives the aligners look ahead at: each chunk's leave once it
    /// is written.
    pool: Arc<Pool>,
    /// Chunk and decision position of the representatives published lately.
    recent: Recent,
}

impl Writer {
    pub fn new(
        index: Arc<RwLock<RepIndex>>,
        decider: Decider,
        destination: Destination,
        residue_file: Option<Arc<ResidueFile>>,
        pool: Arc<Pool>,
    ) -> Writer {
        Writer {
            index,
            decider: decider.with_residue_file(residue_file.clone()),
            destination,
            counts: WriterCounts::default(),
            pending_touches: Vec::new(),
            residue_file,
            spill_batch: Vec::new(),
            spill_reps: Vec::new(),
            pool,
            recent: Recent::default(),
        }
    }

    pub fn decider(&self) -> &Decider {
        &self.decider
    }

    /// The counts so far (for live metrics).
    pub fn counts(&self) -> &WriterCounts {
        &self.counts
    }

    /// Handle one chunk (chunks arrive in input order).
    pub fn write_chunk(&mut self, decided: DecidedChunk) -> Result<(), SinkError> {
        let DecidedChunk {
            chunk,
            features,
            verdicts,
        } = decided;
        if let (Some(preamble), Destination::Emit(emitter)) =
            (&chunk.preamble, &mut self.destination)
        {
            emitter.preamble(preamble)?;
        }
        // The worker listed every record it left a representative, in order (`lookahead::decide`).
        let mut listed = 0u32;
        for ((record, feature), verdict) in chunk.records.iter().zip(&features).zip(verdicts) {
            let slot = matches!(
                &verdict,
                Verdict::Representative {
                    lookahead: Some(_),
                    ..
                }
            )
            .then(|| {
                listed += 1;
                listed - 1
            });
            match self.resolve(record, feature, verdict) {
                Some(join) => self.write_member(&chunk, record, join)?,
                None => {
                    self.recent.push(RecentRep {
                        chunk: chunk.index,
                        position: record.ordinal,
                        slot,
                    });
                    self.write_representative(&chunk, record, feature)?
                }
            }
            self.pool.handled(record.ordinal + 1);
        }
        self.flush_touches();
        self.pool.written(chunk.index);
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
            Verdict::Representative {
                snapshot,
                tried,
                lookahead,
            } => {
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
                let joined = match lookahead {
                    Some(mut lookahead) if self.recent.covers(snapshot) => {
                        let before = self.decider.stats.pairs_tried();
                        let (recent, pool) = (&self.recent, &self.pool);
                        // Shared-key counts of one listed chunk's representatives, for those the
                        // worker did not see (ordinals come in order, so chunk after chunk).
                        let mut counted: Option<(u64, Option<Arc<TentativeChunk>>)> = None;
                        let mut counts = Vec::new();
                        let joined = self.decider.complete(
                            &index,
                            &record.seq,
                            features,
                            snapshot,
                            tried.len(),
                            |ordinal| {
                                let rep = recent.get(ordinal);
                                let Some(slot) = rep.slot else {
                                    return Answer::Unknown;
                                };
                                match lookahead.answer(rep.chunk, rep.position, true) {
                                    Answer::Unknown => {}
                                    known => return known,
                                }
                                if counted.as_ref().is_none_or(|(c, _)| *c != rep.chunk) {
                                    let listed = pool.get(rep.chunk);
                                    if let Some(chunk) = &listed {
                                        chunk.shared_counts(&features.kmers, &mut counts);
                                    }
                                    counted = Some((rep.chunk, listed));
                                }
                                match &counted {
                                    Some((_, Some(_))) => Answer::Shared(counts[slot as usize]),
                                    _ => Answer::Unknown,
                                }
                            },
                        );
                        let tried_here = self.decider.stats.pairs_tried() - before;
                        self.counts.lookahead_settled += (tried_here == 0) as u64;
                        joined
                    }
                    _ => as_join(self.decider.search(
                        &index,
                        &record.seq,
                        features,
                        snapshot,
                        tried.len(),
                    )),
                };
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

    /// Writes the collected residues to the spill file and points their representatives
    /// there; if spilling has stopped, they stay held.
    fn flush_spill(&mut self) {
        if let Some(base) = self
            .residue_file
            .as_ref()
            .and_then(|f| f.append(&self.spill_batch))
        {
            self.index.write().spilled(&self.spill_reps, base);
        }
        self.spill_batch.clear();
        self.spill_reps.clear();
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
        // The replay's record ordinal is its decision position.
        let file = self.residue_file.as_deref();
        let residues = match file.and_then(|f| f.span_at(record.ordinal)) {
            Some(span) if span.seq_len as usize == record.seq.len() => Residues::InFile(span),
            _ => Residues::Held(Arc::from(record.seq.as_slice())),
        };
        let spill = matches!(file, Some(f) if f.is_spill());
        let ordinal = self.index.write().publish_residues(
            residues,
            record.seq.len(),
            &features.kmers,
            features.exact_hash,
            record.ordinal,
        );
        debug_assert_eq!(ordinal as u64, self.counts.representatives);
        if spill {
            self.spill_reps
                .push((ordinal, self.spill_batch.len() as u32));
            self.spill_batch.extend_from_slice(&record.seq);
            if self.spill_batch.len() >= SPILL_BATCH {
                self.flush_spill();
            }
        }
        self.counts.records += 1;
        self.counts.representatives += 1;
        match &mut self.destination {
            Destination::Emit(emitter) => emitter.representative(&chunk.data, record),
            Destination::Collect(decisions) => {
                decisions.representative(ordinal, record.id(&chunk.data), record.seq.len());
                Ok(())
            }
        }
    }

    fn write_member(
        &mut self,
        chunk: &Chunk,
        record: &Record,
        join: Join,
    ) -> Result<(), SinkError> {
        self.pending_touches.push((join.rep, record.ordinal));
        self.counts.records += 1;
        self.counts.members += 1;
        self.counts.exact_members += join.exact as u64;
        match &mut self.destination {
            Destination::Emit(emitter) => emitter.member(
                &chunk.data,
                MemberOut {
                    rep: join.rep,
                    delta: join.delta,
                    identity: crate::reduce::clstr::hundredths(join.identity),
                    exact: join.exact,
                    record,
                },
            ),
            Destination::Collect(decisions) => {
                decisions.member(join);
                Ok(())
            }
        }
    }

    /// All chunks handled: finish the outputs (still uncommitted) or hand the decisions back.
    pub fn finish(
        self,
        input_bytes: u64,
        input_xxh3: u64,
        unit: &str,
    ) -> Result<(Finished, WriterCounts, crate::reduce::decide::DecideStats), SinkError> {
        let mut counts = self.counts;
        let finished = match self.destination {
            Destination::Emit(emitter) => {
                let (sinks, written) = emitter.finish(input_bytes, input_xxh3, unit)?;
                counts.add_written(&written);
                Finished::Written(sinks)
            }
            Destination::Collect(decisions) => Finished::Collected(decisions),
        };
        Ok((finished, counts, self.decider.stats))
    }
}

fn as_join(verdict: Verdict) -> Option<Join> {
    match verdict {
        Verdict::Member(join) => Some(join),
        Verdict::Representative { .. } => None,
    }
}
