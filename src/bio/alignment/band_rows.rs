//! The AVX-512 and AVX2 kernel for narrow bands: one band row at a time, the row's cells in
//! vectors.
//!
//! Why a second SIMD layout: most alignments run in a band of 33 diagonals (half-width 16),
//! where the anti-diagonal kernel (wavefront.rs) holds about 17 cells per anti-diagonal, so a
//! 16-lane group is half idle, each group fetches its scores with a gather (`perf annotate` on
//! 20k UniProt at 0.5: the gather was 29% of that kernel's samples) and every anti-diagonal pays
//! its bookkeeping. Here lane `k` of row `i` is cell `(i, i + low + k)`: all lanes of a row share
//! the query residue, so their scores are one 32-entry permute of that residue's class row
//! (`vpermi2d` on AVX-512, four `vpermd` and three blends on AVX2), no gather; the diagonal neighbour is the same lane of the previous row, the one
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

/// Lanes of the widest vector (i32 in a 512-bit register).
const LANES: usize = 16;
/// Widest band, in diagonals, this kernel takes: four AVX-512 (eight AVX2) vectors per row. Timed against the
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
        banded::release_if_larger(&mut self.trace, keep);
    }
}

/// Whether this kernel takes a `n x m` alignment in `band` (already clipped to the matrix).
pub(super) fn fits(band: Diagonals, n: usize, m: usize) -> bool {
    let width = band.high - band.low + 1;
    (MIN_WIDTH..=MAX_WIDTH).contains(&width) && n < MAX_LEN && m < MAX_LEN
}

/// One SIMD width's operations, for the generic row kernel below: `V` holds `LANES` i32 lanes,
/// `M` a per-lane mask. Implemented for AVX-512 (16 lanes, mask registers) and AVX2 (8 lanes,
/// masks in vectors); the methods are only called from the entry points compiled for those
/// features, after the CPU check, where they inline.
#[cfg(target_arch = "x86_64")]
trait RowLanes {
    type V: Copy;
    type M: Copy;
    const LANES: usize;
    unsafe fn splat(x: i32) -> Self::V;
    /// Lanes 0, 1, ..., LANES - 1.
    unsafe fn iota() -> Self::V;
    unsafe fn add(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn sub(a: Self::V, b: Self::V) -> Self::V;
    unsafe fn max(a: Self::V, b: Self::V) -> Self::V;
    /// `a > b` lane by lane.
    unsafe fn gt(a: Self::V, b: Self::V) -> Self::M;
    unsafe fn eq(a: Self::V, b: Self::V) -> Self::M;
    unsafe fn and(a: Self::M, b: Self::M) -> Self::M;
    unsafe fn none() -> Self::M;
    /// `mask ? yes : no` lane by lane.
    unsafe fn select(mask: Self::M, no: Self::V, yes: Self::V) -> Self::V;
    /// Lane `k` of the result is lane `k - S` of `x`, the first `S` lanes the last ones of
    /// `before` (`S` < LANES, a power of two).
    unsafe fn shift_up<const S: usize>(x: Self::V, before: Self::V) -> Self::V;
    /// Lane `k` of the result is lane `k + 1` of `x`, the last lane the first of `after`.
    unsafe fn shift_down_1(x: Self::V, after: Self::V) -> Self::V;
    /// `row[classes[k]]` for every lane (classes below 32).
    unsafe fn row_scores(row: *const i32, classes: *const u8) -> Self::V;
    /// The low byte of every lane, to `out[..LANES]`.
    unsafe fn store_bytes(v: Self::V, out: *mut u8);
    unsafe fn store(v: Self::V, out: *mut i32);
}

// The kernel's loops walk a row's vectors by index, reading and writing several per-vector
// arrays in step; the index is the clearer form there.
#[allow(clippy::needless_range_loop)]
#[cfg(target_arch = "x86_64")]
pub(super) mod x86 {
    use super::*;
    use std::arch::x86_64::*;

    /// AVX-512 F/BW: 16 lanes, masks in mask registers, scores by one `vpermi2d`.
    struct Avx512;

