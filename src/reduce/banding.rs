//! How wide a band each candidate alignment gets, and when it is widened.
//!
//! The band is centred on the diagonal most shared k-mers agree on. With adaptive banding the
//! first attempt uses a narrow band; it is widened (doubled, up to the maximum) only when the
//! alignment failed, its path ran into the band's edge (so a wider band could hold a better
//! path), and a better path could still reach the threshold. A fixed band uses one width. Every
//! choice depends only on the two sequences and the parameters, so results stay deterministic.

use crate::bio::alignment::{AlignOp, Alignment, Band};
use crate::config::AlignmentConfig;
use crate::reduce::decide::Seed;

/// The widest half-width the automatic rule gives: 1024 diagonals each side is 2 Mi cells per
/// 1,000 residues, far past where a candidate that shares enough k-mers drifts.
pub const AUTO_MAX_HALF_WIDTH: usize = 1024;

/// Band settings from `[alignment]`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BandPolicy {
    /// `use_banding = false`: align the whole matrix (subject to the cell cap).
    pub banded: bool,
    /// `adaptive_banding`: start at `min_half_width`, widen on demand up to the maximum.
    pub adaptive: bool,
    /// `band_width`: the half-width of a fixed band; 0 = the automatic rule.
    pub fixed_half_width: usize,
    /// `min_band_width`: the first half-width tried by adaptive banding.
    pub min_half_width: usize,
    /// `max_band_width`: the widest adaptive band; 0 = the automatic rule.
    pub max_half_width: usize,
}

impl Default for BandPolicy {
    /// The configuration's defaults (`[alignment]` in `config::Config::default`).
    fn default() -> Self {
        BandPolicy::from_config(&crate::config::Config::default().alignment)
    }
}

impl BandPolicy {
    pub fn from_config(a: &AlignmentConfig) -> BandPolicy {
        BandPolicy {
            banded: a.use_banding,
            adaptive: a.adaptive_banding,
            fixed_half_width: a.band_width,
            min_half_width: a.min_band_width,
            max_half_width: a.max_band_width,
        }
    }

    /// One line for the summary, e.g. `adaptive, half-width 16 up to automatic`.
    pub fn describe(&self) -> String {
        let width = |w: usize| {
            if w == 0 {
                "automatic ((1 - threshold) x shorter + 8)".to_string()
            } else {
                w.to_string()
            }
        };
        match (self.banded, self.adaptive) {
            (false, _) => "none (whole matrix)".into(),
            (true, true) => format!(
                "adaptive, half-width {} up to {}",
                self.min_half_width,
                width(self.max_half_width)
            ),
            (true, false) => format!("fixed, half-width {}", width(self.fixed_half_width)),
        }
    }

    /// The automatic half-width: the path may drift from the seed diagonal by the residues the
    /// threshold lets differ, plus slack; between 16 and [`AUTO_MAX_HALF_WIDTH`].
    pub fn auto_half_width(threshold: f64, shorter: usize) -> usize {
        (((1.0 - threshold) * shorter as f64).ceil() as usize + 8).clamp(16, AUTO_MAX_HALF_WIDTH)
    }

    /// The largest half-width this policy uses for a pair (the only one when not adaptive).
    pub fn widest(&self, threshold: f64, shorter: usize) -> usize {
        let auto = Self::auto_half_width(threshold, shorter);
        if self.adaptive {
            if self.max_half_width == 0 {
                auto.max(self.min_half_width)
            } else {
                self.max_half_width
            }
        } else if self.fixed_half_width == 0 {
            auto
        } else {
            self.fixed_half_width
        }
    }

    /// The first band to try: `None` for the whole matrix. A fixed band is centred on the best
    /// seed diagonal; an adaptive one spans every supported seed diagonal plus the minimum
    /// half-width on each side (at most the widest band, centred on the best diagonal).
    pub fn first(&self, threshold: f64, seed: Seed, shorter: usize) -> Option<Band> {
        if !self.banded {
            return None;
        }
        let widest = self.widest(threshold, shorter);
        if !self.adaptive {
            return Some(Band {
                diagonal: seed.best,
                half_width: widest,
            });
        }
        let span = (seed.high - seed.low) as usize;
        let half_width = span.div_ceil(2) + self.min_half_width;
        Some(if half_width >= widest {
            Band {
                diagonal: seed.best,
                half_width: widest,
            }
        } else {
            Band {
                diagonal: seed.low + (span / 2) as i64,
                half_width,
            }
        })
    }

