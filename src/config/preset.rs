//! Workload presets: `performance.profile_preset` (`--profile-preset`) and the two sections it
//! selects, `[performance.high_similarity]` and `[performance.low_similarity]` (README,
//! "Workload presets").
//!
//! Each key of a section is a switch for one tweak. Selecting a preset turns on every switch of
//! its section that no source set explicitly; a switch can also be set on its own without a
//! preset. Some tweaks act directly on the decision code (`fast_exact_match`, `use_diff_encoding`,
//! `delta_compression`); the others set ordinary keys (`use_approximate_matching` sets
//! `alignment.use_sketching`, ...) — but only keys still at their default: an explicit setting
//! always beats a preset, and `config show` names the preset as the source of what it set.

use super::keys::{self, Field, Value};
use super::{Origin, Resolved, Source};
use serde::Serialize;

/// `performance.profile_preset`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProfilePreset {
    None,
    /// Databases whose families are > 95% identical (strain collections, UniRef100-like sets).
    HighSimilarity,
    /// Runs at thresholds below ~70%, where most candidates fail their alignment.
    LowSimilarity,
}

impl ProfilePreset {
    pub const ALL: [ProfilePreset; 3] = [
        ProfilePreset::None,
        ProfilePreset::HighSimilarity,
        ProfilePreset::LowSimilarity,
    ];
    pub fn name(self) -> &'static str {
        match self {
            ProfilePreset::None => "none",
            ProfilePreset::HighSimilarity => "high_similarity",
            ProfilePreset::LowSimilarity => "low_similarity",
        }
    }
    /// The section name or the same with hyphens (`high-similarity`), any case.
    pub fn parse(text: &str) -> Option<ProfilePreset> {
        let text = text.trim().replace('-', "_");
        Self::ALL
            .into_iter()
            .find(|p| p.name().eq_ignore_ascii_case(&text))
    }
    /// The switches of this preset's section.
    fn switches(self) -> &'static [Field] {
        match self {
            ProfilePreset::None => &[],
            ProfilePreset::HighSimilarity => &HIGH_SIMILARITY,
            ProfilePreset::LowSimilarity => &LOW_SIMILARITY,
        }
    }
}

const HIGH_SIMILARITY: [Field; 4] = [
    Field::UseDiffEncoding,
    Field::ReferenceCaching,
    Field::DeltaCompression,
    Field::FastExactMatch,
];
const LOW_SIMILARITY: [Field; 4] = [
    Field::UseApproximateMatching,
    Field::IncreaseBandWidth,
    Field::ReduceCacheSize,
    Field::AggressiveFiltering,
];

/// `[performance.high_similarity]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct HighSimilarityConfig {
    /// Before any DP, try the ungapped diff along the seed diagonal: when it already reaches the
    /// identity and coverage thresholds, that alignment backs the join and the member is encoded
    /// as substitutions (plus overhangs) against it.
    pub use_diff_encoding: bool,
    /// Turns on the reference cache (`performance.cache_alignments = true`).
    pub reference_caching: bool,
    /// The deltas file's zstd frames at level [`DELTA_COMPRESSION_LEVEL`] instead of 3.
    pub delta_compression: bool,
    /// Before any DP, a member that is an exact substring of a candidate at the seed diagonal
    /// (or contains it) joins with one copy op: no LCS, no alignment matrix.
    pub fast_exact_match: bool,
}

/// `[performance.low_similarity]`.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct LowSimilarityConfig {
    /// Candidates from a k-mer sketch (`alignment.use_sketching = true`).
    pub use_approximate_matching: bool,
    /// Adaptive banding starts [`BAND_FACTOR`] times wider (`alignment.min_band_width`).
    pub increase_band_width: bool,
    /// A quarter of `performance.cache_size_mb` (at least 1).
    pub reduce_cache_size: bool,
    /// At most [`AGGRESSIVE_MAX_CANDIDATES`] candidates (`reduce.max_candidates`), each sharing
    /// at least [`AGGRESSIVE_MIN_SHARED`] k-mers (`alignment.min_shared_kmers`).
    pub aggressive_filtering: bool,
}

/// zstd level of `delta_compression`: 20k UniProt's deltas file (README, "Workload presets").
pub const DELTA_COMPRESSION_LEVEL: i32 = 12;
/// `increase_band_width` multiplies `alignment.min_band_width` by this.
pub const BAND_FACTOR: usize = 4;
pub const AGGRESSIVE_MAX_CANDIDATES: usize = 8;
pub const AGGRESSIVE_MIN_SHARED: usize = 2;

impl Resolved {
    /// Turns on the selected preset's switches that no source set, then applies the switches
    /// that act through other keys to those keys still at their default.
    pub(super) fn apply_preset(&mut self) {
        let preset = self.config.performance.profile_preset;
        let preset_key = keys::canonical(Field::ProfilePreset).name;
        for &field in preset.switches() {
            if self.origins[field as usize].source == Source::Default {
                self.config.set(field, Value::Bool(true));
                self.origins[field as usize] = Origin {
                    source: Source::Preset,
                    name: format!("{preset_key} = \"{}\"", preset.name()),
                    key: keys::canonical(field).name,
                };
            }
        }
        let high = self.config.performance.high_similarity.clone();
        let low = self.config.performance.low_similarity.clone();
        let a = &self.config.alignment;
        let p = &self.config.performance;
        let mut derived: Vec<(Field, Field, Value)> = Vec::new();
        if high.reference_caching {
            derived.push((
                Field::ReferenceCaching,
                Field::CacheAlignments,
                Value::Bool(true),
            ));
        }
        if low.reduce_cache_size {
            derived.push((
                Field::ReduceCacheSize,
                Field::CacheSizeMb,
                Value::Count((p.cache_size_mb / 4).max(1)),
            ));
        }
        if low.use_approximate_matching {
            derived.push((
                Field::UseApproximateMatching,
                Field::UseSketching,
                Value::Switch(super::Switch::On),
            ));
        }
        if low.increase_band_width {
            let mut wider = a.min_band_width.saturating_mul(BAND_FACTOR);
            if a.max_band_width != 0 {
                wider = wider.min(a.max_band_width);
            }
            derived.push((
                Field::IncreaseBandWidth,
                Field::MinBandWidth,
                Value::Count(wider as u64),
            ));
        }
        if low.aggressive_filtering {
            let r = &self.config.reduce;
            derived.push((
                Field::AggressiveFiltering,
                Field::MaxCandidates,
                Value::Count(match r.max_candidates {
                    0 => AGGRESSIVE_MAX_CANDIDATES,
                    n => n.min(AGGRESSIVE_MAX_CANDIDATES),
                } as u64),
            ));
            derived.push((
                Field::AggressiveFiltering,
                Field::MinSharedKmers,
                Value::Count(a.min_shared_kmers.max(AGGRESSIVE_MIN_SHARED) as u64),
            ));
        }
        for (switch, field, value) in derived {
            if self.origins[field as usize].source == Source::Default {
                self.config.set(field, value);
                self.origins[field as usize] = Origin {
                    source: Source::Preset,
                    name: keys::canonical(switch).name.to_string(),
                    key: keys::canonical(field).name,
                };
            }
        }
    }
}
