//! Aligner throughput on the pairs the reducer sees most: a ~350 aa protein pair at ~90%
//! identity and a ~1500 nt DNA pair at ~97% (generated), plus two real 16S genes when the Debian
//! microbiomeutil-data file is installed; each with every kernel this CPU runs (scalar and each
//! SIMD level), in a narrow band (half width 16, where the reducer starts), a wide one (64) and
//! unbanded. Throughput is reported in DP cells, so banded and unbanded runs compare per cell as
//! well as per pair. `cargo bench alignment` runs this group only.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use talaria::bio::alignment::{Aligner, Band, DiagonalRange, Lcs, SimdLevel};
use talaria::bio::alphabet::Alphabet;

/// Half widths of the narrow and wide bands.
const HALF_WIDTHS: [usize; 2] = [16, 64];

const SIXTEEN_S: &str = "/usr/share/microbiomeutil-data/RESOURCES/rRNA16S.gold.fasta";

/// A random sequence and a copy with substitutions and short indels at `divergence` per residue
/// (indels are a tenth of the events, as in real close homologs).
fn related_pair(seed: u64, letters: &[u8], len: usize, divergence: f64) -> (Vec<u8>, Vec<u8>) {
    let mut rng = SmallRng::seed_from_u64(seed);
    let pick = |rng: &mut SmallRng| letters[rng.gen_range(0..letters.len())];
    let representative: Vec<u8> = (0..len).map(|_| pick(&mut rng)).collect();
    let mut member = Vec::with_capacity(len + 16);
    for &residue in &representative {
        if !rng.gen_bool(divergence) {
            member.push(residue);
            continue;
        }
        match rng.gen_range(0..20) {
            0 => {}                                        // deletion
            1 => member.extend([residue, pick(&mut rng)]), // insertion
            _ => member.push(pick(&mut rng)),              // substitution
        }
    }
    (member, representative)
}

/// Cells the kernel fills for `band` (rows 1..=n, columns 1..=m, inside the band).
fn band_cells(n: usize, m: usize, band: Band) -> u64 {
    let (low, high) = (
        band.diagonal - band.half_width as i64,
        band.diagonal + band.half_width as i64,
    );
    (1..=n as i64)
        .map(|i| {
            let first = (i + low).max(1);
            let last = (i + high).min(m as i64);
            (last - first + 1).max(0) as u64
        })
        .sum()
}

fn bench_pair(c: &mut Criterion, name: &str, alphabet: Alphabet, pair: (Vec<u8>, Vec<u8>)) {
    let (member, representative) = pair;
    let mut group = c.benchmark_group("alignment");
    for level in SimdLevel::available() {
        let aligner = Aligner::for_alphabet(alphabet)
            .with_simd(level)
            .expect("an available level");
        group.throughput(Throughput::Elements(
            (member.len() * representative.len()) as u64,
        ));
        group.bench_function(format!("{name}/unbanded/{level}"), |b| {
            b.iter(|| aligner.align(black_box(&member), black_box(&representative)))
        });
        for half_width in HALF_WIDTHS {
            let band = Band {
                diagonal: 0,
                half_width,
            };
            let cells = band_cells(member.len(), representative.len(), band);
            group.throughput(Throughput::Elements(cells));
            group.bench_function(format!("{name}/banded{half_width}/{level}"), |b| {
                b.iter(|| {
                    aligner.align_banded(black_box(&member), black_box(&representative), band)
                })
            });
        }
    }

    // The LCS bound that rules pairs out before any DP (full matrix, no early stop).
    group.throughput(Throughput::Elements(
        (member.len() * representative.len()) as u64,
    ));
    let mut lcs = Lcs::new();
    group.bench_function(format!("{name}/lcs_bound"), |b| {
        b.iter(|| lcs.length(black_box(&member), black_box(&representative)))
    });
    // The same bound inside a band envelope (what the pipeline runs with banding on): the
    // widest automatic band at 0.9 on the main diagonal, matches counted only there.
    let shorter = member.len().min(representative.len());
    let half = ((0.1 * shorter as f64).ceil() as i64 + 8).max(16);
    let band = DiagonalRange {
        low: -half,
        high: half,
    };
    group.bench_function(format!("{name}/lcs_bound_in_band{half}"), |b| {
        b.iter(|| {
            lcs.length_up_to_in_band(
                black_box(&member),
                black_box(&representative),
                0,
                usize::MAX,
                Some(band),
            )
        })
    });
    group.finish();
}

/// The first two records of a FASTA file (sequence lines joined), if it can be read.
fn first_two_records(path: &str) -> Option<(Vec<u8>, Vec<u8>)> {
    let text = std::fs::read(path).ok()?;
    let mut records: Vec<Vec<u8>> = Vec::new();
    for line in text.split(|&b| b == b'\n') {
        if line.starts_with(b">") {
            if records.len() == 2 {
                break;
            }
            records.push(Vec::new());
        } else if let Some(last) = records.last_mut() {
            last.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
        }
    }
    let second = records.pop()?;
    let first = records.pop()?;
    Some((first, second))
}

fn alignment(c: &mut Criterion) {
    let protein = related_pair(1, b"ACDEFGHIKLMNPQRSTVWY", 350, 0.10);
    let dna = related_pair(2, b"ACGT", 1500, 0.03);
    bench_pair(c, "protein350_id90", Alphabet::Protein, protein);
    bench_pair(c, "dna1500_id97", Alphabet::Nucleotide, dna);
    if let Some(pair) = first_two_records(SIXTEEN_S) {
        bench_pair(c, "16s_gold_1_2", Alphabet::Nucleotide, pair);
    }
}

criterion_group!(benches, alignment);
criterion_main!(benches);
