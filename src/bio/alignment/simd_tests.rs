//! Every SIMD level this CPU runs must return exactly the scalar kernel's `Alignment` (score,
//! spans, identical count, ops) for every input and band: randomized protein and DNA pairs of
//! lengths 1..2000 (deterministic seeds), narrow, clipped, covering and off-diagonal bands,
//! identical sequences, and pairs whose best alignment is empty.

use super::*;
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

const PROTEIN: &[u8] = b"ACDEFGHIKLMNPQRSTVWYacdXBZ*U";
const DNA: &[u8] = b"ACGTacgtN";

fn vector_levels() -> Vec<SimdLevel> {
    SimdLevel::available()
        .into_iter()
        .filter(|&level| level != SimdLevel::Scalar)
        .collect()
}

fn random_seq(rng: &mut SmallRng, letters: &[u8], len: usize) -> Vec<u8> {
    (0..len)
        .map(|_| letters[rng.gen_range(0..letters.len())])
        .collect()
}

/// A copy of `source` with substitutions and indels at `rate` per residue.
fn mutate(rng: &mut SmallRng, source: &[u8], letters: &[u8], rate: f64) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len() + 8);
    for &b in source {
        if !rng.gen_bool(rate) {
            out.push(b);
            continue;
        }
        match rng.gen_range(0..4) {
            0 => {}
            1 => out.extend([b, letters[rng.gen_range(0..letters.len())]]),
            _ => out.push(letters[rng.gen_range(0..letters.len())]),
        }
    }
    out
}

/// Related (or unrelated) pairs with trimmed or extended ends, lengths up to `max_len`.
fn pair(rng: &mut SmallRng, letters: &[u8], max_len: usize) -> (Vec<u8>, Vec<u8>) {
    let len = rng.gen_range(1..=max_len);
    let target = random_seq(rng, letters, len);
    let rate = [0.0, 0.03, 0.1, 0.3, 1.0][rng.gen_range(0..5)];
    let mut query = mutate(rng, &target, letters, rate);
    if rng.gen_bool(0.3) && query.len() > 1 {
        let cut = rng.gen_range(0..query.len());
        query.drain(..cut);
    }
    if rng.gen_bool(0.3) {
        let extra = rng.gen_range(1..40);
        query.extend(random_seq(rng, letters, extra));
    }
    if query.is_empty() {
        query.push(letters[0]);
    }
    if rng.gen_bool(0.5) {
        (query, target)
    } else {
        (target, query)
    }
}

/// Bands of every kind for an `n × m` matrix.
fn bands(rng: &mut SmallRng, n: usize, m: usize) -> Vec<Band> {
    let (n, m) = (n as i64, m as i64);
    vec![
        Band::covering(n as usize, m as usize),
        // Narrow, on the main diagonal.
        Band {
            diagonal: 0,
            half_width: rng.gen_range(0..4),
        },
        // Typical reducer widths around the length difference.
        Band {
            diagonal: m - n,
            half_width: rng.gen_range(8..40),
        },
        // Anywhere, clipped by the matrix edges or partly outside it.
        Band {
            diagonal: rng.gen_range(-n - 5..=m + 5),
            half_width: rng.gen_range(0..64),
        },
        // Far off-diagonal, single diagonal.
        Band {
            diagonal: rng.gen_range(-n..=m),
            half_width: 0,
        },
    ]
}

fn assert_same(query: &[u8], target: &[u8], band: Band, alphabet: Alphabet, levels: &[Aligner]) {
    let scalar = Aligner::for_alphabet(alphabet)
        .with_simd(SimdLevel::Scalar)
        .unwrap();
    let expected = scalar.align_banded(query, target, band);
    for aligner in levels {
        let got = aligner.align_banded(query, target, band);
        assert_eq!(
            got,
            expected,
            "level {} differs from scalar: n {} m {} {band:?}",
            aligner.simd_level(),
            query.len(),
            target.len()
        );
    }
}

