//! The scalar reference kernel: banded Gotoh (three states) overlap alignment with a one-byte
//! traceback per cell. It stays as the reference that any SIMD kernel must agree with, so it
//! favours plain code over tricks. It never allocates once its scratch buffers have grown.

use super::scoring::Scoring;
use super::{AlignOp, Alignment};

/// "Minus infinity" for cells outside the band. Half of `i32::MIN` so that subtracting gap costs
/// (or adding a substitution score) from it can never wrap; real scores stay far above it (see
/// `MAX_SHORTER_LEN` in mod.rs).
pub(super) const NEG: i32 = i32::MIN / 2;

/// Traceback byte layout. Bits 0–1: where H came from; bit 2: E (Delete) extended an existing
/// gap rather than opening one from H; bit 3: the same for F (Insert).
pub(super) const FROM_PAIR: u8 = 0;
pub(super) const FROM_DELETE: u8 = 1;
pub(super) const FROM_INSERT: u8 = 2;
pub(super) const SOURCE_MASK: u8 = 3;
pub(super) const DELETE_EXTENDS: u8 = 1 << 2;
pub(super) const INSERT_EXTENDS: u8 = 1 << 3;

/// Buffers reused across calls; they grow, and only the traceback is let go when it is large
/// ([`Scratch::release_large_trace`]).
#[derive(Default)]
pub(super) struct Scratch {
    /// One byte per band cell with `i >= 1, j >= 1`, row after row.
    trace: Vec<u8>,
    /// `row_start[i]`: offset of row `i`'s first traceback byte.
    row_start: Vec<usize>,
    /// H and F of the previous row (then of the current one, overwritten in place), by column.
    h: Vec<i32>,
    f: Vec<i32>,
}

impl Scratch {
    /// Frees the traceback when it holds more than `keep` bytes (one unusually long pair
    /// would otherwise keep its matrix for the rest of the run).
    pub(super) fn release_large_trace(&mut self, keep: usize) {
        release_if_larger(&mut self.trace, keep);
    }
}

/// Frees `trace` when it holds more than `keep` bytes: every kernel's scratch lets an unusually
/// long pair's traceback go instead of keeping it for the rest of the run.
pub(super) fn release_if_larger(trace: &mut Vec<u8>, keep: usize) {
    if trace.capacity() > keep {
        *trace = Vec::new();
    }
}

/// The band in normalized form: diagonals `j - i` in `[low, high]`, already clipped to the
/// matrix (`-n <= low <= high <= m`).
#[derive(Clone, Copy, Debug)]
pub(super) struct Diagonals {
    pub low: i64,
    pub high: i64,
}

impl Diagonals {
    /// Columns of row `i` inside the band (may be empty: `first > last`).
    #[inline]
    pub(super) fn columns(self, i: usize, m: usize) -> (usize, usize) {
        let first = (i as i64 + self.low).max(0) as usize;
        let last = (i as i64 + self.high).min(m as i64);
        // `last < 0` means the band has not reached this row yet; report an empty range.
        if last < 0 {
            (1, 0)
        } else {
            (first, last as usize)
        }
    }

    /// Rows whose band part is non-empty.
    pub(super) fn rows(self, n: usize, m: usize) -> (usize, usize) {
        let first = (-self.high).max(0) as usize;
        let last = (m as i64 - self.low).min(n as i64) as usize;
        (first, last)
    }

    /// Traceback cells (`i >= 1`, `j >= 1`) in the band, or `None` once past `cap`.
    pub fn traceback_cells(self, n: usize, m: usize, cap: usize) -> Option<usize> {
        let (first_row, last_row) = self.rows(n, m);
        let mut total = 0usize;
        for i in first_row.max(1)..=last_row {
            let (first, last) = self.columns(i, m);
            total += (last + 1).saturating_sub(first.max(1));
            if total > cap {
                return None;
            }
        }
        Some(total)
    }
}

