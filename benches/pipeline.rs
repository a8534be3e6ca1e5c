//! Whole-pipeline and hot-loop benchmarks: FASTA chunking throughput, k-mer and sketch
//! extraction (the index keys of each candidate search), and
//! `reduce` end to end on generated protein families.

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use std::path::PathBuf;
use talaria::bio::alphabet::Alphabet;
use talaria::bio::kmer::{KmerCoder, SpacedSeed, PROTEIN_SEED};
use talaria::bio::sketch::Sketch;
use talaria::config::Config;
use talaria::fasta::chunker::Chunker;
use talaria::generate::{generate, GenOptions};
use talaria::reduce::index::keys_in_sketch;
use talaria::reduce::{run, ReduceJob};
use talaria_stages::sink::OutputPath;

fn sample(records: u64) -> Vec<u8> {
    let opts = GenOptions {
        records,
        seed: 42,
        ..GenOptions::default()
    };
    let mut out = Vec::new();
    generate(&opts, &mut out).expect("generate");
    out
}

fn chunking(c: &mut Criterion) {
    let data = sample(5_000);
    let mut group = c.benchmark_group("fasta");
    group.throughput(Throughput::Bytes(data.len() as u64));
    group.bench_function("chunk_and_parse", |b| {
        b.iter(|| {
            let mut chunker = Chunker::new(1024, 4 << 20);
            let mut out = Vec::new();
            for block in data.chunks(1 << 20) {
                chunker.push(block, &mut out).unwrap();
            }
            chunker.finish(&mut out).unwrap();
            black_box(out.len())
        })
    });
    group.finish();
}

fn kmers(c: &mut Criterion) {
    let seq: Vec<u8> = (0..30_000u32)
        .map(|i| b"ACDEFGHIKLMNPQRSTVWY"[(i.wrapping_mul(2654435761) >> 27) as usize % 20])
        .collect();
    let coder = KmerCoder::new(Alphabet::Protein, 5);
    let mut group = c.benchmark_group("kmer");
    group.throughput(Throughput::Bytes(seq.len() as u64));
    let mut out = Vec::new();
    group.bench_function("distinct_protein_k5", |b| {
        b.iter(|| coder.distinct(black_box(&seq), &mut out))
    });
    // The index keys a record gets, per candidate search: the exhaustive 5-mers
    // (`use_sketching = false`), the automatic protein search (spaced 8-mers, 1 in 8), and the
    // same contiguous and unsampled, to show what the seed and the sample cost.
    let spaced = KmerCoder::spaced(
        Alphabet::Protein,
        SpacedSeed::parse(PROTEIN_SEED).expect("seed"),
    );
    let contiguous8 = KmerCoder::new(Alphabet::Protein, 8);
    for (name, coder, sketch) in [
        ("index_keys_exhaustive_k5", coder, Sketch::all()),
        ("index_keys_auto_spaced8_1in8", spaced, Sketch::one_in(8)),
        ("index_keys_spaced8_all", spaced, Sketch::all()),
        (
            "index_keys_contiguous8_1in8",
            contiguous8,
            Sketch::one_in(8),
        ),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| keys_in_sketch(&coder, sketch, black_box(&seq), &mut out))
        });
    }
    group.finish();
}

fn pipeline(c: &mut Criterion) {
    let dir = tempfile::tempdir().unwrap();
    let input: PathBuf = dir.path().join("in.fa");
    std::fs::write(&input, sample(50_000)).unwrap();
    let mut group = c.benchmark_group("pipeline");
    group.sample_size(10);
    group.throughput(Throughput::Elements(50_000));
    group.bench_function("reduce_50k_protein", |b| {
        b.iter(|| {
            let job = ReduceJob {
                input: Some(input.clone()),
                output: OutputPath::File(dir.path().join("out.fa")),
                deltas: Some(OutputPath::File(dir.path().join("out.delta"))),
                clusters: None,
                clstr: None,
                config: Config::default(),
            };
            black_box(run(&job).unwrap().representatives)
        })
    });
    group.finish();
}

criterion_group!(benches, chunking, kmers, pipeline);
criterion_main!(benches);
