//! Aligner throughput on the pairs the reducer sees most: a ~350 aa protein pair at ~90%
//! identity and a ~1500 nt DNA pair at ~97%, banded (half width 32) and unbanded. Throughput is
//! reported in DP cells, so banded and unbanded runs compare per cell as well as per pair.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use talaria::bio::alignment::{Aligner, Band, Lcs};
use talaria::bio::alphabet::Alphabet;

const HALF_WIDTH: usize = 32;

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
    let aligner = Aligner::for_alphabet(alphabet);
    let band = Band {
        diagonal: 0,
        half_width: HALF_WIDTH,
    };
    let mut group = c.benchmark_group("alignment");

    group.throughput(Throughput::Elements(
        (member.len() * representative.len()) as u64,
    ));
    group.bench_function(format!("{name}/unbanded"), |b| {
        b.iter(|| aligner.align(black_box(&member), black_box(&representative)))
    });

    let cells = band_cells(member.len(), representative.len(), band);
    group.throughput(Throughput::Elements(cells));
    group.bench_function(format!("{name}/banded{HALF_WIDTH}"), |b| {
        b.iter(|| aligner.align_banded(black_box(&member), black_box(&representative), band))
    });

    // The LCS bound that rules pairs out before any DP (full matrix, no early stop).
    group.throughput(Throughput::Elements(
        (member.len() * representative.len()) as u64,
    ));
    let mut lcs = Lcs::new();
    group.bench_function(format!("{name}/lcs_bound"), |b| {
        b.iter(|| lcs.length(black_box(&member), black_box(&representative)))
    });
    group.finish();
}

fn alignment(c: &mut Criterion) {
    let protein = related_pair(1, b"ACDEFGHIKLMNPQRSTVWY", 350, 0.10);
    let dna = related_pair(2, b"ACGT", 1500, 0.03);
    bench_pair(c, "protein350_id90", Alphabet::Protein, protein);
    bench_pair(c, "dna1500_id97", Alphabet::Nucleotide, dna);
}

criterion_group!(benches, alignment);
criterion_main!(benches);