    impl RowLanes for Avx512 {
        type V = __m512i;
        type M = __mmask16;
        const LANES: usize = 16;
        #[inline(always)]
        unsafe fn splat(x: i32) -> __m512i {
            _mm512_set1_epi32(x)
        }
        #[inline(always)]
        unsafe fn iota() -> __m512i {
            _mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15)
        }
        #[inline(always)]
        unsafe fn add(a: __m512i, b: __m512i) -> __m512i {
            _mm512_add_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m512i, b: __m512i) -> __m512i {
            _mm512_sub_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m512i, b: __m512i) -> __m512i {
            _mm512_max_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn gt(a: __m512i, b: __m512i) -> __mmask16 {
            _mm512_cmpgt_epi32_mask(a, b)
        }
        #[inline(always)]
        unsafe fn eq(a: __m512i, b: __m512i) -> __mmask16 {
            _mm512_cmpeq_epi32_mask(a, b)
        }
        #[inline(always)]
        unsafe fn and(a: __mmask16, b: __mmask16) -> __mmask16 {
            a & b
        }
        #[inline(always)]
        unsafe fn none() -> __mmask16 {
            0
        }
        #[inline(always)]
        unsafe fn select(mask: __mmask16, no: __m512i, yes: __m512i) -> __m512i {
            _mm512_mask_blend_epi32(mask, no, yes)
        }
        #[inline(always)]
        unsafe fn shift_up<const S: usize>(x: __m512i, before: __m512i) -> __m512i {
            match S {
                1 => _mm512_alignr_epi32::<15>(x, before),
                2 => _mm512_alignr_epi32::<14>(x, before),
                4 => _mm512_alignr_epi32::<12>(x, before),
                8 => _mm512_alignr_epi32::<8>(x, before),
                _ => unreachable!("shift of {S} lanes"),
            }
        }
        #[inline(always)]
        unsafe fn shift_down_1(x: __m512i, after: __m512i) -> __m512i {
            _mm512_alignr_epi32::<1>(after, x)
        }
        #[inline(always)]
        unsafe fn row_scores(row: *const i32, classes: *const u8) -> __m512i {
            let low = _mm512_loadu_si512(row.cast());
            let high = _mm512_loadu_si512(row.add(16).cast());
            let index = _mm512_cvtepu8_epi32(_mm_loadu_si128(classes.cast()));
            _mm512_permutex2var_epi32(low, index, high)
        }
        #[inline(always)]
        unsafe fn store_bytes(v: __m512i, out: *mut u8) {
            _mm_storeu_si128(out.cast(), _mm512_cvtepi32_epi8(v));
        }
        #[inline(always)]
        unsafe fn store(v: __m512i, out: *mut i32) {
            _mm512_storeu_si512(out.cast(), v);
        }
    }

    /// AVX2: 8 lanes, masks as all-ones lanes, scores by four `vpermd` (one per 8 classes) and
    /// three blends on the class's bits 3 and 4.
    struct Avx2;

