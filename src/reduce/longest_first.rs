//! Longest-first decisions (CD-HIT's order) with outputs in input order.
//!
//! A greedy reducer keeps the first record of a family it meets as the representative. When
//! the longest member comes first, the shorter ones fit inside it; in arrival order a short
//! fragment may become a representative that the longer relatives then fail to reach. Deciding
//! longest first kept 14,510 representatives of 20k UniProt at 0.9 instead of 14,619 (README,
//! "How it decides").
//!
//! It needs the input twice, so it applies to uncompressed regular files only; streams and
//! compressed files keep arrival order. The passes:
//! 1. [`plan`]: scan the file once, through the configured reader engine and the FASTA chunker
//!    (the same parser, so the same records and the same errors), keep each record's byte range
//!    and residue count, and sort: longest first, ties in input order.
//! 2. The ordinary pipeline runs on the records replayed in that order
//!    (`talaria_stages::reader::Input::replay`, random access with one pread per record
//!    whatever the engine: the summary's `reader:` line says so); its writer records each
//!    decision in a [`Decisions`] table instead of writing.
//! 3. [`write_in_input_order`]: read the file again front to back (configured engine again)
//!    and write every output in
//!    input order, numbering representatives in input order. A member may now come before its
//!    representative; `reconstruct` reads ahead for it.
//!
//! Memory: about [`BYTES_PER_RECORD`] bytes per record for the table, plus the members' deltas,
//! which are kept up to the table's share of the memory limit and recomputed in pass 3 past it
//! (the same alignment, so the same delta). An input whose table would not fit is decided in
//! arrival order, and the summary says why.

use crate::config::ProcessingOrder;
use crate::fasta::chunker::{Chunker, FastaError};
use crate::fasta::record::Chunk;
use crate::reduce::decide::{Decider, Join};
use crate::reduce::emit::{EmitCounts, Emitter, MemberOut, Outputs};
use crate::reduce::index::RepSeq;
use crate::reduce::residue_file::{changed, FileSpan, ResidueFile};
use crate::reduce::ReduceError;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use talaria_stages::reader::replay::Piece;
use talaria_stages::reader::{Compression, Input, InputSpec};
use talaria_stages::sink::Sink;

/// Table bytes per record: its byte range and length (16), its place in the order (4), its
/// decision (12) and the inverse order built in pass 3 (4). The decision was 32 bytes while it
/// held an f64 identity and a boxed delta: 500k proteins' table went from 31.5 to 21 MiB.
pub const BYTES_PER_RECORD: usize = 36;
/// Environment variable that caps the kept deltas' bytes, for tests only.
const TEST_DELTA_BUDGET: &str = "LONGEST_FIRST_TEST_DELTA_BUDGET";
/// Records per chunk and bytes per read in the scan and in pass 3. 1 MiB reads, like the
/// reader stage's blocks: 8 MiB ones put 8 MiB of buffer on the peak twice (scan and pass 3;
/// 20k UniProt at 0.9: 58 -> 49 MiB, one record 17 -> 12 MiB) and the scan was no faster
/// (500k proteins: 0.49 s with 8 MiB, 0.26 s with 1 MiB).
const SCAN_RECORDS: usize = 4096;
const SCAN_BYTES: usize = 1 << 20;

/// What one sequential pass read: bytes, their xxh3, read calls and time inside them.
#[derive(Clone, Copy, Debug, Default)]
pub struct PassReads {
    pub bytes: u64,
    pub xxh3: u64,
    pub calls: u64,
    pub read_ns: u64,
}

/// Where a record sits in the file.
type Span = FileSpan;

/// A file scanned and sorted, ready to be replayed longest first.
pub struct Plan {
    path: PathBuf,
    /// How the input was opened for the scan: pass 3 reads it the same way.
    spec: InputSpec,
    /// By input index; shared with the deciding pass's [`ResidueFile`].
    spans: Arc<[Span]>,
    /// Decision position -> input index.
    order: Arc<[u32]>,
    pub scan_seconds: f64,
    /// The scan's reads (after the prefix the caller had read).
    pub scan_reads: PassReads,
}

/// The outcome of [`plan`]: a plan, or the reason records are decided in arrival order.
pub enum Choice {
    LongestFirst(Plan),
    InputOrder(String),
}

