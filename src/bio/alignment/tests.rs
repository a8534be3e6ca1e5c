//! Unit tests of the aligner: hand-checked cases, band behaviour, and path invariants on random
//! related pairs (an independent full-matrix checker lives in tests/alignment_independent.rs).

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PROTEIN: &[u8] = b"ACDEFGHIKLMNPQRSTVWY";
const DNA: &[u8] = b"ACGT";

/// Check every documented property of `aln` for `query` against `target`, including that its
/// score is exactly the score of its path.
fn check(aligner: &Aligner, query: &[u8], target: &[u8], aln: &Alignment) {
    assert!(aln.query_start <= aln.query_end && aln.query_end <= query.len());
    assert!(aln.target_start <= aln.target_end && aln.target_end <= target.len());
    // Overlap alignment: starts on the first row or column, ends on the last row or column.
    if !aln.ops.is_empty() {
        assert!(aln.query_start == 0 || aln.target_start == 0, "{aln:?}");
        assert!(
            aln.query_end == query.len() || aln.target_end == target.len(),
            "{aln:?}"
        );
    }
    let scoring = aligner.scoring();
    let (mut i, mut j) = (aln.query_start, aln.target_start);
    let (mut score, mut identical) = (0i64, 0usize);
    let mut previous: Option<AlignOp> = None;
    for &(op, len) in &aln.ops {
        assert!(len > 0);
        assert_ne!(
            previous,
            Some(op),
            "adjacent runs of the same op: {:?}",
            aln.ops
        );
        previous = Some(op);
        let len = len as usize;
        match op {
            AlignOp::Pair => {
                for k in 0..len {
                    let (a, b) = (query[i + k], target[j + k]);
                    score += scoring.score(a, b) as i64;
                    identical += a.eq_ignore_ascii_case(&b) as usize;
                }
                i += len;
                j += len;
            }
            AlignOp::Insert => {
                score -= scoring.gap_cost(len);
                i += len;
            }
            AlignOp::Delete => {
                score -= scoring.gap_cost(len);
                j += len;
            }
        }
    }
    assert_eq!((i, j), (aln.query_end, aln.target_end), "{aln:?}");
    assert_eq!(identical, aln.identical);
    assert_eq!(score, aln.score as i64, "{aln:?}");
}

fn align_checked(aligner: &Aligner, query: &[u8], target: &[u8]) -> Alignment {
    let aln = aligner.align(query, target).expect("under the cell cap");
    check(aligner, query, target, &aln);
    aln
}

fn diagonal_score(aligner: &Aligner, a: &[u8], b: &[u8]) -> i32 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| aligner.scoring().score(x, y))
        .sum()
}

const SEQ: &[u8] = b"MKTAYIAKQRQISFVKSHFSRQLEERLGLIEVQ";

#[test]
fn identical_sequences_align_end_to_end() {
    let aligner = Aligner::new();
    let aln = align_checked(&aligner, SEQ, SEQ);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, SEQ.len() as u32)]);
    assert_eq!((aln.query_start, aln.query_end), (0, SEQ.len()));
    assert_eq!((aln.target_start, aln.target_end), (0, SEQ.len()));
    assert_eq!(aln.identical, SEQ.len());
    assert_eq!(aln.score, diagonal_score(&aligner, SEQ, SEQ));
    assert_eq!(aln.identity(SEQ.len(), SEQ.len()), 1.0);
}

#[test]
fn case_is_ignored_for_identity_and_score() {
    let aligner = Aligner::new();
    let lower = SEQ.to_ascii_lowercase();
    let aln = align_checked(&aligner, &lower, SEQ);
    assert_eq!(aln.identical, SEQ.len());
    assert_eq!(aln.score, diagonal_score(&aligner, SEQ, SEQ));
}

#[test]
fn one_substitution() {
    let aligner = Aligner::new();
    let mut member = SEQ.to_vec();
    member[15] = b'W'; // K -> W
    let aln = align_checked(&aligner, &member, SEQ);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, SEQ.len() as u32)]);
    assert_eq!(aln.identical, SEQ.len() - 1);
    assert_eq!(aln.score, diagonal_score(&aligner, &member, SEQ));
}

#[test]
fn one_insertion_in_the_query() {
    let aligner = Aligner::new();
    let mut member = SEQ.to_vec();
    member.insert(16, b'W');
    let aln = align_checked(&aligner, &member, SEQ);
    assert_eq!(
        aln.ops,
        vec![
            (AlignOp::Pair, 16),
            (AlignOp::Insert, 1),
            (AlignOp::Pair, SEQ.len() as u32 - 16)
        ]
    );
    assert_eq!(aln.identical, SEQ.len());
    assert_eq!(
        aln.score,
        diagonal_score(&aligner, SEQ, SEQ) - 12,
        "gap of one costs open 11 + extend 1"
    );
}