    /// A band holding every band [`Self::first`] and [`Self::widen`] can give for this pair:
    /// widening keeps the first band's diagonal and stops at the widest half-width. `None` when
    /// the whole matrix is aligned. The LCS bound counts only matches inside it
    /// (`Decider::bound_and_seed`).
    pub fn envelope(&self, threshold: f64, seed: Seed, shorter: usize) -> Option<Band> {
        let first = self.first(threshold, seed, shorter)?;
        Some(Band {
            diagonal: first.diagonal,
            half_width: first.half_width.max(self.widest(threshold, shorter)),
        })
    }

    /// After a failed attempt in `band`: the wider band to try next, or `None` to give up.
    pub fn widen(
        &self,
        band: Band,
        aln: &Alignment,
        lens: (usize, usize),
        threshold: f64,
    ) -> Option<Band> {
        let shorter = lens.0.min(lens.1);
        let widest = self.widest(threshold, shorter);
        if !self.adaptive || band.half_width >= widest {
            return None;
        }
        if !touches_edge(band, aln, lens) || !could_reach(aln, shorter, threshold) {
            return None;
        }
        Some(Band {
            diagonal: band.diagonal,
            half_width: (band.half_width * 2).min(widest),
        })
    }
}

/// Whether the alignment path reaches a diagonal on the band's edge (an edge the matrix does not
/// clip away): only then can a wider band hold a different best path near this one.
pub fn touches_edge(band: Band, aln: &Alignment, (query_len, target_len): (usize, usize)) -> bool {
    let half = band.half_width as i64;
    let low = band.diagonal - half;
    let high = band.diagonal + half;
    let low_open = low > -(query_len as i64);
    let high_open = high < target_len as i64;
    let mut d = aln.target_start as i64 - aln.query_start as i64;
    let (mut min_d, mut max_d) = (d, d);
    for &(op, len) in &aln.ops {
        match op {
            AlignOp::Pair => {}
            AlignOp::Insert => d -= len as i64,
            AlignOp::Delete => d += len as i64,
        }
        min_d = min_d.min(d);
        max_d = max_d.max(d);
    }
    // An empty alignment (nothing scored above zero) says nothing about the band: widen.
    aln.ops.is_empty() || (low_open && min_d <= low) || (high_open && max_d >= high)
}

