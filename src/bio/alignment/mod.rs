//! Pairwise alignment: banded, affine-gap, overlap (free end gaps on both sequences), with
//! traceback. Every member assignment talaria makes is backed by one of these alignments.
//! `scoring.rs` holds the substitution tables, `banded.rs` the scalar reference kernel,
//! `wavefront.rs` the SIMD kernel (anti-diagonal, identical results), `band_rows.rs` the SIMD
//! kernel for narrow bands (row by row, identical results) and `simd.rs` the levels and
//! run-time dispatch; this file is the API. The aligner never allocates per call once warm, and refuses (returns `None`)
//! rather than exceed its cell cap.

mod band_rows;
mod banded;
mod lcs;
mod scoring;
mod simd;
#[cfg(test)]
mod simd_tests;
#[cfg(test)]
mod tests;
mod wavefront;

pub use lcs::{DiagonalRange, Lcs, LcsMasks};
pub use scoring::Scoring;
pub use simd::SimdLevel;

use crate::bio::alphabet::Alphabet;
use std::cell::{Cell, RefCell};

/// Default cap on band cells per alignment: 64 Mi cells, which is 64 MiB of traceback (one byte
/// per cell). Above it a sequence pair is not aligned and the record becomes a representative,
/// so one huge pair can never exhaust a worker's memory.
pub const DEFAULT_MAX_CELLS: usize = 64 << 20;

/// Traceback bytes an aligner keeps between calls. A larger matrix (two 3,000-residue proteins
/// in a wide band) is freed after its alignment: allocating it again costs page faults, far
/// less than filling its cells, while keeping it held up to the cell cap (tens of MiB) per
/// aligner for the rest of the run.
const KEEP_TRACE_BYTES: usize = 4 << 20;

/// Longest shorter sequence the kernel accepts. Scores are i32: with |column score| <= 11 and
/// gap costs of 12 per column at most, every in-band value stays within ±2^30 for
/// `min(n, m) <= 2^26`, far from the kernel's "minus infinity" (`i32::MIN / 2`).
pub const MAX_SHORTER_LEN: usize = 1 << 26;

/// One run of alignment columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AlignOp {
    /// Query residue aligned to target residue (identical or not).
    Pair,
    /// Query residue against a gap (present in query only).
    Insert,
    /// Target residue against a gap (present in target only).
    Delete,
}

/// Diagonal band: cells with `target_pos - query_pos` in `[diagonal - half_width, diagonal + half_width]`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Band {
    pub diagonal: i64,
    pub half_width: usize,
}

impl Band {
    /// The band that holds every cell of a `query_len × target_len` matrix.
    pub fn covering(query_len: usize, target_len: usize) -> Band {
        // Diagonals run from -query_len to target_len; centre the band on them, rounding the
        // half width up so both ends are inside.
        let (n, m) = (query_len as i64, target_len as i64);
        let half_width = (n + m + 1) / 2;
        Band {
            diagonal: m - half_width,
            half_width: half_width as usize,
        }
    }

