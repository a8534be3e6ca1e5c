//! The AVX-512 kernel for narrow bands: one band row at a time, the row's cells in vectors.
//!
//! Why a second SIMD layout: most alignments run in a band of 33 diagonals (half-width 16),
//! where the anti-diagonal kernel (wavefront.rs) holds about 17 cells per anti-diagonal, so a
//! 16-lane group is half idle, each group fetches its scores with a gather (`perf annotate` on
//! 20k UniProt at 0.5: the gather was 29% of that kernel's samples) and every anti-diagonal pays
//! its bookkeeping. Here lane `k` of row `i` is cell `(i, i + low + k)`: all lanes of a row share
//! the query residue, so their scores are one 32-entry permute of that residue's class row
//! (`vpermi2d`), no gather; the diagonal neighbour is the same lane of the previous row, the one
//! above is the next lane, and only the left neighbour (E, Delete) is inside the row.
//!
//! E inside a row: E(i,j) = max over k < j of (Hpre(i,k) - open - extend - (j-1-k) * extend),
//! where Hpre = max(Pair, F) leaves E out. That equals the scalar recurrence whenever the gap
//! open cost is positive: a gap opened from a cell whose H came from E scores less than
//! extending that E. The maximum is a prefix scan with linear decay, done in log2(lanes) shifted
//! steps. H then takes Pair, Delete, Insert in the scalar order (ties prefer Pair, then Delete,
//! then Insert; E and F prefer opening over extending), and the traceback byte is the scalar
//! one, computed from the final H and E of the left lane. Cells outside the band or the matrix
//! are "minus infinity" exactly as the scalar kernel reads them. The end cell is chosen in the
//! scalar order and the walk is `banded::traceback`, so the `Alignment` equals the scalar
//! kernel's (`simd_tests.rs` checks it on random bands of every width).

use super::banded::{self, Diagonals, NEG};
use super::scoring::{Scoring, CLASS_STRIDE};
use super::Alignment;

/// Lanes of one vector (i32 in a 512-bit register).
const LANES: usize = 16;
/// Widest band, in diagonals, this kernel takes: four vectors per row. Timed against the
/// anti-diagonal kernel on a 350 x 350 protein pair (AVX-512, this machine): 8.5 against 22.9 us
/// at 9 diagonals, 17.3 against 29.1 at 33, 27.7 against 43.0 at 65; wider, the prefix scan's
/// cost grows and the two came out even (a whole run at 0.5 allowing 128 was 7% slower).
const MAX_WIDTH: i64 = 4 * LANES as i64;
/// Narrowest: below it a row's vector is mostly idle and its traceback mostly padding (the row
/// stores all 16 lanes' bytes, so storage stays within twice the band's cells).
const MIN_WIDTH: i64 = 9;
/// Zero classes either side of the target's, so a row's vector load never leaves the buffer.
const PAD: usize = LANES;
/// Lengths above this go to the anti-diagonal kernel: lane columns are computed in i32.
const MAX_LEN: usize = 1 << 30;

/// Buffers reused across calls.
#[derive(Default)]
pub(super) struct Scratch {
    /// `NV * 16` bytes per row from the first interior row on; lane `k` is diagonal `low + k`.
    trace: Vec<u8>,
    /// The target's residue classes with `PAD` zeros on each side.
    target: Vec<u8>,
}

impl Scratch {
    pub(super) fn release_large_trace(&mut self, keep: usize) {
        if self.trace.capacity() > keep {
            self.trace = Vec::new();
        }
    }
}

/// Whether this kernel takes a `n x m` alignment in `band` (already clipped to the matrix).
pub(super) fn fits(band: Diagonals, n: usize, m: usize) -> bool {
    let width = band.high - band.low + 1;
    (MIN_WIDTH..=MAX_WIDTH).contains(&width) && n < MAX_LEN && m < MAX_LEN
}