/// Decide the order for this input. `input` is the open input (configured engine), of which
/// `prefix` was already read; `spec` opens it again for pass 3; `budget`: the table's share of
/// the memory limit.
pub fn plan(
    input: &mut Input,
    prefix: &[u8],
    spec: &InputSpec,
    order: ProcessingOrder,
    budget: usize,
) -> Result<Choice, ReduceError> {
    let cannot = |why: &str| {
        in_input_order(
            order,
            format!("input order ({why} is read once)"),
            format!("--order longest-first reads the input twice, which {why} does not allow (use --order auto or input)"),
        )
    };
    if order == ProcessingOrder::Input {
        return Ok(Choice::InputOrder("input order (as configured)".into()));
    }
    let Some(path) = spec.path.as_deref() else {
        return cannot("standard input");
    };
    if input.compression() != Compression::None {
        return cannot("a compressed input");
    }
    if !std::fs::metadata(path)
        .map(|m| m.is_file())
        .unwrap_or(false)
    {
        return cannot("a pipe or device");
    }
    let started = Instant::now();
    let max_records = budget / BYTES_PER_RECORD;
    let (spans, scan_reads) = scan(input, prefix, max_records)?;
    let spans = match spans {
        Some(spans) => spans,
        None => {
            let need = format!(
                "longest first needs {BYTES_PER_RECORD} bytes a record, more than {} records fit in its {} MiB share of the memory limit",
                max_records,
                budget >> 20
            );
            if order != ProcessingOrder::LongestFirst {
                // The scan used up the input: open it again where the caller left it (after
                // `prefix`), so the pipeline reads it in arrival order as if nothing happened.
                *input = Input::open(spec)?; // no second fallback warning
                let mut skipped = Vec::with_capacity(prefix.len());
                input.read_block(&mut skipped, prefix.len())?;
                if skipped != prefix {
                    return Err(changed(path));
                }
            }
            return in_input_order(
                order,
                format!("input order ({need})"),
                format!("--order longest-first: {need}; raise --memory-limit or use --order auto"),
            );
        }
    };
    let mut order: Vec<u32> = (0..spans.len() as u32).collect();
    // Stable: equal lengths keep input order, so the plan is a function of the file alone.
    order.sort_by_key(|&i| std::cmp::Reverse(spans[i as usize].seq_len));
    Ok(Choice::LongestFirst(Plan {
        path: path.to_path_buf(),
        spec: spec.clone(),
        spans: spans.into(),
        order: order.into(),
        scan_seconds: started.elapsed().as_secs_f64(),
        scan_reads,
    }))
}

/// Arrival order, with `note` for the summary, unless longest first was required: then the
/// usage error `refusal`.
fn in_input_order(
    order: ProcessingOrder,
    note: String,
    refusal: String,
) -> Result<Choice, ReduceError> {
    match order {
        ProcessingOrder::LongestFirst => Err(ReduceError::Usage(refusal)),
        _ => Ok(Choice::InputOrder(note)),
    }
}

/// Every record's span, or `None` once there are more than `max_records` (or one over 4 GiB).
fn scan(
    input: &mut Input,
    prefix: &[u8],
    max_records: usize,
) -> Result<(Option<Vec<Span>>, PassReads), ReduceError> {
    let mut spans = Vec::new();
    let mut fits = true;
    let reads = each_chunk(input, prefix, &mut |chunk| {
        for r in &chunk.records {
            let (Ok(raw_len), Ok(seq_len)) =
                (u32::try_from(r.raw.len()), u32::try_from(r.seq.len()))
            else {
                fits = false;
                return Ok(false);
            };
            spans.push(Span {
                offset: r.offset,
                raw_len,
                seq_len,
            });
        }
        fits = spans.len() <= max_records;
        Ok(fits)
    })?;
    Ok((fits.then_some(spans), reads))
}

/// Read `input` to its end through the chunker (after `prefix`, the bytes already read from
/// it), handing each chunk to `visit` (which returns false to stop early). Returns what was
/// read: all bytes (prefix included) and their xxh3, and the calls made here and their time.
fn each_chunk(
    input: &mut Input,
    prefix: &[u8],
    visit: &mut dyn FnMut(Chunk) -> Result<bool, ReduceError>,
) -> Result<PassReads, ReduceError> {
    let name = input.name().to_string();
    let fasta_error = |error: FastaError| ReduceError::Fasta {
        path: name.clone(),
        error,
    };
    let timed = talaria_stages::metrics::accounting_on();
    let mut chunker = Chunker::new(SCAN_RECORDS, SCAN_BYTES);
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut reads = PassReads::default();
    let mut block = prefix.to_vec();
    let mut ready = Vec::new();
    let mut stopped = false;
    loop {
        if block.is_empty() {
            let t = timed.then(Instant::now);
            let got = input.read_block(&mut block, SCAN_BYTES)?;
            reads.calls += 1;
            reads.read_ns += t.map_or(0, |t| t.elapsed().as_nanos() as u64);
            if got == 0 {
                break;
            }
        }
        hasher.update(&block);
        reads.bytes += block.len() as u64;
        chunker.push(&block, &mut ready).map_err(fasta_error)?;
        block.clear();
        for chunk in ready.drain(..) {
            if !visit(chunk)? {
                stopped = true;
                break;
            }
        }
        if stopped {
            break;
        }
    }
    if !stopped {
        chunker.finish(&mut ready).map_err(fasta_error)?;
        for chunk in ready.drain(..) {
            if !visit(chunk)? {
                break;
            }
        }
    }
    reads.xxh3 = hasher.digest();
    Ok(reads)
}