#[test]
fn one_deletion_from_the_query() {
    let aligner = Aligner::new();
    let mut member = SEQ.to_vec();
    member.remove(16);
    let aln = align_checked(&aligner, &member, SEQ);
    assert_eq!(
        aln.ops,
        vec![
            (AlignOp::Pair, 16),
            (AlignOp::Delete, 1),
            (AlignOp::Pair, SEQ.len() as u32 - 17)
        ]
    );
    assert_eq!(aln.identical, SEQ.len() - 1);
}

#[test]
fn longer_gap_costs_open_plus_length() {
    let aligner = Aligner::new();
    let mut member = SEQ.to_vec();
    member.splice(16..16, b"WWW".iter().copied());
    let aln = align_checked(&aligner, &member, SEQ);
    assert_eq!(aln.ops[1], (AlignOp::Insert, 3));
    assert_eq!(aln.score, diagonal_score(&aligner, SEQ, SEQ) - 14);
}

#[test]
fn member_that_is_a_substring_of_the_target() {
    let aligner = Aligner::new();
    let member = &SEQ[7..25];
    let aln = align_checked(&aligner, member, SEQ);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, member.len() as u32)]);
    assert_eq!((aln.query_start, aln.query_end), (0, member.len()));
    assert_eq!((aln.target_start, aln.target_end), (7, 25));
    assert_eq!(aln.identical, member.len());
    assert_eq!(aln.identity(member.len(), SEQ.len()), 1.0);
    assert_eq!(aln.query_coverage(member.len()), 1.0);
}

#[test]
fn reversed_roles_target_inside_query() {
    let aligner = Aligner::new();
    let inner = &SEQ[7..25];
    let aln = align_checked(&aligner, SEQ, inner);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, inner.len() as u32)]);
    assert_eq!((aln.query_start, aln.query_end), (7, 25));
    assert_eq!((aln.target_start, aln.target_end), (0, inner.len()));
    assert_eq!(aln.identical, inner.len());
}

#[test]
fn overlapping_ends_are_free() {
    // Query's suffix overlaps target's prefix: a dovetail, no gap charged for the overhangs.
    let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
    let query = b"TTTTTTACGTACGGATC";
    let target = b"ACGTACGGATCAAAAAA";
    let aln = align_checked(&aligner, query, target);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, 11)]);
    assert_eq!((aln.query_start, aln.query_end), (6, 17));
    assert_eq!((aln.target_start, aln.target_end), (0, 11));
    assert_eq!(aln.score, 22);
}

#[test]
fn ties_pick_the_first_end_cell() {
    // Equal scores end at (1, 1) rather than (1, 2) or (2, 1): first in (i, j) order.
    let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
    let aln = align_checked(&aligner, b"A", b"AA");
    assert_eq!((aln.target_start, aln.target_end), (0, 1));
    let aln = align_checked(&aligner, b"AA", b"A");
    assert_eq!((aln.query_start, aln.query_end), (0, 1));
    // Pair is preferred over a gap of equal score, and results never depend on call order.
    assert_eq!(aligner.align(b"AA", b"A"), aligner.align(b"AA", b"A"));
}

#[test]
fn nucleotide_scoring() {
    let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
    let aln = align_checked(&aligner, b"ACGTACGTAC", b"ACGTACGTAC");
    assert_eq!(aln.score, 20);
    let aln = align_checked(&aligner, b"ACGTANGTAC", b"ACGTACGTAC");
    assert_eq!(aln.score, 18 - 1);
    assert_eq!(aln.identical, 9);
}

#[test]
fn unrelated_sequences_give_the_empty_corner_alignment() {
    let aligner = Aligner::for_alphabet(Alphabet::Nucleotide);
    let aln = align_checked(&aligner, b"AAAAAAAA", b"CCCCCCCC");
    assert_eq!(aln.score, 0);
    assert!(aln.ops.is_empty());
    assert_eq!((aln.query_start, aln.query_end), (0, 0));
    assert_eq!((aln.target_start, aln.target_end), (8, 8));
}

#[test]
fn empty_inputs() {
    let aligner = Aligner::new();
    assert_eq!(aligner.align(b"", SEQ), Some(Alignment::default()));
    assert_eq!(aligner.align(SEQ, b""), Some(Alignment::default()));
    assert_eq!(aligner.align(b"", b""), Some(Alignment::default()));
    let band = Band {
        diagonal: 0,
        half_width: 3,
    };
    assert_eq!(
        aligner.align_banded(b"", SEQ, band),
        Some(Alignment::default())
    );
}