    impl RowLanes for Avx2 {
        type V = __m256i;
        type M = __m256i;
        const LANES: usize = 8;
        #[inline(always)]
        unsafe fn splat(x: i32) -> __m256i {
            _mm256_set1_epi32(x)
        }
        #[inline(always)]
        unsafe fn iota() -> __m256i {
            _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)
        }
        #[inline(always)]
        unsafe fn add(a: __m256i, b: __m256i) -> __m256i {
            _mm256_add_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn sub(a: __m256i, b: __m256i) -> __m256i {
            _mm256_sub_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn max(a: __m256i, b: __m256i) -> __m256i {
            _mm256_max_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn gt(a: __m256i, b: __m256i) -> __m256i {
            _mm256_cmpgt_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn eq(a: __m256i, b: __m256i) -> __m256i {
            _mm256_cmpeq_epi32(a, b)
        }
        #[inline(always)]
        unsafe fn and(a: __m256i, b: __m256i) -> __m256i {
            _mm256_and_si256(a, b)
        }
        #[inline(always)]
        unsafe fn none() -> __m256i {
            _mm256_setzero_si256()
        }
        #[inline(always)]
        unsafe fn select(mask: __m256i, no: __m256i, yes: __m256i) -> __m256i {
            _mm256_blendv_epi8(no, yes, mask)
        }
        #[inline(always)]
        unsafe fn shift_up<const S: usize>(x: __m256i, before: __m256i) -> __m256i {
            // Rotate both up by S lanes, then take the first S lanes from `before`'s.
            let rotate = match S {
                1 => _mm256_setr_epi32(7, 0, 1, 2, 3, 4, 5, 6),
                2 => _mm256_setr_epi32(6, 7, 0, 1, 2, 3, 4, 5),
                4 => _mm256_setr_epi32(4, 5, 6, 7, 0, 1, 2, 3),
                _ => unreachable!("shift of {S} lanes"),
            };
            let x = _mm256_permutevar8x32_epi32(x, rotate);
            let before = _mm256_permutevar8x32_epi32(before, rotate);
            match S {
                1 => _mm256_blend_epi32::<0b0000_0001>(x, before),
                2 => _mm256_blend_epi32::<0b0000_0011>(x, before),
                _ => _mm256_blend_epi32::<0b0000_1111>(x, before),
            }
        }
        #[inline(always)]
        unsafe fn shift_down_1(x: __m256i, after: __m256i) -> __m256i {
            let rotate = _mm256_setr_epi32(1, 2, 3, 4, 5, 6, 7, 0);
            let x = _mm256_permutevar8x32_epi32(x, rotate);
            let after = _mm256_permutevar8x32_epi32(after, rotate);
            _mm256_blend_epi32::<0b1000_0000>(x, after)
        }
        #[inline(always)]
        unsafe fn row_scores(row: *const i32, classes: *const u8) -> __m256i {
            let index = _mm256_cvtepu8_epi32(_mm_loadl_epi64(classes.cast()));
            let p0 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(row.cast()), index);
            let p1 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(row.add(8).cast()), index);
            let p2 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(row.add(16).cast()), index);
            let p3 = _mm256_permutevar8x32_epi32(_mm256_loadu_si256(row.add(24).cast()), index);
            // blendv_ps picks by each lane's sign bit: move class bits 3 and 4 there.
            let bit3 = _mm256_castsi256_ps(_mm256_slli_epi32::<28>(index));
            let bit4 = _mm256_castsi256_ps(_mm256_slli_epi32::<27>(index));
            let low = _mm256_blendv_ps(_mm256_castsi256_ps(p0), _mm256_castsi256_ps(p1), bit3);
            let high = _mm256_blendv_ps(_mm256_castsi256_ps(p2), _mm256_castsi256_ps(p3), bit3);
            _mm256_castps_si256(_mm256_blendv_ps(low, high, bit4))
        }
        #[inline(always)]
        unsafe fn store_bytes(v: __m256i, out: *mut u8) {
            // The low byte of each lane into the first four bytes of each 128-bit half.
            let gather = _mm256_setr_epi8(
                0, 4, 8, 12, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, -1, 0, 4, 8, 12, -1, -1,
                -1, -1, -1, -1, -1, -1, -1, -1, -1, -1,
            );
            let packed = _mm256_shuffle_epi8(v, gather);
            let low = _mm256_extract_epi32::<0>(packed);
            let high = _mm256_extract_epi32::<4>(packed);
            out.cast::<i32>().write_unaligned(low);
            out.add(4).cast::<i32>().write_unaligned(high);
        }
        #[inline(always)]
        unsafe fn store(v: __m256i, out: *mut i32) {
            _mm256_storeu_si256(out.cast(), v);
        }
    }

    /// Same contract as `banded::align`, for a band that [`fits`]. The caller has checked
    /// AVX-512 F and BW on this CPU.
    #[target_feature(enable = "avx2,avx512f,avx512bw")]
    pub(in crate::bio::alignment) unsafe fn align_avx512(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        debug_assert!(fits(band, query.len(), target.len()));
        let width = (band.high - band.low + 1) as usize;
        match width.div_ceil(16) {
            1 => rows::<Avx512, 1>(scoring, query, target, band, scratch),
            2 => rows::<Avx512, 2>(scoring, query, target, band, scratch),
            3 => rows::<Avx512, 3>(scoring, query, target, band, scratch),
            _ => rows::<Avx512, 4>(scoring, query, target, band, scratch),
        }
    }

    /// The same on AVX2 (8 lanes, 2 to 8 vectors a row). The caller has checked AVX2.
    #[target_feature(enable = "avx2")]
    pub(in crate::bio::alignment) unsafe fn align_avx2(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        debug_assert!(fits(band, query.len(), target.len()));
        let width = (band.high - band.low + 1) as usize;
        match width.div_ceil(8) {
            1 | 2 => rows::<Avx2, 2>(scoring, query, target, band, scratch),
            3 => rows::<Avx2, 3>(scoring, query, target, band, scratch),
            4 => rows::<Avx2, 4>(scoring, query, target, band, scratch),
            5 => rows::<Avx2, 5>(scoring, query, target, band, scratch),
            6 => rows::<Avx2, 6>(scoring, query, target, band, scratch),
            7 => rows::<Avx2, 7>(scoring, query, target, band, scratch),
            _ => rows::<Avx2, 8>(scoring, query, target, band, scratch),
        }
    }