#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// Same contract as `banded::align`, for a band that [`fits`]. The caller has checked
    /// AVX-512 F and BW on this CPU.
    #[target_feature(enable = "avx512f,avx512bw")]
    pub(in crate::bio::alignment) unsafe fn align(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        debug_assert!(fits(band, query.len(), target.len()));
        let width = (band.high - band.low + 1) as usize;
        match width.div_ceil(LANES) {
            1 => rows::<1>(scoring, query, target, band, scratch),
            2 => rows::<2>(scoring, query, target, band, scratch),
            3 => rows::<3>(scoring, query, target, band, scratch),
            _ => rows::<4>(scoring, query, target, band, scratch),
        }
    }

    /// Lane `k` of the result holds lane `k - S` of `x` (across its vectors); the first `S`
    /// lanes hold `fill`. `IMM` is `16 - S` (`valignd` takes a constant).
    macro_rules! shift_up {
        ($name:ident, $s:literal, $imm:literal) => {
            #[inline]
            #[target_feature(enable = "avx512f,avx512bw")]
            unsafe fn $name<const NV: usize>(x: &[__m512i; NV], fill: __m512i) -> [__m512i; NV] {
                let mut out = [fill; NV];
                for v in 0..NV {
                    let before = if v == 0 { fill } else { x[v - 1] };
                    out[v] = _mm512_alignr_epi32::<$imm>(x[v], before);
                }
                out
            }
        };
    }
    shift_up!(shift_up_1, 1, 15);
    shift_up!(shift_up_2, 2, 14);
    shift_up!(shift_up_4, 4, 12);
    shift_up!(shift_up_8, 8, 8);

    /// Lane `k` of the result holds lane `k - 16 * VECTORS` of `x`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn shift_up_vectors<const NV: usize>(
        x: &[__m512i; NV],
        vectors: usize,
        fill: __m512i,
    ) -> [__m512i; NV] {
        let mut out = [fill; NV];
        out[vectors..].copy_from_slice(&x[..NV - vectors]);
        out
    }

    /// Lane `k` of the result holds lane `k + 1` of `x`; the last lane holds `fill`.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn shift_down_1<const NV: usize>(x: &[__m512i; NV], fill: __m512i) -> [__m512i; NV] {
        let mut out = [fill; NV];
        for v in 0..NV {
            let after = if v + 1 == NV { fill } else { x[v + 1] };
            out[v] = _mm512_alignr_epi32::<1>(after, x[v]);
        }
        out
    }

    /// `max(x, shifted - decay)` lane by lane: one step of the E scan.
    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn decay_max<const NV: usize>(
        x: &[__m512i; NV],
        shifted: &[__m512i; NV],
        decay: __m512i,
    ) -> [__m512i; NV] {
        let mut out = *x;
        for v in 0..NV {
            out[v] = _mm512_max_epi32(x[v], _mm512_sub_epi32(shifted[v], decay));
        }
        out
    }

    #[inline]
    #[target_feature(enable = "avx512f,avx512bw")]
    unsafe fn rows<const NV: usize>(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        let (n, m) = (query.len(), target.len());
        let (first_row, last_row) = band.rows(n, m);
        debug_assert!(n > 0 && m > 0 && first_row <= last_row);
        let width = (band.high - band.low + 1) as i32;
        let stride = NV * LANES;
        let first_interior = first_row.max(1);
        let interior_rows = (last_row + 1).saturating_sub(first_interior);

        let Scratch {
            trace,
            target: target_pad,
        } = scratch;
        if trace.len() < interior_rows * stride {
            trace.resize(interior_rows * stride, 0);
        }
        target_pad.clear();
        target_pad.resize(PAD, 0);
        target_pad.extend(target.iter().map(|&b| scoring.target_class(b)));
        target_pad.resize(PAD + m + PAD, 0);

        let neg = _mm512_set1_epi32(NEG);
        let zero = _mm512_setzero_si512();
        let open_extend = _mm512_set1_epi32(scoring.gap_open + scoring.gap_extend);
        let extend = scoring.gap_extend;
        // Gap extensions of 1, 2, 4, ... 32 columns, for the E scan's steps.
        let decay: [__m512i; 6] = [
            _mm512_set1_epi32(extend),
            _mm512_set1_epi32(2 * extend),
            _mm512_set1_epi32(4 * extend),
            _mm512_set1_epi32(8 * extend),
            _mm512_set1_epi32(16 * extend),
            _mm512_set1_epi32(32 * extend),
        ];
        let first_lanes = _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15);
        let width_v = _mm512_set1_epi32(width);
        let mut iota = [first_lanes; NV];
        let mut in_band = [0 as __mmask16; NV];
        for v in 0..NV {
            iota[v] = _mm512_add_epi32(first_lanes, _mm512_set1_epi32((v * LANES) as i32));
            in_band[v] = _mm512_cmplt_epi32_mask(iota[v], width_v);
        }
        let m_v = _mm512_set1_epi32(m as i32);
        let one = _mm512_set1_epi32(1);
        let class_scores = scoring.class_scores();

        let mut best = (NEG, 0usize, 0usize);
        let mut consider = |score: i32, i: usize, j: usize| {
            if score > best.0 {
                best = (score, i, j);
            }
        };

        // H and F of the row above the first interior row: row 0's free leading gaps (H = 0
        // on its band cells), or nothing (minus infinity) when the band starts lower down.
        let mut h_prev = [neg; NV];
        let mut f_prev = [neg; NV];
        if first_row == 0 {
            let j0 = _mm512_set1_epi32(band.low as i32);
            for v in 0..NV {
                let j = _mm512_add_epi32(j0, iota[v]);
                let inside = in_band[v]
                    & _mm512_cmpge_epi32_mask(j, zero)
                    & _mm512_cmple_epi32_mask(j, m_v);
                h_prev[v] = _mm512_mask_blend_epi32(inside, neg, zero);
            }
            if band.columns(0, m).1 == m {
                consider(0, 0, m);
            }
        }

        let mut lanes = [0i32; 4 * LANES];
        for i in first_interior..=last_row {
            // Column of lane 0.
            let base = i as i64 + band.low;
            let base_v = _mm512_set1_epi32(base as i32);
            let row = &class_scores[scoring.query_class(query[i - 1]) as usize * CLASS_STRIDE..];
            let row_low = _mm512_loadu_si512(row.as_ptr().cast());
            let row_high = _mm512_loadu_si512(row.as_ptr().add(LANES).cast());

            let mut valid = [0 as __mmask16; NV];
            let mut column_zero = [0 as __mmask16; NV];
            let mut pair = [neg; NV];
            for v in 0..NV {
                let j = _mm512_add_epi32(base_v, iota[v]);
                valid[v] = in_band[v]
                    & _mm512_cmpge_epi32_mask(j, one)
                    & _mm512_cmple_epi32_mask(j, m_v);
                column_zero[v] = in_band[v] & _mm512_cmpeq_epi32_mask(j, zero);
                // target[j - 1] for lane 0 of this vector sits at PAD + base + 16v - 1.
                let at = PAD as i64 + base + (v * LANES) as i64 - 1;
                let scores = if at >= 0 && at as usize + LANES <= target_pad.len() {
                    let classes = _mm_loadu_si128(target_pad.as_ptr().add(at as usize).cast());
                    _mm512_permutex2var_epi32(row_low, _mm512_cvtepu8_epi32(classes), row_high)
                } else {
                    // Every lane of this vector is outside the matrix.
                    zero
                };
                pair[v] = _mm512_add_epi32(h_prev[v], scores);
            }

            // Insert (F): from the cell above, lane k + 1 of the previous row.
            let h_up = shift_down_1(&h_prev, neg);
            let f_up = shift_down_1(&f_prev, neg);
            let mut f = [neg; NV];
            let mut f_extends = [0 as __mmask16; NV];
            let mut h_pre = [neg; NV];
            for v in 0..NV {
                let open = _mm512_sub_epi32(h_up[v], open_extend);
                let ext = _mm512_sub_epi32(f_up[v], decay[0]);
                f_extends[v] = _mm512_cmpgt_epi32_mask(ext, open);
                f[v] = _mm512_max_epi32(open, ext);
                let h = _mm512_mask_blend_epi32(valid[v], neg, _mm512_max_epi32(pair[v], f[v]));
                h_pre[v] = _mm512_mask_blend_epi32(column_zero[v], h, zero);
            }

            // Delete (E): the scan described at the top of the file.
            let mut opened = h_pre;
            for v in 0..NV {
                opened[v] = _mm512_sub_epi32(h_pre[v], open_extend);
            }
            let mut e = shift_up_1(&opened, neg);
            e = decay_max(&e, &shift_up_1(&e, neg), decay[0]);
            e = decay_max(&e, &shift_up_2(&e, neg), decay[1]);
            e = decay_max(&e, &shift_up_4(&e, neg), decay[2]);
            e = decay_max(&e, &shift_up_8(&e, neg), decay[3]);
            if NV > 1 {
                e = decay_max(&e, &shift_up_vectors(&e, 1, neg), decay[4]);
            }
            if NV > 2 {
                e = decay_max(&e, &shift_up_vectors(&e, 2, neg), decay[5]);
            }

            let mut h = [neg; NV];
            let mut from_delete = [0 as __mmask16; NV];
            let mut from_insert = [0 as __mmask16; NV];
            for v in 0..NV {
                from_delete[v] = _mm512_cmpgt_epi32_mask(e[v], pair[v]);
                let pair_or_delete = _mm512_max_epi32(pair[v], e[v]);
                from_insert[v] = _mm512_cmpgt_epi32_mask(f[v], pair_or_delete);
                let here = _mm512_max_epi32(pair_or_delete, f[v]);
                // Outside the interior: 0 on the first column, minus infinity elsewhere.
                h[v] = _mm512_mask_blend_epi32(
                    column_zero[v],
                    _mm512_mask_blend_epi32(valid[v], neg, here),
                    zero,
                );
                e[v] = _mm512_mask_blend_epi32(valid[v], neg, e[v]);
                f[v] = _mm512_mask_blend_epi32(valid[v], neg, f[v]);
            }

            // Traceback bytes; E extends when the left cell's E minus extend beats its H minus
            // open and extend (the scalar comparison, on the final values).
            let e_left = shift_up_1(&e, neg);
            let h_left = shift_up_1(&h, neg);
            let row_trace = &mut trace[(i - first_interior) * stride..];
            for v in 0..NV {
                let e_extends = _mm512_cmpgt_epi32_mask(
                    _mm512_sub_epi32(e_left[v], decay[0]),
                    _mm512_sub_epi32(h_left[v], open_extend),
                );
                let mut byte = _mm512_mask_mov_epi32(
                    zero,
                    from_delete[v],
                    _mm512_set1_epi32(banded::FROM_DELETE as i32),
                );
                byte = _mm512_mask_mov_epi32(
                    byte,
                    from_insert[v],
                    _mm512_set1_epi32(banded::FROM_INSERT as i32),
                );
                byte = _mm512_mask_or_epi32(
                    byte,
                    e_extends,
                    byte,
                    _mm512_set1_epi32(banded::DELETE_EXTENDS as i32),
                );
                byte = _mm512_mask_or_epi32(
                    byte,
                    f_extends[v],
                    byte,
                    _mm512_set1_epi32(banded::INSERT_EXTENDS as i32),
                );
                let bytes = _mm512_cvtepi32_epi8(byte);
                _mm_storeu_si128(row_trace[v * LANES..].as_mut_ptr().cast(), bytes);
            }

            // End cells, in the scalar kernel's order.
            let (first, last) = band.columns(i, m);
            if i == n || last == m {
                for v in 0..NV {
                    _mm512_storeu_si512(lanes[v * LANES..].as_mut_ptr().cast(), h[v]);
                }
                let lane = |j: usize| lanes[(j as i64 - base) as usize];
                if i == n {
                    for j in first..=last {
                        consider(lane(j), i, j);
                    }
                } else {
                    consider(lane(m), i, m);
                }
            }
            h_prev = h;
            f_prev = f;
        }

        let (score, end_i, end_j) = best;
        debug_assert!(score > NEG / 2, "no end cell inside the band");
        let cell = |i: usize, j: usize| {
            debug_assert!(i >= first_interior && j >= 1, "traceback left the band");
            let lane = (j as i64 - i as i64 - band.low) as usize;
            debug_assert!(lane < width as usize, "traceback left the band");
            trace[(i - first_interior) * stride + lane]
        };
        banded::traceback(query, target, cell, score, end_i, end_j)
    }
}
