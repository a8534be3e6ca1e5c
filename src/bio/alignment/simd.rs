//! SIMD levels of the aligner: which exist, which this CPU runs, and the one entry point per
//! level compiled for it: the anti-diagonal kernel (wavefront.rs), and on AVX2 and AVX-512 the
//! row kernel (band_rows.rs) for bands of 9 to 64 diagonals. The CPU is probed once per
//! process; an `Aligner` resolves its level once, when it is built, and every call then goes to
//! that level's function. A level the CPU lacks is refused with a reason, never replaced.

use super::band_rows;
use super::banded::Diagonals;
use super::scoring::Scoring;
use super::wavefront::{self, Scratch};
use super::Alignment;
use std::fmt;

/// The kernel an `Aligner` runs. `Scalar` is the reference kernel (banded.rs); the others are the
/// anti-diagonal kernel at that vector width, giving the same `Alignment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SimdLevel {
    Scalar,
    /// SSE4.1: 4 lanes of i32.
    Sse4,
    /// AVX2: 8 lanes.
    Avx2,
    /// AVX-512 (F and BW): 16 lanes.
    Avx512,
    /// ARM NEON: 4 lanes (aarch64 only).
    Neon,
}

impl SimdLevel {
    /// The levels `performance.simd_alignment` accepts (the scalar kernel is `use_simd = false`).
    pub const VECTOR: [SimdLevel; 4] = [
        SimdLevel::Sse4,
        SimdLevel::Avx2,
        SimdLevel::Avx512,
        SimdLevel::Neon,
    ];

