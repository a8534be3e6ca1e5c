//! SIMD levels of the aligner: which exist, which this CPU runs, and the one entry point per
//! level into the anti-diagonal kernel (wavefront.rs) compiled for it. The CPU is probed once per
//! process; an `Aligner` resolves its level once, when it is built, and every call then goes to
//! that level's function. A level the CPU lacks is refused with a reason, never replaced.

use super::banded::Diagonals;
use super::scoring::Scoring;
use super::wavefront::{self, Scratch};
use super::Alignment;
use std::fmt;

/// The kernel an `Aligner` runs. `Scalar` is the reference kernel (banded.rs); the others are the
/// anti-diagonal kernel at that vector width, giving the same `Alignment`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
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

    /// `Ok` when this CPU (and this build's architecture) can run the level, else why not.
    pub fn check(self) -> Result<(), String> {
        let arch = std::env::consts::ARCH;
        let supported = match self {
            SimdLevel::Scalar => true,
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Sse4 => std::arch::is_x86_feature_detected!("sse4.1"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx2 => std::arch::is_x86_feature_detected!("avx2"),
            #[cfg(target_arch = "x86_64")]
            SimdLevel::Avx512 => {
                std::arch::is_x86_feature_detected!("avx512f")
                    && std::arch::is_x86_feature_detected!("avx512bw")
            }
            #[cfg(target_arch = "aarch64")]
            SimdLevel::Neon => std::arch::is_aarch64_feature_detected!("neon"),
            _ => {
                return Err(format!(
                    "SIMD level {} does not exist on {arch}; this build's levels: {}",
                    self.name(),
                    Self::for_arch()
                ))
            }
        };
        if supported {
            Ok(())
        } else {
            Err(format!(
                "this CPU lacks the instructions of SIMD level {} (it has: {})",
                self.name(),
                Self::available()
                    .iter()
                    .map(|level| level.name())
                    .collect::<Vec<_>>()
                    .join(", ")
            ))
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
            .filter(|level| level.check().is_ok())
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
        SimdLevel::Neon => wavefront::align::<4>(scoring, query, target, band, scratch),
        _ => unreachable!("SIMD level {level} was not checked on this CPU"),
    }
}

#[cfg(target_arch = "x86_64")]
mod x86 {
    use super::*;

    #[target_feature(enable = "sse4.1")]
    pub(super) unsafe fn sse4(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        wavefront::align::<4>(scoring, query, target, band, scratch)
    }

    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn avx2(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        wavefront::align::<8>(scoring, query, target, band, scratch)
    }

    #[target_feature(enable = "avx512f,avx512bw")]
    pub(super) unsafe fn avx512(
        scoring: &Scoring,
        query: &[u8],
        target: &[u8],
        band: Diagonals,
        scratch: &mut Scratch,
    ) -> Alignment {
        wavefront::align::<16>(scoring, query, target, band, scratch)
    }
}