/// Align `query` (rows, `i`) against `target` (columns, `j`) inside `band`. Both are non-empty,
/// the band intersects the matrix, and the caller has checked the cell cap.
///
/// Recurrences (gap of length `L` costs `open + L * extend`):
///   E(i,j) = max(H(i,j-1) - open - extend, E(i,j-1) - extend)      Delete: target residue vs gap
///   F(i,j) = max(H(i-1,j) - open - extend, F(i-1,j) - extend)      Insert: query residue vs gap
///   H(i,j) = max(H(i-1,j-1) + s(q[i-1], t[j-1]), E(i,j), F(i,j))
/// with H = 0 on the first row and column (free leading gaps on both sequences).
///
/// Ties, so that results are reproducible: H prefers Pair, then Delete, then Insert; E and F
/// prefer opening a new gap over extending one; the end cell (best H on the last row or last
/// column) is the first in (i, j) order among equal scores.
pub(super) fn align(
    scoring: &Scoring,
    query: &[u8],
    target: &[u8],
    band: Diagonals,
    scratch: &mut Scratch,
) -> Alignment {
    let (n, m) = (query.len(), target.len());
    let (first_row, last_row) = band.rows(n, m);
    debug_assert!(n > 0 && m > 0 && first_row <= last_row);

    let Scratch {
        trace,
        row_start,
        h,
        f,
    } = scratch;

    // Row offsets into the traceback, and its size.
    row_start.clear();
    row_start.resize(n + 1, 0);
    let mut cells = 0usize;
    for (i, start) in row_start.iter_mut().enumerate().skip(1) {
        *start = cells;
        let (first, last) = band.columns(i, m);
        cells += (last + 1).saturating_sub(first.max(1));
    }
    // Every traceback byte is written before it is read, so stale contents are harmless.
    if trace.len() < cells {
        trace.resize(cells, 0);
    }
    // Columns a row has not written yet must read as "outside the band" from the row below.
    h.clear();
    h.resize(m + 1, NEG);
    f.clear();
    f.resize(m + 1, NEG);

    let open_extend = scoring.gap_open + scoring.gap_extend;
    let extend = scoring.gap_extend;

    let mut best = (NEG, 0usize, 0usize);
    let mut consider = |score: i32, i: usize, j: usize| {
        if score > best.0 {
            best = (score, i, j);
        }
    };

    if first_row == 0 {
        let (first, last) = band.columns(0, m);
        h[first..=last].fill(0);
        if last == m {
            consider(0, 0, m);
        }
    }

    for i in first_row.max(1)..=last_row {
        let (first, last) = band.columns(i, m);
        let row = scoring.row(query[i - 1]);
        // H(i, first - 1) and E(i, first - 1): the boundary column, or outside the band.
        let (start, mut h_left, mut diag) = if first == 0 {
            let diag = h[0];
            h[0] = 0;
            f[0] = NEG;
            (1, 0, diag)
        } else {
            (first, NEG, h[first - 1])
        };
        let mut e = NEG;
        let len = (last + 1).saturating_sub(start);
        let row_trace = &mut trace[row_start[i]..row_start[i] + len];
        let columns = target[start - 1..start - 1 + len]
            .iter()
            .zip(&mut h[start..start + len])
            .zip(&mut f[start..start + len])
            .zip(row_trace);
        for (((&residue, h_up), f_up), cell) in columns {
            // Written with max and bool-to-int casts rather than if/else so the compiler emits
            // conditional moves: the choices are data-dependent and branch prediction fails on
            // them.
            let e_open = h_left - open_extend;
            let e_extend = e - extend;
            let e_extends = e_extend > e_open;
            e = e_open.max(e_extend);

            let f_open = *h_up - open_extend;
            let f_extend = *f_up - extend;
            let f_extends = f_extend > f_open;
            let f_here = f_open.max(f_extend);

            let pair = diag + row[residue as usize] as i32;
            diag = *h_up;

            // Ties prefer Pair, then Delete, then Insert.
            let from_delete = e > pair;
            let pair_or_delete = pair.max(e);
            let from_insert = f_here > pair_or_delete;
            let h_here = pair_or_delete.max(f_here);
            let source = if from_insert {
                FROM_INSERT
            } else {
                from_delete as u8 * FROM_DELETE
            };

            *h_up = h_here;
            *f_up = f_here;
            h_left = h_here;
            *cell =
                source | (e_extends as u8 * DELETE_EXTENDS) | (f_extends as u8 * INSERT_EXTENDS);
        }

        if i == n {
            for (j, &score) in h.iter().enumerate().take(last + 1).skip(first) {
                consider(score, i, j);
            }
        } else if last == m {
            consider(h[m], i, m);
        }
    }

    let (score, end_i, end_j) = best;
    debug_assert!(score > NEG / 2, "no end cell inside the band");
    let cell = |i: usize, j: usize| {
        let (first, last) = band.columns(i, m);
        debug_assert!(
            i >= 1 && j >= first.max(1) && j <= last,
            "traceback left the band"
        );
        trace[row_start[i] + (j - first.max(1))]
    };
    traceback(query, target, cell, score, end_i, end_j)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    H,
    Delete,
    Insert,
}

/// Walk back from the end cell to the first row or column, building the run-length path.
/// `cell(i, j)` is the traceback byte of cell (i, j) (`i, j >= 1`, inside the band), whatever
/// layout the kernel stored it in: the row-major scalar kernel and the anti-diagonal SIMD
/// kernels share this walk, so equal bytes give equal alignments.
pub(super) fn traceback(
    query: &[u8],
    target: &[u8],
    cell: impl Fn(usize, usize) -> u8,
    score: i32,
    end_i: usize,
    end_j: usize,
) -> Alignment {
    let mut ops: Vec<(AlignOp, u32)> = Vec::new();
    let mut push = |op: AlignOp| match ops.last_mut() {
        Some((last, count)) if *last == op && *count < u32::MAX => *count += 1,
        _ => ops.push((op, 1)),
    };

    let (mut i, mut j) = (end_i, end_j);
    let mut identical = 0usize;
    let mut state = State::H;
    loop {
        match state {
            State::H => {
                if i == 0 || j == 0 {
                    break;
                }
                match cell(i, j) & SOURCE_MASK {
                    FROM_PAIR => {
                        push(AlignOp::Pair);
                        if query[i - 1].eq_ignore_ascii_case(&target[j - 1]) {
                            identical += 1;
                        }
                        i -= 1;
                        j -= 1;
                    }
                    FROM_DELETE => state = State::Delete,
                    _ => state = State::Insert,
                }
            }
            State::Delete => {
                let extends = cell(i, j) & DELETE_EXTENDS != 0;
                push(AlignOp::Delete);
                j -= 1;
                if !extends {
                    state = State::H;
                }
            }
            State::Insert => {
                let extends = cell(i, j) & INSERT_EXTENDS != 0;
                push(AlignOp::Insert);
                i -= 1;
                if !extends {
                    state = State::H;
                }
            }
        }
    }
    ops.reverse();
    Alignment {
        score,
        query_start: i,
        query_end: end_i,
        target_start: j,
        target_end: end_j,
        identical,
        ops,
    }
}