fn aligners(alphabet: Alphabet) -> Vec<Aligner> {
    vector_levels()
        .into_iter()
        .map(|level| Aligner::for_alphabet(alphabet).with_simd(level).unwrap())
        .collect()
}

#[test]
fn this_cpu_has_a_vector_level_on_x86_64() {
    if cfg!(target_arch = "x86_64") {
        // SSE4.1 is on every x86_64 CPU talaria targets; the test machine also has AVX2.
        assert!(vector_levels().contains(&SimdLevel::Sse4));
    }
    assert_eq!(Aligner::new().simd_level(), SimdLevel::best());
}

#[test]
fn random_short_pairs_every_band() {
    let mut rng = SmallRng::seed_from_u64(0x51d0);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let levels = aligners(alphabet);
        for _ in 0..400 {
            let (query, target) = pair(&mut rng, letters, 80);
            for band in bands(&mut rng, query.len(), target.len()) {
                assert_same(&query, &target, band, alphabet, &levels);
            }
        }
    }
}

#[test]
fn random_long_pairs() {
    let mut rng = SmallRng::seed_from_u64(0x51d1);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let levels = aligners(alphabet);
        for round in 0..24 {
            let (query, target) = pair(&mut rng, letters, 2000);
            let mut all = bands(&mut rng, query.len(), target.len());
            if round % 3 != 0 {
                // Covering bands of 2000 × 2000 are slow in the scalar reference: keep a third.
                all.remove(0);
            }
            for band in all {
                assert_same(&query, &target, band, alphabet, &levels);
            }
        }
    }
}

/// The AVX-512 level runs bands of 9 to 64 diagonals row by row (band_rows.rs), in 1 to 4
/// vectors: widths at each vector boundary (even widths come from clipping at the matrix
/// edges), and gaps long enough that a row's Delete run crosses vectors.
#[test]
fn row_kernel_widths_and_long_gaps() {
    let mut rng = SmallRng::seed_from_u64(0x51d5);
    for (alphabet, letters) in [(Alphabet::Protein, PROTEIN), (Alphabet::Nucleotide, DNA)] {
        let levels = aligners(alphabet);
        for round in 0..60 {
            let len = rng.gen_range(20..400);
            let target = random_seq(&mut rng, letters, len);
            let mut query = mutate(&mut rng, &target, letters, [0.02, 0.1, 0.3][round % 3]);
            // A gap of up to 50 residues on one side.
            let cut = rng.gen_range(0..query.len());
            let gap = rng.gen_range(1..50).min(query.len() - cut);
            if round % 2 == 0 {
                query.drain(cut..cut + gap);
            } else {
                let extra = random_seq(&mut rng, letters, gap);
                query.splice(cut..cut, extra);
            }
            if query.is_empty() {
                query.push(letters[0]);
            }
            let (n, m) = (query.len() as i64, target.len() as i64);
            for half_width in [4usize, 7, 8, 15, 16, 23, 24, 31, 32, 33] {
                for diagonal in [0, m - n, -n + 3, m - 3, -n - 2, m + 2] {
                    let band = Band {
                        diagonal,
                        half_width,
                    };
                    assert_same(&query, &target, band, alphabet, &levels);
                }
            }
        }
    }
}

#[test]
fn every_tiny_matrix_and_band() {
    let mut rng = SmallRng::seed_from_u64(0x51d2);
    let levels = aligners(Alphabet::Nucleotide);
    for n in 1..=9usize {
        for m in 1..=9usize {
            let query = random_seq(&mut rng, b"ACG", n);
            let target = random_seq(&mut rng, b"ACG", m);
            for diagonal in -(n as i64) - 2..=m as i64 + 2 {
                for half_width in 0..=4 {
                    let band = Band {
                        diagonal,
                        half_width,
                    };
                    assert_same(&query, &target, band, Alphabet::Nucleotide, &levels);
                }
            }
        }
    }
}

