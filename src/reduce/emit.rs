//! Writing decided records to the output files: the reduced FASTA, the deltas, the cluster
//! table and the `.clstr` listing. Records must arrive in input order; representatives are
//! numbered in that order, and a member names its representative by that number.
//!
//! Used by the writer stage when records are decided in input order, and by the longest-first
//! pass (`reduce::longest_first`), which decides in another order and then replays the input.
//! There a member can come before its representative, so the representatives' ids and lengths
//! are given up front ([`Emitter::with_known_representatives`]).

use crate::delta::file::{DeltaWriter, Entry, Trailer};
use crate::fasta::record::Record;
use crate::reduce::clstr::ClstrCollector;
use std::io::Write;
use talaria_stages::sink::{Sink, SinkError};

/// The open outputs. Nothing here is committed: the caller commits only when every stage
/// succeeded, so a failed run leaves no finished-looking file.
pub struct Outputs {
    pub fasta: Sink,
    pub deltas: Option<DeltaWriter<Sink>>,
    pub clusters: Option<Sink>,
    pub clstr: Option<(Sink, ClstrCollector)>,
}

impl Outputs {
    /// Whether representatives' ids are needed after they are written (cluster outputs).
    pub fn needs_ids(&self) -> bool {
        self.clusters.is_some() || self.clstr.is_some()
    }
}

/// Counts of what was written.
#[derive(Clone, Copy, Debug, Default)]
pub struct EmitCounts {
    pub records: u64,
    pub representatives: u64,
    pub members: u64,
    pub exact_members: u64,
    pub reduced_bytes: u64,
    pub reduced_xxh3: u64,
}

/// A member's line in the outputs.
pub struct MemberOut<'a> {
    /// The representative's number (input order among representatives).
    pub rep: u32,
    pub delta: Vec<u8>,
    /// Identity in hundredths of a percent (`clstr::hundredths`).
    pub identity: u16,
    pub exact: bool,
    pub record: &'a Record,
}

pub struct Emitter {
    outputs: Outputs,
    counts: EmitCounts,
    reduced_hash: xxhash_rust::xxh3::Xxh3,
    /// Representative ids by number, kept only when a cluster table is written.
    rep_ids: Option<Vec<Box<[u8]>>>,
    /// Ids (and `.clstr` clusters) were given up front: representatives add none.
    known: bool,
    line: Vec<u8>,
}

impl Emitter {
    pub fn new(outputs: Outputs) -> Emitter {
        let keep_ids = outputs.clusters.is_some();
        Emitter {
            outputs,
            counts: EmitCounts::default(),
            reduced_hash: xxhash_rust::xxh3::Xxh3::new(),
            rep_ids: keep_ids.then(Vec::new),
            known: false,
            line: Vec::new(),
        }
    }

    /// For a replay where members may precede their representative: `reps` are every
    /// representative's (id, residue count), in the order they will be written.
    pub fn with_known_representatives(
        mut outputs: Outputs,
        reps: impl Iterator<Item = (Box<[u8]>, usize)>,
    ) -> Emitter {
        let keep_ids = outputs.clusters.is_some();
        let mut ids = Vec::new();
        for (id, len) in reps {
            if let Some((_, clstr)) = outputs.clstr.as_mut() {
                clstr.new_cluster(&id, len);
            }
            if keep_ids {
                ids.push(id);
            }
        }
        Emitter {
            rep_ids: keep_ids.then_some(ids),
            known: true,
            ..Emitter::new(outputs)
        }
    }

    /// Bytes before the first record (kept in the deltas, so `reconstruct` restores them).
    pub fn preamble(&mut self, bytes: &[u8]) -> Result<(), SinkError> {
        if let Some(deltas) = self.outputs.deltas.as_mut() {
            deltas
                .write_entry(&Entry::Preamble(bytes.to_vec()))
                .map_err(io_err)?;
        }
        Ok(())
    }

    pub fn representative(&mut self, data: &[u8], record: &Record) -> Result<(), SinkError> {
        let raw = record.raw(data);
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
        let id = record.id(data);
        if !self.known {
            if let Some(ids) = self.rep_ids.as_mut() {
                ids.push(id.into());
            }
            if let Some((_, clstr)) = self.outputs.clstr.as_mut() {
                clstr.new_cluster(id, record.seq.len());
            }
        }
        self.write_cluster_line(id, id)?;
        self.counts.records += 1;
        self.counts.representatives += 1;
        Ok(())
    }

    pub fn member(&mut self, data: &[u8], member: MemberOut) -> Result<(), SinkError> {
        let record = member.record;
        if let Some(deltas) = self.outputs.deltas.as_mut() {
            let mut layout = Vec::new();
            record.layout.encode(&mut layout);
            let entry = Entry::Member {
                rep: member.rep as u64,
                header: record.header(data).to_vec(),
                layout,
                delta: member.delta,
                seq_len: record.seq.len() as u64,
            };
            deltas.write_entry(&entry).map_err(io_err)?;
        }
        let id = record.id(data);
        if let Some(ids) = self.rep_ids.take() {
            let result = self.write_cluster_line(&ids[member.rep as usize], id);
            self.rep_ids = Some(ids);
            result?;
        }
        if let Some((_, clstr)) = self.outputs.clstr.as_mut() {
            clstr.add_member(member.rep, id, record.seq.len(), member.identity);
        }
        self.counts.records += 1;
        self.counts.members += 1;
        self.counts.exact_members += member.exact as u64;
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

    /// Every record written: finish the deltas (trailer) and the `.clstr` listing. Returns the
    /// outputs, still uncommitted, and the counts.
    pub fn finish(
        mut self,
        input_bytes: u64,
        input_xxh3: u64,
        unit: &str,
    ) -> Result<(Vec<Sink>, EmitCounts), SinkError> {
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
        Ok((sinks, self.counts))
    }
}

/// Sink errors come back through `io::Write` as `io::Error`s; keep their kind.
pub fn io_err(e: std::io::Error) -> SinkError {
    SinkError {
        path: String::from("output"),
        message: e.to_string(),
        kind: Some(e.kind()),
    }
}