#[test]
fn band_outside_the_matrix_gives_the_empty_alignment() {
    let aligner = Aligner::new();
    let band = Band {
        diagonal: 1000,
        half_width: 3,
    };
    assert_eq!(
        aligner.align_banded(SEQ, SEQ, band),
        Some(Alignment::default())
    );
    let band = Band {
        diagonal: -1000,
        half_width: 3,
    };
    assert_eq!(
        aligner.align_banded(SEQ, SEQ, band),
        Some(Alignment::default())
    );
    // Extreme values must not overflow.
    let band = Band {
        diagonal: 0,
        half_width: usize::MAX,
    };
    assert_eq!(
        aligner.align_banded(SEQ, SEQ, band),
        aligner.align(SEQ, SEQ)
    );
    for diagonal in [i64::MIN, i64::MAX] {
        let band = Band {
            diagonal,
            half_width: 5,
        };
        assert_eq!(
            aligner.align_banded(SEQ, SEQ, band),
            Some(Alignment::default())
        );
    }
}

#[test]
fn band_restricts_the_result() {
    let aligner = Aligner::new();
    // The member sits at offset 10 of the target: diagonal j - i = 10.
    let member = &SEQ[10..30];
    let on = Band {
        diagonal: 10,
        half_width: 2,
    };
    let aln = aligner.align_banded(member, SEQ, on).unwrap();
    check(&aligner, member, SEQ, &aln);
    assert_eq!(aln.ops, vec![(AlignOp::Pair, 20)]);
    assert_eq!(aln.target_start, 10);

    let off = Band {
        diagonal: 0,
        half_width: 4,
    };
    let aln = aligner.align_banded(member, SEQ, off).unwrap();
    check(&aligner, member, SEQ, &aln);
    assert!(aln.identical < member.len());
    let (mut i, mut j) = (aln.query_start as i64, aln.target_start as i64);
    for &(op, len) in &aln.ops {
        for _ in 0..len {
            match op {
                AlignOp::Pair => (i, j) = (i + 1, j + 1),
                AlignOp::Insert => i += 1,
                AlignOp::Delete => j += 1,
            }
            assert!((j - i).abs() <= 4, "path left the band: {aln:?}");
        }
    }
}

#[test]
fn cell_cap() {
    let a = vec![b'A'; 1000];
    let aligner = Aligner::new().with_max_cells(999_999);
    assert_eq!(aligner.align(&a, &a), None);
    let aligner = Aligner::new().with_max_cells(1_000_000);
    assert!(aligner.align(&a, &a).is_some());
    // A narrow band over the same pair fits easily.
    let aligner = Aligner::new().with_max_cells(20_000);
    let band = Band {
        diagonal: 0,
        half_width: 8,
    };
    let aln = aligner.align_banded(&a, &a, band).unwrap();
    assert_eq!(aln.ops, vec![(AlignOp::Pair, 1000)]);
    assert_eq!(aligner.max_cells(), 20_000);
    assert_eq!(Aligner::new().max_cells(), DEFAULT_MAX_CELLS);
}

#[test]
fn covering_band_holds_every_diagonal() {
    for n in 1..12usize {
        for m in 1..12usize {
            let band = Band::covering(n, m);
            let low = band.diagonal - band.half_width as i64;
            let high = band.diagonal + band.half_width as i64;
            assert!(low <= -(n as i64) && high >= m as i64, "{n} {m} {band:?}");
            assert!(high - low <= (n + m + 1) as i64);
        }
    }
}

/// Mutate `source` with substitutions, indels and case changes at roughly `rate` per residue.
fn mutate(rng: &mut SmallRng, source: &[u8], letters: &[u8], rate: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len() + 8);
    for &b in source {
        if rng.gen_bool(rate) {
            match rng.gen_range(0..5) {
                0 | 1 => out.push(letters[rng.gen_range(0..letters.len())]),
                2 => {}
                3 => {
                    out.push(b);
                    for _ in 0..rng.gen_range(1..4) {
                        out.push(letters[rng.gen_range(0..letters.len())]);
                    }
                }
                _ => out.push(b.to_ascii_lowercase()),
            }
        } else {
            out.push(b);
        }
    }
    out
}

fn random_seq(rng: &mut SmallRng, letters: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| letters[rng.gen_range(0..letters.len())])
        .collect()
}

/// Pairs that look like what the reducer aligns: related, with trimmed or extended ends.
fn related_pair(rng: &mut SmallRng, letters: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let len = rng.gen_range(1..120);
    let target = random_seq(rng, letters, len);
    let rate = [0.0, 0.05, 0.2, 0.6][rng.gen_range(0..4)];
    let mut query = mutate(rng, &target, letters, rate);
    if rng.gen_bool(0.3) && !query.is_empty() {
        let cut = rng.gen_range(0..query.len());
        query.drain(..cut);
    }
    if rng.gen_bool(0.3) {
        let extra = rng.gen_range(1..20);
        query.extend(random_seq(rng, letters, extra));
    }
    if rng.gen_bool(0.5) {
        (query, target)
    } else {
        (target, query)
    }
}