impl Plan {
    pub fn records(&self) -> usize {
        self.spans.len()
    }

    /// The input for the deciding pass: every record, longest first.
    pub fn replay(&self) -> Result<Input, ReduceError> {
        let pieces = self
            .order
            .iter()
            .map(|&i| {
                let s = self.spans[i as usize];
                Piece {
                    offset: s.offset,
                    len: s.raw_len,
                }
            })
            .collect();
        Ok(Input::replay(&self.path, pieces)?)
    }

    /// Bytes the plan itself holds.
    pub fn bytes(&self) -> usize {
        self.spans.len() * std::mem::size_of::<Span>() + self.order.len() * 4
    }

    /// The input file, for reading representatives' residues back during the deciding pass
    /// (`reduce::residue_file`).
    pub fn residue_file(&self) -> Result<ResidueFile, ReduceError> {
        ResidueFile::open(
            self.path.clone(),
            Arc::clone(&self.spans),
            Arc::clone(&self.order),
        )
    }
}

/// One decision, in decision order (12 bytes).
enum Decision {
    Representative {
        ordinal: u32,
    },
    Member {
        rep: u32,
        /// The identity as the `.clstr` prints it (`clstr::hundredths`), its only reader.
        identity: u16,
        exact: bool,
        /// Index of its delta among the kept ones; [`NO_DELTA`] once the table's budget for
        /// deltas ran out: recomputed when writing.
        delta: u32,
    },
}

const NO_DELTA: u32 = u32::MAX;

/// The deciding pass's decisions, filled by the writer stage in decision order.
pub struct Decisions {
    entries: Vec<Decision>,
    /// Representative ordinal -> decision position.
    rep_pos: Vec<u32>,
    /// Representative ordinal -> (id, residues), when a cluster output needs them.
    rep_ids: Option<Vec<(Box<[u8]>, usize)>>,
    /// The kept deltas end to end, and where each starts (by kept index).
    delta_arena: Vec<u8>,
    delta_starts: Vec<u64>,
    /// Kept deltas' bytes plus the ids' (id + 24 per representative), against `delta_budget`.
    delta_bytes: usize,
    delta_budget: usize,
    /// Members whose delta was not kept.
    pub dropped: u64,
}

impl Decisions {
    pub fn new(records: usize, keep_ids: bool, delta_budget: usize) -> Decisions {
        // Test hook (tests/order.rs): a smaller delta budget, to exercise recomputation on a
        // small input without a memory limit that would also shrink the index.
        let delta_budget = std::env::var(TEST_DELTA_BUDGET)
            .ok()
            .and_then(|v| v.parse::<usize>().ok())
            .map_or(delta_budget, |cap| cap.min(delta_budget));
        Decisions {
            entries: Vec::with_capacity(records),
            rep_pos: Vec::new(),
            rep_ids: keep_ids.then(Vec::new),
            delta_arena: Vec::new(),
            delta_starts: Vec::new(),
            delta_bytes: 0,
            delta_budget,
            dropped: 0,
        }
    }

    pub fn representative(&mut self, ordinal: u32, id: &[u8], residues: usize) {
        debug_assert_eq!(ordinal as usize, self.rep_pos.len());
        self.rep_pos.push(self.entries.len() as u32);
        if let Some(ids) = self.rep_ids.as_mut() {
            // The ids share the deltas' budget: they cannot be recomputed, so they go first
            // and leave less room for kept deltas.
            self.delta_bytes += id.len() + 24;
            ids.push((id.into(), residues));
        }
        self.entries.push(Decision::Representative { ordinal });
    }

    pub fn member(&mut self, join: Join) {
        let n = join.delta.len();
        let keep = self.delta_bytes + n <= self.delta_budget
            && self.delta_starts.len() < NO_DELTA as usize;
        let delta = if keep {
            self.delta_bytes += n;
            // Grown by an eighth at a time: a doubled arena could hold twice its budget.
            if self.delta_arena.len() + n > self.delta_arena.capacity() {
                self.delta_arena
                    .reserve_exact(n.max(self.delta_arena.len() / 8).max(1 << 16));
            }
            self.delta_starts.push(self.delta_arena.len() as u64);
            self.delta_arena.extend_from_slice(&join.delta);
            self.delta_starts.len() as u32 - 1
        } else {
            self.dropped += 1;
            NO_DELTA
        };
        self.entries.push(Decision::Member {
            rep: join.rep,
            identity: crate::reduce::clstr::hundredths(join.identity),
            exact: join.exact,
            delta,
        });
    }