    pub fn name(self) -> &'static str {
        match self {
            SimdLevel::Scalar => "scalar",
            SimdLevel::Sse4 => "sse4",
            SimdLevel::Avx2 => "avx2",
            SimdLevel::Avx512 => "avx512",
            SimdLevel::Neon => "neon",
        }
    }

    /// One of the vector levels by its config name.
    pub fn parse(text: &str) -> Option<SimdLevel> {
        Self::VECTOR.into_iter().find(|level| level.name() == text)
    }

    /// Whether this CPU (and this build's architecture) can run the level. Detection only: it
    /// never formats a message, so `available` can call it for every level.
    fn runs_here(self) -> Option<bool> {
        Some(match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Sse4 => std::arch::is_x86_feature_detected!("sse4.1"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => {
                // Its remainders run the AVX2 groups.
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
                    && std::arch::is_x86_feature_detected!("avx2")
            }
            #[cfg(target_arch = "aarch64")]
            SimdLevel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            // A level of another architecture: `None`, not `false`, so the message can say so.
            #[allow(unreachable_patterns)]
            _ => return None,
        })
    }

    /// `Ok` when this CPU (and this build's architecture) can run the level, else why not.
    pub fn check(self) -> Result<(), String> {
        match self.runs_here() {
            Some(true) => Ok(()),
            None => Err(format!(
                "SIMD level {} does not exist on {}; this build's levels: {}",
                self.name(),
                std::env::consts::ARCH,
                Self::for_arch()
            )),
            Some(false) => Err(format!(
                "this CPU lacks the instructions of SIMD level {} (it has: {})",
                self.name(),
                Self::available()
                    .iter()
                    .map(|level| level.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
        }
    }

    /// The levels of this architecture, for messages.
    fn for_arch() -> &'static str {
        if cfg!(target_arch = "x86_64") {
            "sse4, avx2, avx512"
        } else if cfg!(target_arch = "aarch64") {
            "neon"
        } else {
            "none"
        }
    }

    /// Every level this CPU runs, scalar first, widest last.
    pub fn available() -> Vec<SimdLevel> {
        std::iter::once(SimdLevel::Scalar)
            .chain(Self::VECTOR)
            .filter(|level| level.runs_here() == Some(true))
            .collect()
    }

    /// The widest level this CPU runs (probed once per process).
    pub fn best() -> SimdLevel {
        static BEST: std::sync::OnceLock<SimdLevel> = std::sync::OnceLock::new();
        *BEST.get_or_init(|| {
            *Self::available()
                .last()
                .expect("the scalar level always runs")
        })
    }

    /// The level the three config keys select: `use_simd = false` is the scalar kernel;
    /// `auto_detect_simd = true` is the widest the CPU has; otherwise `configured`, refused when
    /// the CPU cannot run it.
    pub fn resolve(
        use_simd: bool,
        auto_detect: bool,
        configured: SimdLevel,
    ) -> Result<SimdLevel, String> {
        if !use_simd {
            Ok(SimdLevel::Scalar)
        } else if auto_detect {
            Ok(Self::best())
        } else {
            configured.check().map(|()| configured)
        }
    }
}

impl fmt::Display for SimdLevel {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Run the anti-diagonal kernel at `level`, which the caller has checked (`SimdLevel::check`)
/// when it built the aligner. Not for `Scalar`.
pub(super) fn align(
    level: SimdLevel,
    scoring: &Scoring,
    query: &[u8],
    target: &[u8],
    band: Diagonals,
    scratch: &mut Scratch,
) -> Alignment {
    debug_assert!(level.check().is_ok(), "{level} not checked");
    match level {
        // SAFETY (all three): the aligner was built only after `check` found the level's
        // instructions on this CPU.
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Sse4 => unsafe { x86::sse4(scoring, query, target, band, scratch) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx2 => unsafe { x86::avx2(scoring, query, target, band, scratch) },
        #[cfg(target_arch = "x86_64")]
        SimdLevel::Avx512 => unsafe { x86::avx512(scoring, query, target, band, scratch) },
        // NEON is part of every aarch64 target: no feature gate needed.
        #[cfg(target_arch = "aarch64")]
        SimdLevel::Neon => {
            wavefront::align::<4, 4, wavefront::Lanes>(scoring, query, target, band, scratch)
        }
        _ => unreachable!("SIMD level {level} was not checked on this CPU"),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;
    use crate::bio::alignment::scoring::CLASS_STRIDE;
    use std::arch::x86_64::*;
    use wavefront::{Gather, Lanes};

    type Table = [i32; CLASS_STRIDE * CLASS_STRIDE];

    /// Scores by AVX2 gathers (8 and 4 lanes). Only instantiated inside the `avx2` and `avx512`
    /// entry points below, which run after the CPU check: the intrinsics inline there.
    pub(super) struct Avx2Gather;

    /// Scores by AVX-512 gathers (16 lanes; 8 via AVX2 for remainders).
    pub(super) struct Avx512Gather;

    /// Lane `k`'s table index, `q[k] * CLASS_STRIDE + t[k]`, for 8 lanes.
    #[inline(always)]
    unsafe fn index8(q: &[u8; 8], t: &[u8; 8]) -> __m256i {
        let q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(q.as_ptr().cast()));
        let t = _mm256_cvtepu8_epi32(_mm_loadl_epi64(t.as_ptr().cast()));
        const SHIFT: i32 = CLASS_STRIDE.trailing_zeros() as i32;
        _mm256_or_si256(_mm256_slli_epi32::<SHIFT>(q), t)
    }

    impl Gather<8> for Avx2Gather {
        #[inline(always)]
        fn scores(table: &Table, q: &[u8; 8], t: &[u8; 8]) -> [i32; 8] {
            // SAFETY: AVX2 was detected (see the struct); the indices are below the table size.
            unsafe {
                let scores = _mm256_i32gather_epi32::<4>(table.as_ptr(), index8(q, t));
                std::mem::transmute::<__m256i, [i32; 8]>(scores)
            }
        }
    }

    impl Gather<4> for Avx2Gather {
        #[inline(always)]
        fn scores(table: &Table, q: &[u8; 4], t: &[u8; 4]) -> [i32; 4] {
            // SAFETY: as for 8 lanes.
            unsafe {
                let q = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(i32::from_ne_bytes(*q)));
                let t = _mm_cvtepu8_epi32(_mm_cvtsi32_si128(i32::from_ne_bytes(*t)));
                const SHIFT: i32 = CLASS_STRIDE.trailing_zeros() as i32;
                let index = _mm_or_si128(_mm_slli_epi32::<SHIFT>(q), t);
                let scores = _mm_i32gather_epi32::<4>(table.as_ptr(), index);
                std::mem::transmute::<__m128i, [i32; 4]>(scores)
            }
        }
    }

    impl Gather<16> for Avx512Gather {
        #[inline(always)]
        fn scores(table: &Table, q: &[u8; 16], t: &[u8; 16]) -> [i32; 16] {
            // SAFETY: AVX-512 F/BW were detected (see the struct); indices below the table size.
            unsafe {
                let q = _mm512_cvtepu8_epi32(_mm_loadu_si128(q.as_ptr().cast()));
                let t = _mm512_cvtepu8_epi32(_mm_loadu_si128(t.as_ptr().cast()));
                const SHIFT: u32 = CLASS_STRIDE.trailing_zeros();
                let index = _mm512_or_si512(_mm512_slli_epi32::<SHIFT>(q), t);
                let scores = _mm512_i32gather_epi32::<4>(index, table.as_ptr());
                std::mem::transmute::<__m512i, [i32; 16]>(scores)
            }
        }
    }

    impl Gather<8> for Avx512Gather {
        #[inline(always)]
        fn scores(table: &Table, q: &[u8; 8], t: &[u8; 8]) -> [i32; 8] {
            <Avx2Gather as Gather<8>>::scores(table, q, t)
        }
    }

    #[target_feature(enable = "sse4.1")]
    pub(super) unsafe fn sse4(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        // SSE4.1 has no gather: per-lane loads.
        wavefront::align::<4, 4, Lanes>(scoring, query, target, band, scratch)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        // As for AVX-512 below: narrow bands row by row.
        if band_rows::fits(band, query.len(), target.len()) {
            band_rows::x86::align_avx2(scoring, query, target, band, &mut scratch.rows)
        } else {
            wavefront::align::<8, 4, Avx2Gather>(scoring, query, target, band, scratch)
        }
    }

    #[target_feature(enable = "avx2,avx512f,avx512bw")]
    pub(super) unsafe fn avx512(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        // Narrow bands (most alignments: half-width 16 is 33 diagonals) go row by row, with
        // no gather (band_rows.rs); wider ones anti-diagonal by anti-diagonal.
        if band_rows::fits(band, query.len(), target.len()) {
            band_rows::x86::align_avx512(scoring, query, target, band, &mut scratch.rows)
        } else {
            wavefront::align::<16, 8, Avx512Gather>(scoring, query, target, band, scratch)
        }
    }
}