/// Whether some other path could still reach the threshold: the identical columns found so far,
/// plus every residue of the shorter sequence that this path leaves unpaired, must reach
/// `threshold × shorter`. (A heuristic bound, not a proof: it only decides whether to spend a
/// wider alignment, never whether a record joins.)
pub fn could_reach(aln: &Alignment, shorter: usize, threshold: f64) -> bool {
    let paired: usize = aln
        .ops
        .iter()
        .filter(|(op, _)| *op == AlignOp::Pair)
        .map(|&(_, len)| len as usize)
        .sum();
    let unpaired = shorter.saturating_sub(paired);
    (aln.identical + unpaired) as f64 + 1e-9 >= threshold * shorter as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn aln(query_start: usize, target_start: usize, ops: Vec<(AlignOp, u32)>) -> Alignment {
        Alignment {
            query_start,
            target_start,
            ops,
            ..Alignment::default()
        }
    }

    fn at(d: i64) -> Seed {
        Seed {
            best: d,
            low: d,
            high: d,
        }
    }

    #[test]
    fn adaptive_first_band_spans_the_seed_range() {
        let p = BandPolicy::default();
        // Seeds from diagonal -22 to 0 (a 22-residue insertion): centre -11, 11 + 16 each side.
        let seed = Seed {
            best: 0,
            low: -22,
            high: 0,
        };
        let band = p.first(0.9, seed, 600).unwrap();
        assert_eq!((band.diagonal, band.half_width), (-11, 27));
        // A range wider than the widest band: the widest band, on the best diagonal.
        let seed = Seed {
            best: 5,
            low: -500,
            high: 400,
        };
        let band = p.first(0.9, seed, 600).unwrap();
        assert_eq!((band.diagonal, band.half_width), (5, 68));
    }

    #[test]
    fn adaptive_starts_narrow_and_doubles_to_the_widest() {
        let p = BandPolicy::default();
        let first = p.first(0.9, at(3), 1000).unwrap();
        assert_eq!(first.half_width, 16);
        assert_eq!(first.diagonal, 3);
        // Path drifts to diagonal 3 + 16 (a 16-residue deletion): touches the high edge.
        let a = aln(
            0,
            3,
            vec![
                (AlignOp::Pair, 10),
                (AlignOp::Delete, 16),
                (AlignOp::Pair, 10),
            ],
        );
        let next = p.widen(first, &a, (1000, 1000), 0.9).unwrap();
        assert_eq!(next.half_width, 32);
        // The automatic widest for 1000 residues at 0.9 is 100 + 8.
        let last = Band {
            diagonal: 3,
            half_width: 108,
        };
        assert_eq!(p.widen(last, &a, (1000, 1000), 0.9), None);
        let wide = Band {
            diagonal: 3,
            half_width: 64,
        };
        let drift = aln(
            0,
            3,
            vec![
                (AlignOp::Pair, 10),
                (AlignOp::Delete, 64),
                (AlignOp::Pair, 10),
            ],
        );
        assert_eq!(p.widen(wide, &a, (1000, 1000), 0.9), None);
        assert_eq!(
            p.widen(wide, &drift, (1000, 1000), 0.9).unwrap().half_width,
            108
        );
    }

    /// Whatever the policy and the seed, the first band and every widening of it lie inside
    /// the envelope.
    #[test]
    fn every_band_tried_lies_inside_the_envelope() {
        let policies = [
            BandPolicy::default(),
            BandPolicy {
                min_half_width: 40,
                max_half_width: 20,
                ..BandPolicy::default()
            },
            BandPolicy {
                max_half_width: 300,
                ..BandPolicy::default()
            },
            BandPolicy {
                adaptive: false,
                fixed_half_width: 50,
                ..BandPolicy::default()
            },
            BandPolicy {
                adaptive: false,
                ..BandPolicy::default()
            },
        ];
        // A path that runs along both edges of any band, so every widening is taken.
        let drift = aln(
            0,
            0,
            vec![
                (AlignOp::Delete, 2000),
                (AlignOp::Insert, 4000),
                (AlignOp::Pair, 10),
            ],
        );
        for p in policies {
            for threshold in [0.5, 0.9] {
                for (best, low, high) in [(0, 0, 0), (3, -40, 12), (-7, -7, 500), (9, -800, 900)] {
                    let seed = Seed { best, low, high };
                    let envelope = p.envelope(threshold, seed, 2000).unwrap();
                    let inside = |b: Band| {
                        b.diagonal - b.half_width as i64
                            >= envelope.diagonal - envelope.half_width as i64
                            && b.diagonal + b.half_width as i64
                                <= envelope.diagonal + envelope.half_width as i64
                    };
                    let mut band = p.first(threshold, seed, 2000);
                    let mut tries = 0;
                    while let Some(b) = band {
                        assert!(inside(b), "{p:?} {seed:?} {b:?} outside {envelope:?}");
                        band = p.widen(b, &drift, (2000, 2000), threshold);
                        tries += 1;
                    }
                    assert!(tries >= 1);
                }
            }
        }
        let none = BandPolicy {
            banded: false,
            ..BandPolicy::default()
        };
        assert_eq!(none.envelope(0.5, at(0), 300), None);
    }

    #[test]
    fn no_widening_when_the_path_stays_inside() {
        let p = BandPolicy::default();
        let first = p.first(0.9, at(0), 1000).unwrap();
        let a = aln(
            0,
            0,
            vec![
                (AlignOp::Pair, 500),
                (AlignOp::Insert, 3),
                (AlignOp::Pair, 497),
            ],
        );
        assert!(!touches_edge(first, &a, (1000, 1000)));
        assert_eq!(p.widen(first, &a, (1000, 1000), 0.9), None);
    }

    #[test]
    fn clipped_edges_do_not_count() {
        // A band whose low edge lies outside the matrix: a path on it is not "at the edge".
        let band = Band {
            diagonal: -5,
            half_width: 16,
        };
        let a = aln(21, 0, vec![(AlignOp::Pair, 10)]);
        assert!(!touches_edge(band, &a, (20, 100)));
        let a = aln(0, 11, vec![(AlignOp::Pair, 10)]);
        assert!(touches_edge(band, &a, (20, 100)));
    }

    #[test]
    fn hopeless_alignments_are_not_widened() {
        // 1000 residues, 900 paired, 500 identical: even pairing the other 100 gives 0.6.
        let mut a = aln(0, 0, vec![(AlignOp::Pair, 900)]);
        a.identical = 500;
        assert!(!could_reach(&a, 1000, 0.9));
        a.identical = 800;
        assert!(could_reach(&a, 1000, 0.9));
    }

    #[test]
    fn fixed_and_unbanded_policies() {
        let fixed = BandPolicy {
            adaptive: false,
            fixed_half_width: 50,
            ..BandPolicy::default()
        };
        assert_eq!(fixed.first(0.9, at(0), 1000).unwrap().half_width, 50);
        let a = aln(0, 0, vec![]);
        assert_eq!(
            fixed.widen(
                fixed.first(0.9, at(0), 1000).unwrap(),
                &a,
                (1000, 1000),
                0.9
            ),
            None
        );
        let auto = BandPolicy {
            adaptive: false,
            ..BandPolicy::default()
        };
        assert_eq!(auto.first(0.9, at(0), 300).unwrap().half_width, 38);
        let none = BandPolicy {
            banded: false,
            ..BandPolicy::default()
        };
        assert_eq!(none.first(0.9, at(0), 300), None);
    }
}