    /// The kept delta with index `k`.
    fn delta(&self, k: u32) -> &[u8] {
        let start = self.delta_starts[k as usize] as usize;
        let end = self
            .delta_starts
            .get(k as usize + 1)
            .map_or(self.delta_arena.len(), |&e| e as usize);
        &self.delta_arena[start..end]
    }

    /// Bytes held: the table, the kept deltas and the representatives' ids.
    pub fn bytes(&self) -> usize {
        self.entries.capacity() * std::mem::size_of::<Decision>()
            + self.rep_pos.capacity() * 4
            + self.delta_starts.capacity() * 8
            + self.delta_bytes
    }
}

/// What pass 3 reports.
pub struct Written {
    pub sinks: Vec<Sink>,
    pub counts: EmitCounts,
    /// This pass's reads of the whole input.
    pub reads: PassReads,
    /// Deltas computed again because the table had no room for them.
    pub recomputed: u64,
}

/// Pass 3: read the file again and write every output in input order.
pub fn write_in_input_order(
    plan: &Plan,
    decisions: Decisions,
    outputs: Outputs,
    mut decider: Decider,
    unit: &str,
) -> Result<Written, ReduceError> {
    let n = plan.spans.len();
    if decisions.entries.len() != n {
        return Err(changed(&plan.path));
    }
    let mut inverse = vec![0u32; n];
    for (position, &index) in plan.order.iter().enumerate() {
        inverse[index as usize] = position as u32;
    }
    // Representatives are numbered in input order in every output.
    let mut number = vec![0u32; decisions.rep_pos.len()];
    let mut known = Vec::new();
    let mut next = 0u32;
    for &position in &inverse {
        if let Decision::Representative { ordinal } = decisions.entries[position as usize] {
            number[ordinal as usize] = next;
            next += 1;
            if let Some(ids) = &decisions.rep_ids {
                known.push(ids[ordinal as usize].clone());
            }
        }
    }
    let mut emitter = Emitter::with_known_representatives(outputs, known.into_iter());
    // Members whose delta was not kept get it recomputed against their representative, read
    // back from the file as in the deciding pass.
    let reps = plan.residue_file()?;
    let mut raw = Vec::new();
    let mut recomputed = 0u64;
    let mut seen = 0usize;
    // Opened once already: its fallback warning (if any) was given then.
    let mut input = Input::open(&plan.spec)?;
    let reads = each_chunk(&mut input, &[], &mut |chunk| {
        if let Some(preamble) = &chunk.preamble {
            emitter.preamble(preamble)?;
        }
        for record in &chunk.records {
            let index = record.ordinal as usize;
            let span = plan.spans.get(index).ok_or_else(|| changed(&plan.path))?;
            if span.offset != record.offset || span.seq_len as usize != record.seq.len() {
                return Err(changed(&plan.path));
            }
            seen += 1;
            match &decisions.entries[inverse[index] as usize] {
                Decision::Representative { .. } => emitter.representative(&chunk.data, record)?,
                Decision::Member {
                    rep,
                    identity,
                    exact,
                    delta,
                } => {
                    let delta = match *delta {
                        NO_DELTA => {
                            recomputed += 1;
                            let rep_index = plan.order[decisions.rep_pos[*rep as usize] as usize];
                            let rep_seq = reps.read(plan.spans[rep_index as usize], &mut raw)?;
                            let rep_seq = RepSeq {
                                ordinal: *rep,
                                seq: Arc::from(rep_seq),
                            };
                            decider
                                .rejoin(&record.seq, &rep_seq, *exact)
                                .ok_or_else(|| {
                                    ReduceError::Usage(format!(
                                        "internal error: record {} no longer joins its representative",
                                        index + 1
                                    ))
                                })?
                                .delta
                        }
                        kept => decisions.delta(kept).to_vec(),
                    };
                    emitter.member(
                        &chunk.data,
                        MemberOut {
                            rep: number[*rep as usize],
                            delta,
                            identity: *identity,
                            exact: *exact,
                            record,
                        },
                    )?;
                }
            }
        }
        Ok(true)
    })?;
    if seen != n {
        return Err(changed(&plan.path));
    }
    let (sinks, counts) = emitter.finish(reads.bytes, reads.xxh3, unit)?;
    Ok(Written {
        sinks,
        counts,
        reads,
        recomputed,
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_decision_is_twelve_bytes() {
        assert_eq!(std::mem::size_of::<super::Decision>(), 12);
        assert_eq!(
            super::BYTES_PER_RECORD,
            std::mem::size_of::<super::Span>() + 4 + 12 + 4
        );
    }
}