    /// The band's diagonals clipped to a `query_len × target_len` matrix; `None` if it misses it.
    fn clip(self, query_len: usize, target_len: usize) -> Option<banded::Diagonals> {
        let half_width = i64::try_from(self.half_width).unwrap_or(i64::MAX);
        let low = self
            .diagonal
            .saturating_sub(half_width)
            .max(-(query_len as i64));
        let high = self
            .diagonal
            .saturating_add(half_width)
            .min(target_len as i64);
        (low <= high).then_some(banded::Diagonals { low, high })
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct Alignment {
    pub score: i32,
    /// Aligned query span, half-open.
    pub query_start: usize,
    pub query_end: usize,
    /// Aligned target span, half-open.
    pub target_start: usize,
    pub target_end: usize,
    /// Columns whose residues are equal ignoring ASCII case.
    pub identical: usize,
    /// Run-length alignment path from (query_start, target_start) to (query_end, target_end).
    pub ops: Vec<(AlignOp, u32)>,
}

impl Alignment {
    /// CD-HIT's identity: identical residues / length of the shorter sequence (0 if either is empty).
    pub fn identity(&self, query_len: usize, target_len: usize) -> f64 {
        let shorter = query_len.min(target_len);
        if shorter == 0 {
            0.0
        } else {
            self.identical as f64 / shorter as f64
        }
    }
    /// Fraction of the query covered by the aligned span.
    pub fn query_coverage(&self, query_len: usize) -> f64 {
        if query_len == 0 {
            0.0
        } else {
            (self.query_end - self.query_start) as f64 / query_len as f64
        }
    }
}

/// Reusable aligner: create once per worker, call many times; scratch buffers live inside.
///
/// Alignments are overlap alignments: the path starts anywhere on the first row or column of the
/// DP matrix and ends at the best cell of its last row or last column, so overhanging ends of
/// either sequence are free. Ties are broken deterministically: a cell prefers Pair, then Delete,
/// then Insert; a gap state prefers opening over extending; among equally good end cells the
/// first in (query position, target position) order wins. When nothing scores above zero, that
/// rule picks the empty alignment at the corner (0, target_len).
pub struct Aligner {
    alphabet: Alphabet,
    scoring: Scoring,
    max_cells: usize,
    /// The kernel: scalar, or the anti-diagonal kernel at a SIMD level checked on this CPU.
    level: SimdLevel,
    scratch: RefCell<banded::Scratch>,
    simd_scratch: RefCell<wavefront::Scratch>,
    /// DP cells filled since the last `take_cells` (for profiling; per aligner, no sharing).
    cells: Cell<u64>,
}

impl Default for Aligner {
    fn default() -> Self {
        Self::new()
    }
}

impl Aligner {
    /// Protein scoring (BLOSUM62, gap open 11, extend 1), no band limit beyond the cell cap.
    pub fn new() -> Self {
        Self::for_alphabet(Alphabet::Protein)
    }
    /// Protein: BLOSUM62, gap open 11 extend 1. Nucleotide: +2/-3, gap open 5 extend 2. Runs
    /// the widest SIMD level this CPU has ([`SimdLevel::best`]); every level gives the same
    /// alignments.
    pub fn for_alphabet(alphabet: Alphabet) -> Self {
        Aligner {
            alphabet,
            scoring: Scoring::for_alphabet(alphabet),
            max_cells: DEFAULT_MAX_CELLS,
            level: SimdLevel::best(),
            scratch: RefCell::new(banded::Scratch::default()),
            simd_scratch: RefCell::new(wavefront::Scratch::default()),
            cells: Cell::new(0),
        }
    }
    /// The same aligner running the kernel of `level`; an error saying why when this CPU (or
    /// architecture) cannot run it. `SimdLevel::Scalar` is the reference kernel.
    pub fn with_simd(mut self, level: SimdLevel) -> Result<Self, String> {
        level.check()?;
        self.level = level;
        Ok(self)
    }
    /// The kernel this aligner runs.
    pub fn simd_level(&self) -> SimdLevel {
        self.level
    }
    /// The same aligner with a different cap on DP cells per alignment (default
    /// [`DEFAULT_MAX_CELLS`]).
    pub fn with_max_cells(mut self, max_cells: usize) -> Self {
        self.max_cells = max_cells;
        self
    }
    pub fn alphabet(&self) -> Alphabet {
        self.alphabet
    }
    pub fn scoring(&self) -> &Scoring {
        &self.scoring
    }
    /// DP cells filled since the last call (and reset the count).
    pub fn take_cells(&self) -> u64 {
        self.cells.replace(0)
    }
    pub fn max_cells(&self) -> usize {
        self.max_cells
    }
    /// Full overlap alignment (band wide enough to hold every cell). `None` only when the DP
    /// matrix would exceed the cell cap.
    pub fn align(&self, query: &[u8], target: &[u8]) -> Option<Alignment> {
        self.align_banded(query, target, Band::covering(query.len(), target.len()))
    }
    /// Overlap alignment restricted to `band`. `None` when the band holds more cells than the cap.
    ///
    /// Empty sequences, and a band that misses the matrix entirely, give the empty alignment
    /// (`Alignment::default()`). `None` also when the shorter sequence exceeds
    /// [`MAX_SHORTER_LEN`].
    pub fn align_banded(&self, query: &[u8], target: &[u8], band: Band) -> Option<Alignment> {
        let (n, m) = (query.len(), target.len());
        if n == 0 || m == 0 {
            return Some(Alignment::default());
        }
        let Some(diagonals) = band.clip(n, m) else {
            return Some(Alignment::default());
        };
        if n.min(m) > MAX_SHORTER_LEN {
            return None;
        }
        let cells = diagonals.traceback_cells(n, m, self.max_cells)?;
        self.cells.set(self.cells.get() + cells as u64);
        if self.level == SimdLevel::Scalar {
            let mut scratch = self.scratch.borrow_mut();
            let aln = banded::align(&self.scoring, query, target, diagonals, &mut scratch);
            scratch.release_large_trace(KEEP_TRACE_BYTES);
            Some(aln)
        } else {
            let mut scratch = self.simd_scratch.borrow_mut();
            let aln = simd::align(
                self.level,
                &self.scoring,
                query,
                target,
                diagonals,
                &mut scratch,
            );
            scratch.release_large_trace(KEEP_TRACE_BYTES);
            Some(aln)
        }
    }
}
