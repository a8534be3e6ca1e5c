//! Longest common subsequence length, bit-parallel: an exact upper bound on the identical columns
//! of *any* alignment of two sequences (every alignment's identical columns form a common
//! subsequence), used to skip alignments that cannot reach an identity threshold. Residues
//! compare equal ignoring ASCII case, as `Alignment::identical` counts them.
//!
//! Hyyrö's bit-vector recurrence: one machine word holds 64 target positions, so a pair costs
//! `query_len × ⌈target_len / 64⌉` word steps instead of the DP's band cells with traceback
//! (measured in the README's banding section). It must stay exact: a bound that is ever below the
//! real alignment's identical count would turn members into representatives.

/// The bit side of the recurrence for one sequence: per distinct (uppercased) byte, the mask of
/// the positions holding it. Building it is a pass over the sequence and a clear of
/// `distinct × words` words; a representative aligned against many records keeps one
/// (`reduce::rep_cache`) instead of rebuilding it per pair.
#[derive(Clone)]
pub struct LcsMasks {
    /// Uppercase byte -> row of `matches` (+1; 0 = the byte does not occur). At most 230
    /// distinct bytes remain once lowercase folds into uppercase, so a byte is enough.
    slot: [u8; 256],
    /// Per distinct byte, `words` masks of the positions holding it.
    matches: Vec<u64>,
    /// Rows used, in slot order (to clear `slot` cheaply on rebuild).
    used: Vec<u8>,
    words: usize,
    len: usize,
}

impl Default for LcsMasks {
    fn default() -> Self {
        LcsMasks {
            slot: [0; 256],
            matches: Vec::new(),
            used: Vec::new(),
            words: 0,
            len: 0,
        }
    }
}

impl LcsMasks {
    /// The masks of `target`.
    pub fn of(target: &[u8]) -> LcsMasks {
        let mut masks = LcsMasks::default();
        masks.build(target);
        // Kept (in a cache): no spare capacity.
        masks.matches.shrink_to_fit();
        masks.used.shrink_to_fit();
        masks
    }

    /// Rebuilds these masks for `target`, reusing the allocation.
    pub fn build(&mut self, target: &[u8]) {
        for &c in &self.used {
            self.slot[c as usize] = 0;
        }
        self.used.clear();
        self.matches.clear();
        self.len = target.len();
        self.words = target.len().div_ceil(64);
        let words = self.words;
        for (j, &c) in target.iter().enumerate() {
            let c = c.to_ascii_uppercase();
            if self.slot[c as usize] == 0 {
                self.used.push(c);
                self.slot[c as usize] = self.used.len() as u8;
                self.matches.resize(self.used.len() * words, 0);
            }
            let row = (self.slot[c as usize] as usize - 1) * words;
            self.matches[row + j / 64] |= 1 << (j % 64);
        }
    }

    /// Length of the sequence the masks describe.
    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Heap bytes held (plus the inline slot table), for cache accounting.
    pub fn heap_bytes(&self) -> usize {
        self.matches.capacity() * 8 + self.used.capacity() + std::mem::size_of::<LcsMasks>()
    }
}

/// Reusable scratch: create once per worker.
#[derive(Default)]
pub struct Lcs {
    /// Masks of the last target (the shorter sequence of a pair).
    masks: LcsMasks,
    /// The state vector: a zero bit per target position that ends a common subsequence step.
    v: Vec<u64>,
}

impl Lcs {
    pub fn new() -> Lcs {
        Lcs::default()
    }

    /// The LCS length of `a` and `b`, ignoring ASCII case, or a value that answers "below
    /// `need`?" and "at least `enough`?" the same way: it stops early, returning a value below
    /// `need`, once `need` can no longer be reached, and returning a value of at least `enough`
    /// (and at most the LCS) once the LCS is known to reach `enough`. A bound test needs no
    /// more: at 0.5 most pairs the bound lets through reach their count well before the last
    /// row.
    pub fn length_up_to(&mut self, a: &[u8], b: &[u8], need: usize, enough: usize) -> usize {
        self.length_up_to_in_band(a, b, need, enough, None)
    }

