//! The SIMD kernel: the scalar kernel's recurrences (banded.rs) evaluated one anti-diagonal at a
//! time. Cell (i, j) needs (i, j-1), (i-1, j) and (i-1, j-1), which lie on anti-diagonals
//! `i + j - 1` and `i + j - 2`, so every cell of anti-diagonal `d = i + j` is independent of the
//! others and lanes can fill consecutive rows `i` of it at once.
//!
//! Exactness: each cell applies the very same comparisons in the same order as the scalar loop
//! (Pair, then Delete, then Insert; open before extend), on the same i32 values, and stores the
//! same traceback byte; only the storage order differs (anti-diagonal after anti-diagonal). The
//! end cell is chosen afterwards by scanning the last column and the last row in the scalar
//! kernel's (i, j) order, and the traceback walk is the scalar one (`banded::traceback`). So the
//! `Alignment` is identical to the scalar kernel's for every input and band.
//!
//! The lane code is written once over `[i32; W]` arrays and compiled under
//! `#[target_feature]` for each level (simd.rs), so the compiler emits the level's vectors.

use super::banded::{self, Diagonals, NEG};
use super::scoring::{Scoring, CLASS_STRIDE};
use super::Alignment;

/// Buffers reused across calls; they grow, and only the traceback is let go when it is large
/// ([`Scratch::release_large_trace`]).
#[derive(Default)]
pub(super) struct Scratch {
    /// One byte per band cell with `i >= 1, j >= 1`, anti-diagonal after anti-diagonal (plus `W`
    /// bytes of slack: the last lane group may write past the end).
    trace: Vec<u8>,
    /// `diag_start[d]`: offset of anti-diagonal `d`'s first traceback byte.
    diag_start: Vec<usize>,
    /// `diag_first[d]`: the row of that first byte.
    diag_first: Vec<usize>,
    /// H of anti-diagonals d, d-1, d-2 and E, F of d, d-1, indexed by row `i` (0..=n+1, plus
    /// `W` slack).
    h0: Vec<i32>,
    h1: Vec<i32>,
    h2: Vec<i32>,
    e0: Vec<i32>,
    e1: Vec<i32>,
    f0: Vec<i32>,
    f1: Vec<i32>,
    /// The query's residue classes, padded with `W` bytes, and the target's reversed and
    /// padded: lanes of consecutive rows `i` read consecutive bytes of both.
    query: Vec<u8>,
    target_reversed: Vec<u8>,
    /// H(i, m) for rows i < n and H(n, j): the end-cell candidates, scanned after the fill.
    last_column: Vec<i32>,
    last_row: Vec<i32>,
    /// The narrow-band row kernel's buffers (band_rows.rs), which the AVX-512 and AVX2 levels
    /// run for bands of 9 to 64 diagonals.
    pub(super) rows: super::band_rows::Scratch,
}

impl Scratch {
    /// Frees the traceback when it holds more than `keep` bytes (one unusually long pair
    /// would otherwise keep its matrix for the rest of the run).
    pub(super) fn release_large_trace(&mut self, keep: usize) {
        banded::release_if_larger(&mut self.trace, keep);
        self.rows.release_large_trace(keep);
    }
}

/// Rows `[first, last]` of anti-diagonal `d` holding band cells with `i, j >= 1` (empty when
/// `first > last`).
#[inline(always)]
fn rows_of(d: i64, n: i64, m: i64, band: Diagonals) -> (i64, i64) {
    // j - i = d - 2i must lie in [low, high]; 1 <= i <= n; 1 <= j = d - i <= m.
    let first = 1.max(d - m).max((d - band.high + 1).div_euclid(2));
    let last = n.min(d - 1).min((d - band.low).div_euclid(2));
    (first, last)
}