    /// Lane `k` of the result holds lane `k - S` of `x` across its vectors; the first `S` lanes
    /// hold `fill`.
    #[inline(always)]
    unsafe fn shift_up<L: RowLanes, const NV: usize, const S: usize>(
        x: &[L::V; NV],
        fill: L::V,
    ) -> [L::V; NV] {
        let mut out = [fill; NV];
        for v in 0..NV {
            let before = if v == 0 { fill } else { x[v - 1] };
            out[v] = L::shift_up::<S>(x[v], before);
        }
        out
    }

    /// Lane `k` of the result holds lane `k - vectors * LANES` of `x`.
    #[inline(always)]
    unsafe fn shift_up_vectors<L: RowLanes, const NV: usize>(
        x: &[L::V; NV],
        vectors: usize,
        fill: L::V,
    ) -> [L::V; NV] {
        let mut out = [fill; NV];
        out[vectors..].copy_from_slice(&x[..NV - vectors]);
        out
    }

    /// Lane `k` of the result holds lane `k + 1` of `x`; the last lane holds `fill`.
    #[inline(always)]
    unsafe fn shift_down_1<L: RowLanes, const NV: usize>(x: &[L::V; NV], fill: L::V) -> [L::V; NV] {
        let mut out = [fill; NV];
        for v in 0..NV {
            let after = if v + 1 == NV { fill } else { x[v + 1] };
            out[v] = L::shift_down_1(x[v], after);
        }
        out
    }

    /// One step of the E scan: `max(x, shifted - decay)` lane by lane.
    #[inline(always)]
    unsafe fn decay_max<L: RowLanes, const NV: usize>(
        x: &[L::V; NV],
        shifted: &[L::V; NV],
        decay: L::V,
    ) -> [L::V; NV] {
        let mut out = *x;
        for v in 0..NV {
            out[v] = L::max(x[v], L::sub(shifted[v], decay));
        }
        out
    }

    /// The E scan over a row of `NV * LANES` lanes: `e` enters as each lane's gap opened from
    /// its left neighbour and leaves as the best open-or-extend over every lane to the left.
    #[inline(always)]
    unsafe fn scan<L: RowLanes, const NV: usize>(
        mut e: [L::V; NV],
        extend: i32,
        neg: L::V,
    ) -> [L::V; NV] {
        e = decay_max::<L, NV>(&e, &shift_up::<L, NV, 1>(&e, neg), L::splat(extend));
        e = decay_max::<L, NV>(&e, &shift_up::<L, NV, 2>(&e, neg), L::splat(2 * extend));
        e = decay_max::<L, NV>(&e, &shift_up::<L, NV, 4>(&e, neg), L::splat(4 * extend));
        if L::LANES > 8 {
            e = decay_max::<L, NV>(&e, &shift_up::<L, NV, 8>(&e, neg), L::splat(8 * extend));
        }
        let mut vectors = 1;
        while vectors < NV {
            let lanes = (vectors * L::LANES) as i32;
            e = decay_max::<L, NV>(
                &e,
                &shift_up_vectors::<L, NV>(&e, vectors, neg),
                L::splat(lanes * extend),
            );
            vectors *= 2;
        }
        e
    }

    #[inline(always)]
    unsafe fn rows<L: RowLanes, const NV: usize>(
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
        let stride = NV * L::LANES;
        debug_assert!(width as usize <= stride && L::LANES <= PAD);
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

        let neg = L::splat(NEG);
        let zero = L::splat(0);
        let open_extend = L::splat(scoring.gap_open + scoring.gap_extend);
        let extend = L::splat(scoring.gap_extend);
        let width_v = L::splat(width);
        let mut iota = [zero; NV];
        let mut in_band = [L::none(); NV];
        for v in 0..NV {
            iota[v] = L::add(L::iota(), L::splat((v * L::LANES) as i32));
            in_band[v] = L::gt(width_v, iota[v]);
        }
        // Lanes with column j <= m: m + 1 > j.
        let m_plus_one = L::splat(m as i32 + 1);
        let byte = |value: u8| L::splat(value as i32);
        let (from_delete_byte, from_insert_byte) =
            (byte(banded::FROM_DELETE), byte(banded::FROM_INSERT));
        let (delete_extends_byte, insert_extends_byte) =
            (byte(banded::DELETE_EXTENDS), byte(banded::INSERT_EXTENDS));
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
            let j0 = L::splat(band.low as i32);
            for v in 0..NV {
                let j = L::add(j0, iota[v]);
                let inside = L::and(
                    in_band[v],
                    L::and(L::gt(j, L::splat(-1)), L::gt(m_plus_one, j)),
                );
                h_prev[v] = L::select(inside, neg, zero);
            }
            if band.columns(0, m).1 == m {
                consider(0, 0, m);
            }
        }