    /// The LCS length of `query` and the sequence `masks` were built from, with the same
    /// early stops as [`Lcs::length_up_to`]. The LCS is symmetric, so this is the same length
    /// whichever of the two is longer; an early stop answers the same way either way.
    pub fn length_against(
        &mut self,
        query: &[u8],
        masks: &LcsMasks,
        need: usize,
        enough: usize,
    ) -> usize {
        self.length_against_in_band(query, masks, need, enough, None)
    }

    /// The exact LCS length of `a` and `b`, ignoring ASCII case.
    pub fn length(&mut self, a: &[u8], b: &[u8]) -> usize {
        self.length_up_to(a, b, 0, usize::MAX)
    }

    /// [`Lcs::length_up_to`] counting only the matches `(i, j)` of `a[i]` and `b[j]` with
    /// `j - i` in `band` (`None`: every match): a bound on the identical columns of any
    /// alignment inside that band of diagonals, at most the plain LCS and far below it for
    /// unrelated sequences.
    pub fn length_up_to_in_band(
        &mut self,
        a: &[u8],
        b: &[u8],
        need: usize,
        enough: usize,
        band: Option<DiagonalRange>,
    ) -> usize {
        // Bits over the shorter sequence: fewer words per step.
        if a.len() >= b.len() {
            self.masks.build(b);
            run(a, &self.masks, need, enough, band, &mut self.v)
        } else {
            // Bits over `a`: its positions are the columns, so the diagonals change sign.
            self.masks.build(a);
            let flipped = band.map(|band| DiagonalRange {
                low: -band.high,
                high: -band.low,
            });
            run(b, &self.masks, need, enough, flipped, &mut self.v)
        }
    }

    /// [`Lcs::length_against`] counting only the matches `(i, j)` of `query[i]` and position
    /// `j` of the masks' sequence with `j - i` in `band` (`None`: every match).
    pub fn length_against_in_band(
        &mut self,
        query: &[u8],
        masks: &LcsMasks,
        need: usize,
        enough: usize,
        band: Option<DiagonalRange>,
    ) -> usize {
        run(query, masks, need, enough, band, &mut self.v)
    }
}

/// Diagonals `low..=high`, a diagonal being a position of the second sequence minus one of the
/// first (the aligner's target minus query).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DiagonalRange {
    pub low: i64,
    pub high: i64,
}

/// Hyyrö's recurrence: one row per query residue over the target's masks. The zero bits of `v`
/// after a row count the LCS of the target and the query so far, which only grows row by row.
///
/// With `band` (diagonals `j - i`, `j` a target position, `i` a query position), row `i` keeps
/// only the match bits of columns `i + low ..= i + high` and updates only the words holding
/// them. That is the same recurrence on masked match bits, not an approximation: a word left of
/// the band sees no match and no carry (the words before it have none to give), so it cannot
/// change; a word right of the band has never held a match (the band only moves right), so it
/// is still all ones, and a carry passes through all ones leaving them as they were.
fn run(
    query: &[u8],
    masks: &LcsMasks,
    need: usize,
    enough: usize,
    band: Option<DiagonalRange>,
    v: &mut Vec<u64>,
) -> usize {
    let (m, words) = (masks.len, masks.words);
    if m == 0 {
        return 0;
    }
    // No band: one that holds every column of every row.
    let band = band.unwrap_or(DiagonalRange {
        low: -(query.len() as i64),
        high: m as i64,
    });
    v.clear();
    v.resize(words, !0);
    let last_bits = m - (words - 1) * 64;
    let last_mask = if last_bits == 64 {
        !0
    } else {
        (1u64 << last_bits) - 1
    };
    let lcs_of = |v: &[u64]| -> usize {
        let ones: usize = v[..words - 1]
            .iter()
            .map(|w| w.count_ones() as usize)
            .sum::<usize>()
            + (v[words - 1] & last_mask).count_ones() as usize;
        m - ones
    };
    for (i, &c) in query.iter().enumerate() {
        let s = masks.slot[c.to_ascii_uppercase() as usize];
        if s != 0 {
            let row = &masks.matches[(s as usize - 1) * words..s as usize * words];
            let first = i as i64 + band.low;
            let last = (i as i64 + band.high).min(m as i64 - 1);
            if first > m as i64 - 1 {
                // The band has left the matrix: no row below can match.
                break;
            }
            if last >= 0 {
                let (first, last) = (first.max(0) as usize, last as usize);
                let (w0, w1) = (first / 64, last / 64);
                let keep = (!0u64 << (first % 64), !0u64 >> (63 - last % 64));
                step(&mut v[w0..=w1], &row[w0..=w1], keep);
            }
        }
        // Every 32 rows: give up once even matching every remaining query residue fails, and
        // stop once the count is reached (the rows left can only add to it).
        if i % 32 == 31 {
            let so_far = lcs_of(v);
            if so_far + (query.len() - i - 1) < need || so_far >= enough {
                return so_far;
            }
        }
    }
    lcs_of(v)
}