/// H at a cell outside the computed interior: 0 on the first row or column inside the band
/// (free leading gaps), "minus infinity" elsewhere. E and F are always minus infinity there.
#[inline(always)]
fn boundary_h(i: i64, j: i64, n: i64, m: i64, band: Diagonals) -> i32 {
    let inside = i >= 0 && j >= 0 && i <= n && j <= m && (band.low..=band.high).contains(&(j - i));
    debug_assert!(
        !inside || i == 0 || j == 0,
        "interior cell {i},{j} treated as boundary"
    );
    if inside {
        0
    } else {
        NEG
    }
}

/// Write the boundary values of anti-diagonal `d` at `row` into the three buffers.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn set_boundary(
    h: &mut [i32],
    e: &mut [i32],
    f: &mut [i32],
    row: i64,
    d: i64,
    n: i64,
    m: i64,
    band: Diagonals,
) {
    if (0..=n + 1).contains(&row) {
        let r = row as usize;
        h[r] = boundary_h(row, d - row, n, m, band);
        e[r] = NEG;
        f[r] = NEG;
    }
}

/// How a lane group fetches its substitution scores from `Scoring::class_scores`: one load per
/// lane (`Lanes`), or one vector gather (simd.rs, per level).
pub(super) trait Gather<const W: usize> {
    /// `table[q[k] * CLASS_STRIDE + t[k]]` for every lane `k`; the classes are `< CLASS_STRIDE`.
    fn scores(table: &[i32; CLASS_STRIDE * CLASS_STRIDE], q: &[u8; W], t: &[u8; W]) -> [i32; W];
}

/// Per-lane loads: any width, any CPU.
pub(super) struct Lanes;

impl<const W: usize> Gather<W> for Lanes {
    #[inline(always)]
    fn scores(table: &[i32; CLASS_STRIDE * CLASS_STRIDE], q: &[u8; W], t: &[u8; W]) -> [i32; W] {
        // The mask only lets the compiler drop the bounds check: classes are below the stride.
        std::array::from_fn(|k| {
            table
                [(q[k] as usize * CLASS_STRIDE + t[k] as usize) & (CLASS_STRIDE * CLASS_STRIDE - 1)]
        })
    }
}

/// What one lane group reads: anti-diagonals d-1 and d-2, and the residue classes.
struct Buffers<'a> {
    h_prev: &'a [i32],
    e_prev: &'a [i32],
    f_prev: &'a [i32],
    h_prev2: &'a [i32],
    query: &'a [u8],
    target_reversed: &'a [u8],
}