        let mut lanes = [0i32; 64];
        for i in first_interior..=last_row {
            // Column of lane 0.
            let base = i as i64 + band.low;
            let base_v = L::splat(base as i32);
            let row =
                class_scores[scoring.query_class(query[i - 1]) as usize * CLASS_STRIDE..].as_ptr();

            let mut valid = [L::none(); NV];
            let mut column_zero = [L::none(); NV];
            let mut pair = [neg; NV];
            for v in 0..NV {
                let j = L::add(base_v, iota[v]);
                valid[v] = L::and(in_band[v], L::and(L::gt(j, zero), L::gt(m_plus_one, j)));
                column_zero[v] = L::and(in_band[v], L::eq(j, zero));
                // target[j - 1] for lane 0 of this vector sits at PAD + base + LANES * v - 1.
                let at = PAD as i64 + base + (v * L::LANES) as i64 - 1;
                let scores = if at >= 0 && at as usize + L::LANES <= target_pad.len() {
                    L::row_scores(row, target_pad.as_ptr().add(at as usize))
                } else {
                    // Every lane of this vector is outside the matrix.
                    zero
                };
                pair[v] = L::add(h_prev[v], scores);
            }

            // Insert (F): from the cell above, lane k + 1 of the previous row.
            let h_up = shift_down_1::<L, NV>(&h_prev, neg);
            let f_up = shift_down_1::<L, NV>(&f_prev, neg);
            let mut f = [neg; NV];
            let mut f_extends = [L::none(); NV];
            let mut opened = [neg; NV];
            for v in 0..NV {
                let open = L::sub(h_up[v], open_extend);
                let ext = L::sub(f_up[v], extend);
                f_extends[v] = L::gt(ext, open);
                f[v] = L::max(open, ext);
                let h_pre = L::select(valid[v], neg, L::max(pair[v], f[v]));
                let h_pre = L::select(column_zero[v], h_pre, zero);
                opened[v] = L::sub(h_pre, open_extend);
            }

            // Delete (E): the scan described at the top of the file.
            let mut e = scan::<L, NV>(shift_up::<L, NV, 1>(&opened, neg), scoring.gap_extend, neg);

            let mut h = [neg; NV];
            let mut from_delete = [L::none(); NV];
            let mut from_insert = [L::none(); NV];
            for v in 0..NV {
                from_delete[v] = L::gt(e[v], pair[v]);
                let pair_or_delete = L::max(pair[v], e[v]);
                from_insert[v] = L::gt(f[v], pair_or_delete);
                let here = L::max(pair_or_delete, f[v]);
                // Outside the interior: 0 on the first column, minus infinity elsewhere.
                h[v] = L::select(column_zero[v], L::select(valid[v], neg, here), zero);
                e[v] = L::select(valid[v], neg, e[v]);
                f[v] = L::select(valid[v], neg, f[v]);
            }

            // Traceback bytes; E extends when the left cell's E minus extend beats its H minus
            // open and extend (the scalar comparison, on the final values).
            let e_left = shift_up::<L, NV, 1>(&e, neg);
            let h_left = shift_up::<L, NV, 1>(&h, neg);
            let row_trace = trace[(i - first_interior) * stride..].as_mut_ptr();
            for v in 0..NV {
                let e_extends = L::gt(L::sub(e_left[v], extend), L::sub(h_left[v], open_extend));
                let mut bits = L::select(from_delete[v], zero, from_delete_byte);
                bits = L::select(from_insert[v], bits, from_insert_byte);
                bits = L::add(bits, L::select(e_extends, zero, delete_extends_byte));
                bits = L::add(bits, L::select(f_extends[v], zero, insert_extends_byte));
                L::store_bytes(bits, row_trace.add(v * L::LANES));
            }

            // End cells, in the scalar kernel's order.
            let (first, last) = band.columns(i, m);
            if i == n || last == m {
                for v in 0..NV {
                    L::store(h[v], lanes.as_mut_ptr().add(v * L::LANES));
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