/// One row of the recurrence over `v` with match bits `row`, the match bits of the first word
/// masked by `keep.0` and those of the last by `keep.1` (the band's edges).
#[inline(always)]
fn step(v: &mut [u64], row: &[u64], keep: (u64, u64)) {
    let last = v.len() - 1;
    let mut carry = 0u64;
    for (w, (v, &pm)) in v.iter_mut().zip(row).enumerate() {
        let mut pm = pm;
        if w == 0 {
            pm &= keep.0;
        }
        if w == last {
            pm &= keep.1;
        }
        let u = *v & pm;
        let (sum, c1) = v.overflowing_add(u);
        let (sum, c2) = sum.overflowing_add(carry);
        carry = (c1 | c2) as u64;
        *v = sum | (*v & !pm);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Textbook O(nm) LCS, the reference.
    fn reference(a: &[u8], b: &[u8]) -> usize {
        let mut prev = vec![0usize; b.len() + 1];
        for &x in a {
            let mut cur = vec![0usize; b.len() + 1];
            for (j, &y) in b.iter().enumerate() {
                cur[j + 1] = if x.eq_ignore_ascii_case(&y) {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
            prev = cur;
        }
        prev[b.len()]
    }

    /// The textbook LCS counting only matches `a[i] = b[j]` with `j - i` in `band`.
    fn reference_in_band(a: &[u8], b: &[u8], band: DiagonalRange) -> usize {
        let mut prev = vec![0usize; b.len() + 1];
        for (i, &x) in a.iter().enumerate() {
            let mut cur = vec![0usize; b.len() + 1];
            for (j, &y) in b.iter().enumerate() {
                let d = j as i64 - i as i64;
                let matched = (band.low..=band.high).contains(&d) && x.eq_ignore_ascii_case(&y);
                cur[j + 1] = if matched {
                    prev[j] + 1
                } else {
                    prev[j + 1].max(cur[j])
                };
            }
            prev = cur;
        }
        prev[b.len()]
    }

    /// Deterministic pseudo-random sequences (xorshift) over `alphabet`.
    fn random_seq(state: &mut u64, len: usize, alphabet: &[u8]) -> Vec<u8> {
        (0..len)
            .map(|_| {
                *state ^= *state << 13;
                *state ^= *state >> 7;
                *state ^= *state << 17;
                alphabet[(*state % alphabet.len() as u64) as usize]
            })
            .collect()
    }

    #[test]
    fn matches_the_reference_across_word_boundaries_and_cases() {
        let mut state = 0x9e3779b97f4a7c15;
        let mut lcs = Lcs::new();
        for (alphabet, lens) in [
            (&b"ACGTacgt"[..], [0usize, 1, 5, 63, 64, 65, 130, 200]),
            (
                &b"ACDEFGHIKLMNPQRSTVWYx*-"[..],
                [1, 2, 31, 64, 100, 128, 129, 300],
            ),
        ] {
            for &n in &lens {
                for &m in &lens {
                    let a = random_seq(&mut state, n, alphabet);
                    let b = random_seq(&mut state, m, alphabet);
                    assert_eq!(lcs.length(&a, &b), reference(&a, &b), "{n}x{m}");
                }
            }
        }
    }

    #[test]
    fn kept_masks_give_the_same_length_either_way_round() {
        let mut state = 0x51;
        let mut lcs = Lcs::new();
        for (n, m) in [
            (0usize, 10usize),
            (10, 0),
            (64, 65),
            (300, 120),
            (120, 300),
            (700, 690),
        ] {
            let a = random_seq(&mut state, n, b"ACDEFGHIKLMNPQRSTVWYacd");
            let b = random_seq(&mut state, m, b"ACDEFGHIKLMNPQRSTVWYacd");
            let exact = reference(&a, &b);
            // Masks of either side, the other as the query.
            assert_eq!(
                lcs.length_against(&a, &LcsMasks::of(&b), 0, usize::MAX),
                exact,
                "{n}x{m}"
            );
            assert_eq!(
                lcs.length_against(&b, &LcsMasks::of(&a), 0, usize::MAX),
                exact,
                "{m}x{n}"
            );
            // A rebuilt (reused) mask set forgets the previous sequence.
            let mut reused = LcsMasks::of(&a);
            reused.build(&b);
            assert_eq!(lcs.length_against(&a, &reused, 0, usize::MAX), exact);
            // An early stop stays below `need` whichever side holds the bits.
            for need in [exact, exact + 1, exact + 40] {
                let x = lcs.length_against(&a, &LcsMasks::of(&b), need, usize::MAX);
                let y = lcs.length_up_to(&a, &b, need, usize::MAX);
                assert_eq!(x >= need, y >= need, "{n}x{m} need {need}");
                assert!(x <= exact && y <= exact);
            }
            // A stop at `enough` reaches it exactly when the LCS does, and never overstates.
            for enough in [0, 1, exact / 2, exact, exact + 1, exact + 40] {
                let x = lcs.length_against(&a, &LcsMasks::of(&b), 0, enough);
                let y = lcs.length_up_to(&a, &b, 0, enough);
                assert_eq!(x >= enough, exact >= enough, "{n}x{m} enough {enough}");
                assert_eq!(y >= enough, exact >= enough, "{n}x{m} enough {enough}");
                assert!(x <= exact && y <= exact);
                if exact < enough {
                    assert_eq!((x, y), (exact, exact));
                }
            }
        }
    }

    #[test]
    fn related_sequences_and_early_stop() {
        let mut state = 7;
        let mut lcs = Lcs::new();
        let a = random_seq(&mut state, 500, b"ACDEFGHIKLMNPQRSTVWY");
        let mut b = a.clone();
        for i in (0..500).step_by(10) {
            b[i] = b'W';
        }
        b.drain(200..205);
        let exact = reference(&a, &b);
        assert_eq!(lcs.length(&a, &b), exact);
        // Early stop never overstates: below `need` when it gives up, exact otherwise.
        assert_eq!(lcs.length_up_to(&a, &b, exact, usize::MAX), exact);
        assert!(lcs.length_up_to(&a, &b, exact + 1, usize::MAX) <= exact);
        let unrelated = random_seq(&mut state, 500, b"ACDEFGHIKLMNPQRSTVWY");
        assert!(lcs.length_up_to(&a, &unrelated, 450, usize::MAX) < 450);
        // Related sequences reach half their length long before the last row.
        let half = lcs.length_up_to(&a, &b, 0, 250);
        assert!((250..=exact).contains(&half), "{half}");
    }

    /// Banded lengths equal the banded reference for bands inside, across and outside the
    /// matrix, on either side holding the bits, with and without kept masks; early stops answer
    /// "below need" and "reached enough" as the exact value does.
    #[test]
    fn banded_matches_the_banded_reference() {
        let mut state = 0x1234_5678;
        let mut lcs = Lcs::new();
        let alphabet = b"ACDEFGHIKLMNPQRSTVWYacdef";
        for (n, m) in [
            (1usize, 1usize),
            (5, 70),
            (70, 5),
            (64, 64),
            (65, 130),
            (130, 65),
            (200, 197),
            (300, 80),
            (80, 300),
        ] {
            let a = random_seq(&mut state, n, alphabet);
            // Half the pairs related, so the band matters.
            let b = if n == m || m % 2 == 0 {
                let mut b = random_seq(&mut state, m, alphabet);
                for (j, x) in b.iter_mut().enumerate() {
                    if j < n && j % 4 != 0 {
                        *x = a[j];
                    }
                }
                b
            } else {
                random_seq(&mut state, m, alphabet)
            };
            let (n, m) = (n as i64, m as i64);
            let bands = [
                (0, 0),
                (-3, 3),
                (-16, 16),
                (-70, 2),
                (5, 40),
                (-n - 5, m + 5),
                (-n, -n),
                (m - 1, m + 50),
                (m, m + 10),
                (-n - 20, -n),
                (-200, -64),
                (63, 65),
            ];
            for (low, high) in bands {
                let band = DiagonalRange { low, high };
                let exact = reference_in_band(&a, &b, band);
                let flipped = DiagonalRange {
                    low: -high,
                    high: -low,
                };
                assert_eq!(exact, reference_in_band(&b, &a, flipped));
                let what = format!("{n}x{m} band {low}..={high}");
                let masks_a = LcsMasks::of(&a);
                let masks_b = LcsMasks::of(&b);
                // Either way round, with built and with kept masks.
                let lengths = [
                    lcs.length_up_to_in_band(&a, &b, 0, usize::MAX, Some(band)),
                    lcs.length_up_to_in_band(&b, &a, 0, usize::MAX, Some(flipped)),
                    lcs.length_against_in_band(&a, &masks_b, 0, usize::MAX, Some(band)),
                    lcs.length_against_in_band(&b, &masks_a, 0, usize::MAX, Some(flipped)),
                ];
                assert_eq!(lengths, [exact; 4], "{what}");
                assert!(exact <= reference(&a, &b));
                for need in [exact, exact + 1, exact + 30] {
                    let x = lcs.length_up_to_in_band(&a, &b, need, usize::MAX, Some(band));
                    let y =
                        lcs.length_against_in_band(&b, &masks_a, need, usize::MAX, Some(flipped));
                    assert_eq!(x >= need, exact >= need, "{what} need {need}");
                    assert_eq!(y >= need, exact >= need, "{what} need {need}");
                    assert!(x <= exact && y <= exact);
                }
                for enough in [1, exact / 2, exact, exact + 1] {
                    let x = lcs.length_up_to_in_band(&a, &b, 0, enough, Some(band));
                    assert_eq!(x >= enough, exact >= enough, "{what} enough {enough}");
                    assert!(x <= exact);
                }
            }
        }
    }

    /// A banded alignment's identical columns never exceed the banded LCS of a band holding it.
    #[test]
    fn banded_bound_holds_for_banded_alignments() {
        let aligner = crate::bio::alignment::Aligner::new();
        let mut lcs = Lcs::new();
        let mut state = 4242;
        for round in 0..40usize {
            let a = random_seq(&mut state, 60 + round * 9, b"ACDEFGHIKLMNPQRSTVWY");
            let mut b = random_seq(&mut state, 20, b"ACDEFGHIKLMNPQRSTVWY");
            b.extend_from_slice(&a[round % 7..]);
            for i in (round % 3..b.len()).step_by(4 + round % 3) {
                b[i] = b"acdefghiklmnpqrstvwy"[(i * 7 + round) % 20];
            }
            let diagonal = 20 - (round % 7) as i64 + (round % 5) as i64 - 2;
            let half_width = 4 + round % 20;
            let band = crate::bio::alignment::Band {
                diagonal,
                half_width,
            };
            let Some(aln) = aligner.align_banded(&a, &b, band) else {
                continue;
            };
            let range = DiagonalRange {
                low: diagonal - half_width as i64,
                high: diagonal + half_width as i64,
            };
            let bound = lcs.length_up_to_in_band(&a, &b, 0, usize::MAX, Some(range));
            assert!(
                bound >= aln.identical,
                "round {round}: {bound} < {}",
                aln.identical
            );
        }
    }

    #[test]
    fn bounds_the_identical_columns_of_real_alignments() {
        let aligner = crate::bio::alignment::Aligner::new();
        let mut lcs = Lcs::new();
        let mut state = 99;
        for round in 0..40 {
            let a = random_seq(&mut state, 50 + round * 7, b"ACDEFGHIKLMNPQRSTVWY");
            let mut b = a.clone();
            for i in (round % 5..b.len()).step_by(3 + round % 4) {
                b[i] = b"acdefghiklmnpqrstvwy"[(i + round) % 20];
            }
            let aln = aligner.align(&a, &b).unwrap();
            assert!(lcs.length(&a, &b) >= aln.identical, "round {round}");
        }
    }
}