/// Fill cells (i0 + k, d - i0 - k) for k in 0..W of one anti-diagonal: H, E, F into the `*_out`
/// buffers at rows i0.., traceback bytes into `trace[..W]`. `t_start` is where lane 0's target
/// residue sits in the reversed target (`m - d + i0`).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn group<const W: usize, G: Gather<W>>(
    scoring: &Scoring,
    input: &Buffers,
    i0: usize,
    t_start: usize,
    h_store: &mut [i32],
    e_store: &mut [i32],
    f_store: &mut [i32],
    trace: &mut [u8],
) {
    let open_extend = scoring.gap_open + scoring.gap_extend;
    let extend = scoring.gap_extend;
    let h_left: &[i32; W] = input.h_prev[i0..i0 + W].try_into().unwrap();
    let e_left: &[i32; W] = input.e_prev[i0..i0 + W].try_into().unwrap();
    let h_up: &[i32; W] = input.h_prev[i0 - 1..i0 - 1 + W].try_into().unwrap();
    let f_up: &[i32; W] = input.f_prev[i0 - 1..i0 - 1 + W].try_into().unwrap();
    let h_diag: &[i32; W] = input.h_prev2[i0 - 1..i0 - 1 + W].try_into().unwrap();
    let q: &[u8; W] = input.query[i0 - 1..i0 - 1 + W].try_into().unwrap();
    let t: &[u8; W] = input.target_reversed[t_start..t_start + W]
        .try_into()
        .unwrap();
    let s = G::scores(scoring.class_scores(), q, t);
    let mut h_out = [0i32; W];
    let mut e_out = [0i32; W];
    let mut f_out = [0i32; W];
    let mut t_out = [0u8; W];
    for k in 0..W {
        // The scalar kernel's cell, operation for operation (banded.rs). Wrapping arithmetic:
        // lanes past the anti-diagonal's end compute on stale values that must not trip
        // overflow checks; real cells never come near i32's range (`MAX_SHORTER_LEN`), so the
        // results are the scalar ones.
        let e_open = h_left[k].wrapping_sub(open_extend);
        let e_extend = e_left[k].wrapping_sub(extend);
        let e_extends = e_extend > e_open;
        let e = e_open.max(e_extend);

        let f_open = h_up[k].wrapping_sub(open_extend);
        let f_extend = f_up[k].wrapping_sub(extend);
        let f_extends = f_extend > f_open;
        let f = f_open.max(f_extend);

        let pair = h_diag[k].wrapping_add(s[k]);
        let from_delete = e > pair;
        let pair_or_delete = pair.max(e);
        let from_insert = f > pair_or_delete;
        let h = pair_or_delete.max(f);
        let source = if from_insert {
            banded::FROM_INSERT
        } else {
            from_delete as u8 * banded::FROM_DELETE
        };
        h_out[k] = h;
        e_out[k] = e;
        f_out[k] = f;
        t_out[k] = source
            | (e_extends as u8 * banded::DELETE_EXTENDS)
            | (f_extends as u8 * banded::INSERT_EXTENDS);
    }
    // Lanes past the anti-diagonal's last row hold garbage; the caller's boundary write
    // overwrites the one row after it that later anti-diagonals read, and nothing reads further.
    h_store[i0..i0 + W].copy_from_slice(&h_out);
    e_store[i0..i0 + W].copy_from_slice(&e_out);
    f_store[i0..i0 + W].copy_from_slice(&f_out);
    trace[..W].copy_from_slice(&t_out);
}