#[test]
fn identical_and_unrelated_sequences() {
    let mut rng = SmallRng::seed_from_u64(0x51d3);
    let levels = aligners(Alphabet::Protein);
    for len in [1, 2, 3, 7, 15, 16, 17, 31, 33, 300, 1000] {
        let seq = random_seq(&mut rng, PROTEIN, len);
        for band in bands(&mut rng, len, len) {
            assert_same(&seq, &seq, band, Alphabet::Protein, &levels);
        }
        // Nothing scores above zero: the empty alignment at the corner (0, m).
        let a = vec![b'W'; len];
        let b = vec![b'P'; len + 3];
        let expected = Aligner::new()
            .with_simd(SimdLevel::Scalar)
            .unwrap()
            .align(&a, &b);
        assert_eq!(expected.as_ref().unwrap().ops, vec![]);
        for aligner in &levels {
            assert_eq!(aligner.align(&a, &b), expected);
        }
    }
}

#[test]
fn cell_cap_and_empty_inputs_are_the_same() {
    for level in SimdLevel::available() {
        let aligner = Aligner::new().with_simd(level).unwrap().with_max_cells(999);
        assert_eq!(aligner.align(&[b'A'; 40], &[b'A'; 40]), None);
        assert_eq!(aligner.align(b"", b"ACD"), Some(Alignment::default()));
        let far = Band {
            diagonal: 100,
            half_width: 2,
        };
        assert_eq!(
            aligner.align_banded(b"ACD", b"ACD", far),
            Some(Alignment::default())
        );
    }
}

#[test]
fn scratch_reuse_across_sizes() {
    // One warm aligner per level, pairs shrinking and growing: stale buffer contents from a
    // larger call must never leak into a smaller one.
    let mut rng = SmallRng::seed_from_u64(0x51d4);
    let levels = aligners(Alphabet::Protein);
    for _ in 0..200 {
        let max = [5, 50, 500][rng.gen_range(0..3)];
        let (query, target) = pair(&mut rng, PROTEIN, max);
        let band = Band {
            diagonal: rng.gen_range(-10..10),
            half_width: rng.gen_range(0..30),
        };
        assert_same(&query, &target, band, Alphabet::Protein, &levels);
    }
}

#[test]
fn levels_by_name_and_refusals() {
    for level in SimdLevel::VECTOR {
        assert_eq!(SimdLevel::parse(level.name()), Some(level));
    }
    assert_eq!(SimdLevel::parse("scalar"), None);
    assert_eq!(SimdLevel::parse("avx3"), None);
    if cfg!(target_arch = "x86_64") {
        let err = SimdLevel::Neon.check().unwrap_err();
        assert!(err.contains("does not exist on x86_64"), "{err}");
        assert!(Aligner::new().with_simd(SimdLevel::Neon).is_err());
    }
    assert_eq!(
        SimdLevel::resolve(false, true, SimdLevel::Avx2),
        Ok(SimdLevel::Scalar)
    );
    assert_eq!(
        SimdLevel::resolve(true, true, SimdLevel::Neon),
        Ok(SimdLevel::best())
    );
    for level in SimdLevel::VECTOR {
        assert_eq!(
            SimdLevel::resolve(true, false, level).is_ok(),
            level.check().is_ok()
        );
    }
    // A level this CPU lacks is refused with the levels it has (once this recursed without end
    // on a CPU without AVX-512: the message asked `available`, which asked `check` again).
    let have = SimdLevel::available();
    assert_eq!(have.first(), Some(&SimdLevel::Scalar));
    for level in SimdLevel::VECTOR {
        match level.check() {
            Ok(()) => assert!(have.contains(&level), "{level}"),
            Err(err) if err.contains("does not exist") => assert!(!have.contains(&level)),
            Err(err) => {
                assert!(!have.contains(&level), "{level}");
                assert!(
                    err.contains(&format!("level {} (it has: scalar", level.name())),
                    "{err}"
                );
            }
        }
    }
}