#[test]
fn invariants_hold_on_random_pairs() {
    let mut rng = SmallRng::seed_from_u64(0x7a1a);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let aligner = Aligner::for_alphabet(alphabet);
        for _ in 0..400 {
            let (query, target) = related_pair(&mut rng, letters);
            let full = aligner.align(&query, &target).unwrap();
            if !query.is_empty() && !target.is_empty() {
                check(&aligner, &query, &target, &full);
            }
            let band = Band {
                diagonal: rng.gen_range(-30..30),
                half_width: rng.gen_range(0..12),
            };
            let banded = aligner.align_banded(&query, &target, band).unwrap();
            if !banded.ops.is_empty() || banded.score != 0 {
                check(&aligner, &query, &target, &banded);
            }
            assert!(banded.score <= full.score, "a band can only lose score");
        }
    }
}

#[test]
fn wide_band_equals_unbanded() {
    let mut rng = SmallRng::seed_from_u64(0xbadd);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let aligner = Aligner::for_alphabet(alphabet);
        for _ in 0..300 {
            let (query, target) = related_pair(&mut rng, letters);
            let full = aligner.align(&query, &target).unwrap();
            let reach = (query.len() + target.len()) as i64;
            let diagonal = rng.gen_range(-5..5);
            let band = Band {
                diagonal,
                half_width: (reach + diagonal.abs() + rng.gen_range(0..10)) as usize,
            };
            assert_eq!(aligner.align_banded(&query, &target, band), Some(full));
        }
    }
}

/// Straightforward banded Gotoh over the whole matrix, cells outside the band at -infinity:
/// the score the kernel must reach for any band.
fn reference_banded_score(scoring: &Scoring, q: &[u8], t: &[u8], low: i64, high: i64) -> i64 {
    const NEG: i64 = i64::MIN / 4;
    let (n, m) = (q.len(), t.len());
    let inside = |i: usize, j: usize| (low..=high).contains(&(j as i64 - i as i64));
    let (open, extend) = (scoring.gap_open as i64, scoring.gap_extend as i64);
    let mut h = vec![vec![NEG; m + 1]; n + 1];
    let mut e = vec![vec![NEG; m + 1]; n + 1];
    let mut f = vec![vec![NEG; m + 1]; n + 1];
    let mut best = NEG;
    for i in 0..=n {
        for j in 0..=m {
            if !inside(i, j) {
                continue;
            }
            if i == 0 || j == 0 {
                h[i][j] = 0;
            } else {
                e[i][j] = (h[i][j - 1] - open - extend).max(e[i][j - 1] - extend);
                f[i][j] = (h[i - 1][j] - open - extend).max(f[i - 1][j] - extend);
                let pair = h[i - 1][j - 1] + scoring.score(q[i - 1], t[j - 1]) as i64;
                h[i][j] = pair.max(e[i][j]).max(f[i][j]);
            }
            if i == n || j == m {
                best = best.max(h[i][j]);
            }
        }
    }
    best
}

#[test]
fn banded_scores_match_a_plain_banded_reference() {
    let mut rng = SmallRng::seed_from_u64(0xba2d);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let aligner = Aligner::for_alphabet(alphabet);
        for _ in 0..300 {
            let (query, target) = related_pair(&mut rng, letters);
            if query.is_empty() || target.is_empty() {
                continue;
            }
            let band = Band {
                diagonal: rng.gen_range(-(query.len() as i64) - 3..target.len() as i64 + 3),
                half_width: rng.gen_range(0..8),
            };
            let low = band.diagonal - band.half_width as i64;
            let high = band.diagonal + band.half_width as i64;
            let aln = aligner.align_banded(&query, &target, band).unwrap();
            if high < -(query.len() as i64) || low > target.len() as i64 {
                assert_eq!(aln, Alignment::default());
                continue;
            }
            check(&aligner, &query, &target, &aln);
            let expected = reference_banded_score(aligner.scoring(), &query, &target, low, high);
            assert_eq!(aln.score as i64, expected, "{band:?}");
        }
    }
}

#[test]
fn scratch_reuse_does_not_change_results() {
    let mut rng = SmallRng::seed_from_u64(0x5c4a);
    let warm = Aligner::new();
    for _ in 0..100 {
        let (query, target) = related_pair(&mut rng, PROTEIN);
        let fresh = Aligner::new().align(&query, &target);
        assert_eq!(warm.align(&query, &target), fresh);
    }
}