/// The kernel, `W` lanes wide (short remainders `TAIL` wide), scores fetched by `G`. Same
/// contract as `banded::align`.
#[inline(always)]
pub(super) fn align<const W: usize, const TAIL: usize, G: Gather<W> + Gather<TAIL>>(
    scoring: &Scoring,
    query: &[u8],
    target: &[u8],
    band: Diagonals,
    scratch: &mut Scratch,
) -> Alignment {
    let (n, m) = (query.len(), target.len());
    let (ni, mi) = (n as i64, m as i64);
    debug_assert!(n > 0 && m > 0);

    // First and last anti-diagonals holding an interior cell: from (1, 1) moved onto the band's
    // nearest diagonal, to (n, m) moved likewise.
    let d_first = 2 + band.low.max(0) + (-band.high).max(0);
    let d_last = ni + mi - ((mi - ni) - band.high).max(0) - (band.low - (mi - ni)).max(0);

    let Scratch {
        trace,
        diag_start,
        diag_first,
        h0,
        h1,
        h2,
        e0,
        e1,
        f0,
        f1,
        query: q_pad,
        target_reversed,
        last_column,
        last_row,
        rows: _,
    } = scratch;

    // Traceback layout.
    let diagonals = (ni + mi + 1) as usize;
    diag_start.clear();
    diag_start.resize(diagonals, 0);
    diag_first.clear();
    diag_first.resize(diagonals, 0);
    let mut cells = 0usize;
    for d in d_first..=d_last {
        let (first, last) = rows_of(d, ni, mi, band);
        diag_start[d as usize] = cells;
        diag_first[d as usize] = first as usize;
        cells += (last - first + 1).max(0) as usize;
    }
    if trace.len() < cells + W {
        trace.resize(cells + W, 0);
    }

    for buffer in [
        &mut *h0, &mut *h1, &mut *h2, &mut *e0, &mut *e1, &mut *f0, &mut *f1,
    ] {
        if buffer.len() < n + 2 + W {
            buffer.resize(n + 2 + W, NEG);
        }
    }
    q_pad.clear();
    q_pad.extend(query.iter().map(|&a| scoring.query_class(a)));
    q_pad.resize(n + W, 0);
    target_reversed.clear();
    target_reversed.extend(target.iter().rev().map(|&b| scoring.target_class(b)));
    target_reversed.resize(m + W, 0);
    last_column.clear();
    last_column.resize(n + 1, NEG);
    last_row.clear();
    last_row.resize(m + 1, NEG);

    // Anti-diagonals d_first - 2 and d_first - 1 hold no interior cell: their boundary values,
    // over every row the first two anti-diagonals read.
    {
        let (first, last) = rows_of(d_first, ni, mi, band);
        for row in first - 2..=last + 2 {
            set_boundary(h2, e1, f1, row, d_first - 2, ni, mi, band);
            set_boundary(h1, e1, f1, row, d_first - 1, ni, mi, band);
        }
    }

    for d in d_first..=d_last {
        let (first, last) = rows_of(d, ni, mi, band);
        if first <= last {
            let (first_row, count) = (first as usize, (last - first + 1) as usize);
            let trace_start = diag_start[d as usize];
            let mut lane = 0;
            while lane < count {
                let i0 = first_row + lane;
                let at = trace_start + lane;
                // target[j - 1] with j = d - i is target_reversed[m - d + i] (>= 0: i >= d - m).
                let t_start = (i0 as i64 + mi - d) as usize;
                let buffers = Buffers {
                    h_prev: h1,
                    e_prev: e1,
                    f_prev: f1,
                    h_prev2: h2,
                    query: q_pad,
                    target_reversed,
                };
                // A short remainder goes through the narrower group when there is one.
                if W > TAIL && count - lane <= TAIL {
                    group::<TAIL, G>(scoring, &buffers, i0, t_start, h0, e0, f0, &mut trace[at..]);
                    lane += TAIL;
                } else {
                    group::<W, G>(scoring, &buffers, i0, t_start, h0, e0, f0, &mut trace[at..]);
                    lane += W;
                }
            }
            if (first..=last).contains(&(d - mi)) && d - mi < ni {
                last_column[(d - mi) as usize] = h0[(d - mi) as usize];
            }
            if (first..=last).contains(&ni) {
                last_row[(d - ni) as usize] = h0[n];
            }
        }
        // The cells just outside this anti-diagonal's interior, which the next two read.
        set_boundary(h0, e0, f0, first - 1, d, ni, mi, band);
        set_boundary(h0, e0, f0, last + 1, d, ni, mi, band);
        // d becomes d-1, d-1 becomes d-2.
        std::mem::swap(h2, h1);
        std::mem::swap(h1, h0);
        std::mem::swap(e1, e0);
        std::mem::swap(f1, f0);
    }

    // The end cell: first best H in (i, j) order on the last column (rows < n), then the last
    // row, as the scalar kernel considers them.
    let mut best = (NEG, 0usize, 0usize);
    let mut consider = |score: i32, i: usize, j: usize| {
        if score > best.0 {
            best = (score, i, j);
        }
    };
    let column_rows = (mi - band.high).max(0)..=(ni - 1).min(mi - band.low);
    for i in column_rows {
        let score = if i == 0 { 0 } else { last_column[i as usize] };
        consider(score, i as usize, m);
    }
    let row_columns = (ni + band.low).max(0)..=mi.min(ni + band.high);
    for j in row_columns {
        let score = if j == 0 { 0 } else { last_row[j as usize] };
        consider(score, n, j as usize);
    }
    let (score, end_i, end_j) = best;
    debug_assert!(score > NEG / 2, "no end cell inside the band");

    let cell = |i: usize, j: usize| {
        let d = i + j;
        debug_assert!(i >= diag_first[d], "traceback left the band");
        trace[diag_start[d] + (i - diag_first[d])]
    };
    banded::traceback(query, target, cell, score, end_i, end_j)
}
