//! Wiring of the reduce pipeline: which stage runs on which named thread, how the memory limit
//! is split into channel budgets, and how a failure anywhere becomes one error with nothing
//! committed.

use crate::bio::alignment::{Aligner, SimdLevel};
use crate::bio::alphabet::{self, Alphabet};
use crate::bio::kmer::{default_k, sketch_k, KmerCoder, SpacedSeed, PROTEIN_SEED};
use crate::bio::sketch::{self, Sketch};
use crate::config::{AlphabetChoice, Config, MetricsExport, Switch};
use crate::delta::file::{DeltaWriter, FileHeader};
use crate::fasta::chunker::{Chunker, FastaError};
use crate::fasta::record::Chunk;
use crate::reduce::banding::BandPolicy;
use crate::reduce::cache_report::{CachePlan, CacheSummary};
use crate::reduce::clstr::ClstrCollector;
use crate::reduce::decide::{Decider, Features, Params};
use crate::reduce::export::{Exporter, LiveRun, Progress};
use crate::reduce::index::RepIndex;
use crate::reduce::longest_first::{self, Choice, Decisions};
use crate::reduce::lookahead::{self, Place, Pool, TentativeChunk};
use crate::reduce::priority;
use crate::reduce::residue_file::ResidueFile;
use crate::reduce::summary::Summary;
use crate::reduce::writer::{DecidedChunk, Destination, Finished, Outputs, Writer};
use parking_lot::{Mutex, RwLock};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;
use talaria_stages::channel::{self, Receiver, Sender};
use talaria_stages::metrics::{self, Registry, Sampler};
use talaria_stages::ordered;
use talaria_stages::reader::{self, Block, ReadError};
use talaria_stages::sink::{OutputPath, Sink, SinkError};
use talaria_stages::stage::{self, StagePanic};
use talaria_stages::stealing::{Feed, Source};
use talaria_stages::Weighted;

/// Bytes of decompressed input inspected to detect the alphabet (a fixed prefix, so the answer
/// never depends on block or chunk sizes).
const ALPHABET_PREFIX: usize = 1 << 20;
/// The sampler's period: memory and queue fill every 100 ms (one /proc read and a lock per
/// channel; costs nothing measurable, see README "Profiling").
const SAMPLE_INTERVAL: std::time::Duration = std::time::Duration::from_millis(100);
/// Environment variable that keeps representatives' residues in memory (no read-back from the
/// input, no spill file), for tests only (they compare it with reading them back).
const TEST_HOLD_RESIDUES: &str = "REDUCE_TEST_HOLD_RESIDUES";

/// Everything `reduce` needs, already validated.
#[derive(Clone, Debug)]
pub struct ReduceJob {
    /// `None` = standard input.
    pub input: Option<PathBuf>,
    pub output: OutputPath,
    pub deltas: Option<OutputPath>,
    pub clusters: Option<OutputPath>,
    pub clstr: Option<OutputPath>,
    pub config: Config,
}

#[derive(Debug, thiserror::Error)]
pub enum ReduceError {
    #[error("{0}")]
    Read(#[from] ReadError),
    #[error("{path}: {error}")]
    Fasta { path: String, error: FastaError },
    #[error("{0}")]
    Sink(#[from] SinkError),
    #[error("{0}")]
    Stage(#[from] StagePanic),
    #[error("{0}")]
    Usage(String),
    #[error("could not start a thread: {0}")]
    Spawn(#[from] std::io::Error),
    /// The metrics export could not start (a port in use): an I/O failure, exit code 1.
    #[error("{0}")]
    Export(String),
}

/// How the memory limit is shared out. Fractions chosen so the sum stays near 85% of the
/// limit, leaving room for thread stacks, the binary and allocator slack.
struct Budgets {
    blocks: usize,
    chunks: usize,
    sketched: usize,
    decided: usize,
    sink: usize,
    index: usize,
    aligner_cells: usize,
    /// The longest-first table and the deltas it keeps (taken out of `index` when used).
    order_table: usize,
    /// The aligners' look-ahead pool (`reduce::lookahead`): what the decided queue's
    /// reservation leaves unused.
    lookahead: usize,
}

/// Bytes each queue between stages (blocks, chunks, features, decided chunks) is allowed at
/// most, whatever the limit: its share beyond this goes to the index instead (for the blocks,
/// chunks and decided queues; the features queue's excess is left unused, as the reference
/// cache is carved out of its share). A constant, so the index budget, and hence eviction,
/// never depends on the thread count.
const QUEUE_RESERVE: usize = 16 << 20;
/// What the chunks, features and decided queues hold within their reservation: 128 KiB per
/// aligner (a few chunks each, so no aligner waits for work), at least 2 MiB. More only lets a queue run ahead and grows the
/// resident set: queues of 32 MiB each added 100 MiB to the peak on 500k proteins (684 against
/// 580 MiB with 2 MiB queues, in the same time).
const QUEUE_MIN: usize = 2 << 20;
const QUEUE_PER_WORKER: usize = 128 << 10;

/// Never above [`QUEUE_RESERVE`].
fn queue_cap(workers: usize) -> usize {
    workers
        .saturating_mul(QUEUE_PER_WORKER)
        .clamp(QUEUE_MIN, QUEUE_RESERVE)
}

impl Budgets {
    fn split(limit: u64, workers: usize) -> Budgets {
        let limit = limit as usize;
        let part = |num: usize, den: usize| (limit / den).saturating_mul(num);
        let (blocks, chunks, decided) = (part(1, 32), part(1, 20), part(1, 16));
        let reserved = |bytes: usize| bytes.min(QUEUE_RESERVE);
        let freed =
            blocks + chunks + decided - reserved(blocks) - reserved(chunks) - reserved(decided);
        let capped = |bytes: usize| bytes.min(queue_cap(workers));
        Budgets {
            // Not capped by the thread count: io_uring's buffers in flight, the pool's idle
            // buffers and `parallel_io`'s raw bytes come out of this share (a 2 MiB cap would
            // cut io_uring's default depth of 100 to 16).
            blocks: reserved(blocks),
            chunks: capped(chunks),
            sketched: part(1, 12),
            decided: capped(decided),
            sink: part(1, 64),
            index: part(7, 20) + freed,
            // One traceback byte per cell: all workers plus the writer together get ~10%.
            aligner_cells: (part(1, 10) / (workers + 1)).max(1 << 20),
            order_table: part(1, 10),
            lookahead: reserved(decided).saturating_sub(capped(decided)),
        }
    }
}

impl Weighted for Chunk {
    fn weight(&self) -> usize {
        Chunk::weight(self)
    }
}

/// A chunk with its per-record features, on its way to the aligners.
struct SketchedChunk {
    chunk: Chunk,
    features: Vec<Features>,
}

impl Weighted for SketchedChunk {
    fn weight(&self) -> usize {
        self.chunk.weight() + Features::weight_of(&self.features)
    }
}

/// Run `reduce` end to end. Outputs are committed only if every stage succeeded.
pub fn run(job: &ReduceJob) -> Result<Summary, ReduceError> {
    run_monitored(job, LiveViews::default())
}

/// What `reduce` prints on stderr while it runs.
#[derive(Clone, Copy, Debug, Default)]
pub struct LiveViews {
    /// `--monitor`: progress, rates, queues, memory.
    pub monitor: bool,
    /// `--debug-threads`: each stage thread's id and CPUs, its CPU use every second, a table at
    /// the end.
    pub debug_threads: bool,
}

/// [`run`], with the live views asked for on stderr.
pub fn run_monitored(job: &ReduceJob, views: LiveViews) -> Result<Summary, ReduceError> {
    let started = Instant::now();
    let monitor = views.monitor;
    for (on, flag) in [
        (monitor, "--monitor"),
        (views.debug_threads, "--debug-threads"),
    ] {
        if on && !metrics::accounting_on() {
            return Err(ReduceError::Usage(format!(
                "{flag} reads the stage accounting, which TALARIA_ACCOUNTING=off turns off"
            )));
        }
    }
    let cfg = &job.config;
    if cfg.monitoring.metrics_export != MetricsExport::None && !metrics::accounting_on() {
        return Err(ReduceError::Usage(format!(
            "--metrics-export {} reads the stage accounting, which TALARIA_ACCOUNTING=off turns off",
            cfg.monitoring.metrics_export.name()
        )));
    }
    // The aligner kernel, resolved (and its CPU check done) once for every aligner.
    let simd = cfg.simd_level().map_err(|e| ReduceError::Usage(e.0))?;
    // Every stage thread spawned from here (sinks included) reports to this registry.
    let registry = Registry::new();
    let _accounting = registry.install();
    // Keys accepted from the guide that cannot act in this build: said once each, then on.
    for (setting, why) in cfg.not_applicable_settings() {
        eprintln!("talaria: warning: {setting} has no effect: not applicable: {why}");
    }
    // The export starts first: a port in use fails before any input is read or output opened.
    let live = Arc::new(LiveRun::new(
        Arc::clone(&registry),
        cfg.performance.memory_limit,
    ));
    let exporter = Exporter::start(&cfg.monitoring, &live)?;
    let cpus = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1);
    let workers = match cfg.performance.threads {
        0 => cpus,
        n => n,
    };
    let mut budgets = Budgets::split(cfg.performance.memory_limit, workers);

    // Open the input and look at a fixed prefix to settle the alphabet before any thread starts.
    let spec = crate::reduce::io::input_spec(&cfg.performance, job.input.clone(), budgets.blocks);
    let mut input = crate::reduce::io::open(&spec)?;
    let input_name = input.name().to_string();
    let mut prefix = Vec::with_capacity(ALPHABET_PREFIX);
    let mut prefix_reads = (0u64, 0u64);
    while prefix.len() < ALPHABET_PREFIX {
        let want = ALPHABET_PREFIX - prefix.len();
        // Timed like the reader's calls: not at all with TALARIA_ACCOUNTING=off.
        let t = metrics::accounting_on().then(Instant::now);
        let got = input.read_block(&mut prefix, want)?;
        prefix_reads = (
            prefix_reads.0 + 1,
            prefix_reads.1 + t.map_or(0, |t| t.elapsed().as_nanos() as u64),
        );
        if got == 0 {
            break;
        }
    }
    let alphabet = match cfg.reduce.alphabet {
        AlphabetChoice::Protein => Alphabet::Protein,
        AlphabetChoice::Nucleotide => Alphabet::Nucleotide,
        AlphabetChoice::Auto => alphabet::detect(&sequence_lines(&prefix)),
    };
    let threshold = cfg.reduce.threshold;
    let sketching = match cfg.alignment.use_sketching {
        Switch::On => true,
        Switch::Off => false,
        Switch::Auto => sketch::auto_on(alphabet, threshold),
    };
    // Automatic k follows the search: long k-mers when they are sampled, CD-HIT's word sizes
    // for the exhaustive short-word filter.
    let k = match (cfg.reduce.kmer_size, sketching) {
        (0, true) => sketch_k(alphabet, threshold),
        (0, false) => default_k(alphabet, threshold),
        (k, _) => k,
    };
    // The spaced seed: automatic only with the automatic protein search (its weight is that
    // search's k); a pattern sets k to its weight.
    let seed = match cfg.alignment.spaced_seed.as_str() {
        "none" => None,
        "auto" => (alphabet == Alphabet::Protein && sketching && cfg.reduce.kmer_size == 0)
            .then(|| SpacedSeed::parse(PROTEIN_SEED))
            .flatten(),
        pattern => SpacedSeed::parse(pattern),
    };
    let k = match seed {
        Some(seed) if cfg.reduce.kmer_size != 0 && cfg.reduce.kmer_size != seed.weight() => {
            return Err(ReduceError::Usage(format!(
                "kmer_size {} and spaced_seed {} (weight {}) disagree: a spaced seed's weight is its k",
                cfg.reduce.kmer_size,
                seed.pattern(),
                seed.weight()
            )))
        }
        Some(seed) => seed.weight(),
        None => k,
    };
    let max_k = 64 / alphabet.bits() as usize;
    if k > max_k {
        return Err(ReduceError::Usage(format!(
            "kmer_size {k} is too large for {} sequences (at most {max_k})",
            alphabet.name()
        )));
    }
    // Longest first where the input can be read twice (the alphabet above still comes from the
    // file's own first bytes, so it is the same in either order).
    let choice = longest_first::plan(
        &mut input,
        &prefix,
        &spec,
        cfg.reduce.order,
        budgets.order_table,
    )?;
    let mut sequential_reader = None;
    // Readahead figures of the sequential reads: the scan pass's (longest first) and the reader
    // stage's; the replay in between reads out of order and advises nothing.
    let mut readahead = Vec::new();
    let (plan, mut order_note) = match choice {
        Choice::LongestFirst(plan) => {
            sequential_reader = Some(crate::reduce::io::describe(
                &input,
                cfg.performance.block_size,
            ));
            readahead.push(input.readahead()); // the scan pass's
            input = plan.replay()?;
            prefix = Vec::new();
            budgets.index -= budgets.order_table;
            let note = format!(
                "longest first, outputs in input order ({} records scanned in {:.2} s)",
                plan.records(),
                plan.scan_seconds
            );
            (Some(plan), note)
        }
        Choice::InputOrder(note) => (None, note),
    };
    // Replayed from a file that stays put: representatives' residues are read back from it
    // rather than held; a stream's go to a spill file (`reduce::residue_file`). A test hook
    // holds them, to compare.
    let mut no_spill = None;
    let residue_file = match &plan {
        _ if std::env::var_os(TEST_HOLD_RESIDUES).is_some() => None,
        Some(plan) => Some(Arc::new(plan.residue_file()?)),
        None => match ResidueFile::spill(cfg.performance.memory_limit) {
            Ok(file) => Some(Arc::new(file)),
            Err(why) => {
                no_spill = Some(why);
                None
            }
        },
    };
    let coder = match seed {
        Some(seed) => KmerCoder::spaced(alphabet, seed),
        None => KmerCoder::new(alphabet, k),
    };
    let params = Params {
        coder,
        threshold: cfg.reduce.threshold,
        coverage: cfg.reduce.coverage,
        max_candidates: match cfg.reduce.max_candidates {
            0 => sketch::default_candidates(alphabet, threshold),
            n => n,
        },
        band: BandPolicy::from_config(&cfg.alignment),
        // An explicit `use_sketching = true` gets a sketch (1 in 8 unless sized); only "auto"
        // may decide that every k-mer is needed.
        sketch: match (
            sketching,
            cfg.alignment.sketch_size,
            cfg.alignment.use_sketching,
        ) {
            (false, _, _) => Sketch::all(),
            (true, 0, Switch::Auto) => Sketch::one_in(sketch::default_scale(alphabet, threshold)),
            (true, 0, _) => Sketch::one_in(sketch::SKETCH_SCALE),
            (true, n, _) => Sketch::one_in(n as u64),
        },
        kmer_filter: cfg.alignment.use_approximation,
        min_shared: cfg.alignment.min_shared_kmers.min(u32::MAX as usize) as u32,
        shortcuts: crate::reduce::decide::Shortcuts {
            exact: cfg.performance.high_similarity.fast_exact_match,
            ungapped: cfg.performance.high_similarity.use_diff_encoding,
        },
    };
    let sketch = params.sketch;

    // Outputs first: an unwritable path fails before any work is done.
    let outputs = Outputs {
        fasta: Sink::open("writer-fasta", job.output.clone(), budgets.sink)?,
        deltas: match &job.deltas {
            Some(path) => {
                let sink = Sink::open("writer-deltas", path.clone(), budgets.sink)?;
                let header = FileHeader {
                    alphabet,
                    threshold: params.threshold,
                    coverage: params.coverage,
                };
                Some(
                    DeltaWriter::with_level(sink, &header, deltas_level(cfg))
                        .map_err(|e| sink_error(path, e))?,
                )
            }
            None => None,
        },
        clusters: job
            .clusters
            .as_ref()
            .map(|p| Sink::open("writer-tsv", p.clone(), budgets.sink))
            .transpose()?,
        clstr: match &job.clstr {
            Some(p) => Some((
                Sink::open("writer-clstr", p.clone(), budgets.sink)?,
                ClstrCollector::default(),
            )),
            None => None,
        },
    };

    // Placement first: the index's interleave set comes from where the aligners will run.
    crate::reduce::placement::Pinning::warn_unpinned(cfg);
    let pinning = crate::reduce::placement::Pinning::for_run(cfg, workers);
    // The reference cache's bytes come out of the aligners' input queue (README, "Reference
    // cache"): that budget only bounds how far the prefetcher runs ahead, never a decision, so
    // outputs stay the same with the cache on or off (the index's share would not: a fuller
    // index evicts representatives).
    let caches = CachePlan::new(&cfg.performance, budgets.sketched, workers);
    budgets.sketched = (budgets.sketched - caches.map_or(0, |c| c.total)).min(queue_cap(workers));
    let (lock_bytes, lock_refused) = page_lock_bytes(&cfg.performance, budgets.index);
    let mut index = RepIndex::with_backing(
        coder,
        budgets.index,
        crate::reduce::index::Backing {
            huge_pages: cfg.performance.memory.use_huge_pages,
            lock_bytes,
            interleave: crate::reduce::placement::interleave_nodes(pinning.as_deref()),
        },
    );
    if let Some(e) = &index.stats.interleave_error {
        eprintln!("talaria: warning: could not interleave the representative index (mbind: {e}); it stays where the kernel puts it");
    }
    index.set_prefetch(cfg.performance.intel.prefetch_hint);
    let index = Arc::new(RwLock::new(index));
    let reader_name = match sequential_reader {
        // The scan and the write pass read the file in order with the configured engine; the
        // deciding pass in between reads each record with pread, out of order.
        Some(engine) => {
            format!("{engine} (scan and write passes); deciding pass: pread, records longest first")
        }
        None => crate::reduce::io::describe(&input, cfg.performance.block_size),
    };
    readahead.push(input.readahead());
    // Block buffers come back from the chunker through this pool; its idle bytes are carved
    // out of the block channel's budget (io::block_channel_budget).
    let pool = reader::BlockPool::new(crate::reduce::io::pool_capacity(
        &cfg.performance,
        budgets.blocks,
    ));
    let blocks_budget = crate::reduce::io::block_channel_budget(
        &input,
        &spec,
        budgets.blocks,
        pool.stats().capacity as usize,
        cfg.performance.block_size,
    );
    let compression = format!("{:?}", input.compression()).to_lowercase();
    let input_file_bytes = input.size_hint();

    let (block_tx, block_rx) = channel::bounded::<Block>("blocks", blocks_budget);
    let (chunk_tx, chunk_rx) = channel::bounded::<Chunk>("chunks", budgets.chunks);
    // `prefetch_threads` threads (0: a quarter of the aligners, at least one) compute each
    // record's k-mers and hash (the prefetch stage below). Several of them finish chunks out of
    // order, so an ordered channel and one `reorder` thread put the chunks back in input order
    // before the aligners' queue(s); its bytes come out of the same budget.
    let prefetch_threads = match cfg.performance.prefetch_threads {
        0 => (workers / 4).max(1),
        n => n,
    };
    let (feed_budget, reorder_budget) = if prefetch_threads > 1 {
        (
            budgets.sketched / 2,
            budgets.sketched - budgets.sketched / 2,
        )
    } else {
        (budgets.sketched, 0)
    };
    // ccx_affinity: one queue per L3 domain of the pinned aligners, else one shared channel.
    let (sketch_tx, sketch_rx) = sketched_queues(pinning.as_deref(), feed_budget);
    let reorder = (prefetch_threads > 1)
        .then(|| ordered::ordered::<SketchedChunk>("prefetched", reorder_budget));
    // Workers may run only a few chunks ahead of the writer: every chunk they finish early is
    // decided against an older snapshot, which the (serial) writer must then complete.
    let (decided_tx, decided_rx) =
        ordered::ordered_with_limit::<DecidedChunk>("decided", budgets.decided, 2 * workers);

    for probe in [
        block_tx.probe(),
        chunk_tx.probe(),
        match &sketch_tx {
            Feed::Shared(tx) => tx.probe(),
            Feed::Domains(dealer) => dealer.probe(),
        },
        decided_tx.probe(),
    ] {
        registry.add_probe(probe);
    }
    if let Some((tx, _)) = &reorder {
        registry.add_probe(tx.probe());
    }
    let sinks = [
        Some(&outputs.fasta),
        outputs.deltas.as_ref().map(DeltaWriter::get_ref),
        outputs.clusters.as_ref(),
        outputs.clstr.as_ref().map(|(sink, _)| sink),
    ];
    for probe in sinks.into_iter().flatten().filter_map(Sink::probe) {
        registry.add_probe(probe);
    }
    let block_size = cfg.performance.block_size;
    let reader = {
        let pool = pool.clone();
        stage::spawn("reader", move || {
            let counters = metrics::counters();
            let first = Block::new(0, 0, prefix);
            if !first.data.is_empty() && counters.send(&block_tx, first).is_err() {
                return Ok(Default::default());
            }
            reader::read_blocks_pooled(input, block_size, &pool, block_tx, &counters)
        })?
    };

    let input_digest: Arc<Mutex<Option<(u64, u64)>>> = Arc::new(Mutex::new(None));
    let chunker = {
        let digest = Arc::clone(&input_digest);
        let live = Arc::clone(&live);
        let (records, bytes) = (
            cfg.performance.chunk_size,
            (budgets.chunks / 8).clamp(1 << 16, 8 << 20),
        );
        stage::spawn("chunker", move || {
            chunk_stage(block_rx, chunk_tx, records, bytes, digest, &live.progress)
        })?
    };

    // The prefetch threads take chunks in input order from the FIFO. One thread sends them on
    // in that order; several send through the ordered channel, drained in order by `reorder`. So
    // the aligners' queues always receive chunks in input order: the chunk the writer waits for
    // is then always taken by an aligner before later ones, never parked behind them while every
    // aligner is blocked sending those (which would deadlock the decided channel).
    let mut prefetch = Vec::new();
    let sketch_tx = Arc::new(sketch_tx);
    for i in 0..prefetch_threads {
        let rx = chunk_rx.clone();
        let out = match &reorder {
            Some((tx, _)) => PrefetchOut::Reorder(tx.clone()),
            None => PrefetchOut::Feed(Arc::clone(&sketch_tx)),
        };
        prefetch.push(stage::spawn(format!("prefetch-{i}"), move || {
            let counters = metrics::counters();
            while let Some(chunk) = counters.recv(&rx) {
                let span = metrics::span("chunk");
                let features = chunk
                    .records
                    .iter()
                    .map(|r| Features::compute(&coder, sketch, &r.seq))
                    .collect();
                drop(span);
                let sketched = SketchedChunk { chunk, features };
                let sent = match &out {
                    PrefetchOut::Feed(feed) => feed.send(&counters, sketched).is_ok(),
                    PrefetchOut::Reorder(tx) => {
                        let (seq, weight) = (sketched.chunk.index, sketched.weight());
                        let sent = {
                            let _blocked = counters.blocked();
                            tx.send(seq, sketched).is_ok()
                        };
                        if sent {
                            counters.count_out(weight);
                        }
                        sent
                    }
                };
                if !sent {
                    break;
                }
            }
        })?);
    }
    if let Some((tx, rx)) = reorder {
        drop(tx);
        let feed = Arc::clone(&sketch_tx);
        prefetch.push(stage::spawn("reorder", move || {
            let counters = metrics::counters();
            loop {
                let next = {
                    let _waiting = counters.waiting();
                    rx.recv()
                };
                // Err: a prefetch thread died; its panic is reported by the join.
                let Ok(Some(sketched)) = next else { break };
                counters.count_in(sketched.weight());
                if feed.send(&counters, sketched).is_err() {
                    break;
                }
            }
        })?);
    }
    drop((chunk_rx, sketch_tx));

    // Would-be representatives of the chunks decided but not yet written (`reduce::lookahead`).
    let mode = lookahead::Mode::choose(cfg.performance.lookahead, workers, cpus);
    let lookahead = Arc::new(Pool::new(lookahead::keep_for(workers), budgets.lookahead));
    let lower_aligners = priority::lowers_aligners(cfg.performance.writer_priority, workers, cpus);
    let nice_error: Arc<parking_lot::Mutex<Option<String>>> = Arc::default();
    let mut aligners = Vec::new();
    for i in 0..workers {
        let queue = pinning.as_ref().and_then(|p| p.queue_of(i));
        let (rx, tx) = (source_for(&sketch_rx, queue), decided_tx.clone());
        let pinning = pinning.clone();
        let index = Arc::clone(&index);
        let live = Arc::clone(&live);
        let (params, cells) = (params.clone(), budgets.aligner_cells);
        let residue_file = residue_file.clone();
        let pool = Arc::clone(&lookahead);
        let nice_error = Arc::clone(&nice_error);
        aligners.push(stage::spawn(format!("aligner-{i}"), move || {
            if lower_aligners {
                if let Err(e) = stage::raise_thread_nice(priority::ALIGNER_NICE) {
                    nice_error.lock().get_or_insert(e.to_string());
                }
            }
            if let Some(pinning) = &pinning {
                pinning.pin_aligner(i);
                pinning.set_memory_policy(i);
            }
            // Built here, after pinning: its buffers are first touched on this aligner's node.
            let mut decider = CachePlan::attach(
                &caches,
                Decider::new(params, aligner_for(alphabet, cells, simd)),
            )
            .with_residue_file(residue_file);
            let counters = metrics::counters();
            let mut earlier = Vec::new();
            while let Some(SketchedChunk { chunk, features }) = rx.recv(&counters) {
                let span = metrics::span("chunk");
                let before = (decider.stats.alignments, decider.stats.alignments_passed);
                let cache_before = decider.stats.cache;
                let mut own = TentativeChunk::new(chunk.index);
                let verdicts = chunk
                    .records
                    .iter()
                    .zip(&features)
                    .map(|(record, feature)| {
                        let (index, pool) = (&*index, &*pool);
                        let at = Place {
                            index,
                            pool,
                            chunk: chunk.index,
                            mode,
                        };
                        lookahead::decide(&mut decider, at, record, feature, &mut earlier, &mut own)
                    })
                    .collect();
                pool.insert(own);
                drop(span);
                let p = &live.progress;
                Progress::add(&p.alignments, decider.stats.alignments - before.0);
                Progress::add(
                    &p.alignments_passed,
                    decider.stats.alignments_passed - before.1,
                );
                p.add_cache(&cache_before, &decider.stats.cache);
                let seq = chunk.index;
                let decided = DecidedChunk {
                    chunk,
                    features,
                    verdicts,
                };
                let weight = decided.weight();
                let _blocked = counters.blocked();
                if tx.send(seq, decided).is_err() {
                    break;
                }
                counters.count_out(weight);
            }
            decider.stats
        })?);
    }
    drop((sketch_rx, decided_tx));

    let mut held_outputs = None;
    let writer = {
        let index = Arc::clone(&index);
        let digest = Arc::clone(&input_digest);
        let live = Arc::clone(&live);
        let decider = CachePlan::attach(
            &caches,
            Decider::new(
                params.clone(),
                aligner_for(alphabet, budgets.aligner_cells, simd),
            ),
        );
        let unit = unit_of(alphabet);
        let destination = match &plan {
            None => Destination::Emit(Box::new(crate::reduce::emit::Emitter::new(outputs))),
            Some(plan) => {
                let table = plan.records() * longest_first::BYTES_PER_RECORD;
                let keep_ids = outputs.needs_ids();
                held_outputs = Some(outputs);
                Destination::Collect(Decisions::new(
                    plan.records(),
                    keep_ids,
                    budgets.order_table.saturating_sub(table),
                ))
            }
        };
        let residue_file = residue_file.clone();
        let pool = Arc::clone(&lookahead);
        stage::spawn("writer", move || -> Result<_, ReduceError> {
            let mut writer = Writer::new(index, decider, destination, residue_file, pool);
            let counters = metrics::counters();
            loop {
                let next = {
                    let _waiting = counters.waiting();
                    decided_rx.recv()
                };
                match next {
                    Ok(Some(chunk)) => {
                        counters.count_in(chunk.weight());
                        // Out: records decided and their input bytes (progress for --monitor).
                        let done = (chunk.chunk.records.len() as u64, chunk.chunk.data.len());
                        let span = metrics::span("chunk");
                        let stats = &writer.decider().stats;
                        let before = (stats.alignments, stats.alignments_passed);
                        let cache_before = stats.cache;
                        writer.write_chunk(chunk)?;
                        drop(span);
                        counters.count_out_n(done.0, done.1);
                        publish_writer(&live.progress, &writer, before);
                        live.progress
                            .add_cache(&cache_before, &writer.decider().stats.cache);
                    }
                    Ok(None) => break,
                    // A worker died; its panic is reported by the join below.
                    Err(_) => return Ok(None),
                }
            }
            let Some((input_bytes, input_xxh3)) = *digest.lock() else {
                return Ok(None); // the chunker failed; its error is reported by the join below
            };
            Ok(Some((
                writer.finish(input_bytes, input_xxh3, unit)?,
                input_bytes,
            )))
        })?
    };

    live.started(input_file_bytes.filter(|_| compression == "none"), workers);
    let mut monitor = monitor.then(|| {
        use std::io::IsTerminal;
        let size = input_file_bytes.filter(|_| compression == "none");
        crate::reduce::monitor::Monitor::new(
            size,
            cfg.performance.memory_limit,
            std::io::stderr().is_terminal(),
        )
    });
    let mut debug_threads = views
        .debug_threads
        .then(crate::reduce::debug_threads::ThreadDebug::default);
    let mut sampler = Sampler::start(&registry, SAMPLE_INTERVAL, move |r, last| {
        if let Some(d) = debug_threads.as_mut() {
            let lines = d.tick(r, last);
            if !lines.is_empty() {
                if let Some(m) = monitor.as_mut() {
                    m.clear_line();
                }
                let mut err = std::io::stderr().lock();
                let _ = std::io::Write::write_all(&mut err, lines.as_bytes());
            }
        }
        if let Some(m) = monitor.as_mut() {
            m.tick(r, last);
        }
    });

    // Join in pipeline order; the first failure upstream is the root cause.
    let read_result = reader.join();
    let chunk_result = chunker.join();
    let mut first_panic: Option<StagePanic> = None;
    for handle in prefetch {
        if let Err(p) = handle.join() {
            first_panic.get_or_insert(p);
        }
    }
    let mut stats = crate::reduce::decide::DecideStats::default();
    let mut cache_rows = Vec::new();
    for (i, handle) in aligners.into_iter().enumerate() {
        match handle.join() {
            Ok(s) => {
                stats.add(&s);
                cache_rows.push((format!("aligner-{i}"), s.cache));
            }
            Err(p) => {
                first_panic.get_or_insert(p);
            }
        }
    }
    let writer_result = writer.join();
    // The sampler goes on through the longest-first write pass (its thread is a stage too);
    // on an early return, dropping it stops it.
    read_result??;
    chunk_result?.map_err(|error| ReduceError::Fasta {
        path: input_name.clone(),
        error,
    })?;
    if let Some(p) = first_panic {
        return Err(p.into());
    }
    let Some(((finished, mut counts, writer_stats), mut input_bytes)) = writer_result?? else {
        return Err(ReduceError::Usage(
            "internal error: the pipeline ended early".into(),
        ));
    };
    stats.add(&writer_stats);
    cache_rows.push(("writer".to_string(), writer_stats.cache));
    // A representative's residues could not be read back: its pairs were not aligned, so the
    // decisions are not to be trusted, and nothing has been written yet.
    let residue_reads = match &residue_file {
        Some(file) => match file.take_error() {
            Some(error) => return Err(error),
            None => Some(file.reads()),
        },
        None => None,
    };
    drop(residue_file);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let residues_note = match residue_reads {
        Some(r) if plan.is_some() => format!(
            "read back from the input file, not held ({} reads, {:.1} MiB)",
            r.reads,
            mib(r.bytes)
        ),
        Some(r) => format!(
            "spilled to a temporary file a MiB at a time, not held ({:.1} MiB written; {} reads, {:.1} MiB){}",
            mib(r.spilled),
            r.reads,
            mib(r.bytes),
            r.spill_stopped.map(|why| format!("; {why}")).unwrap_or_default()
        ),
        None => match no_spill {
            Some(why) => format!("held in memory ({why})"),
            None => "held in memory".to_string(),
        },
    };
    // Deciding is over: read what the summary needs from the index, then free it, so the
    // longest-first write pass does not hold it too (at 500k proteins the resident set fell
    // from 816 to 344 MiB here). The huge-page and locked figures are read now, while the
    // index still holds its pages.
    let readings = {
        let guard = index.read();
        IndexReadings {
            stats: guard.stats.clone(),
            numa_maps: guard.heads_numa_policy(),
            anon_huge_pages_bytes: cfg
                .performance
                .memory
                .use_huge_pages
                .then(talaria_stages::memory::anon_huge_pages_bytes)
                .flatten(),
            process_locked_bytes: cfg
                .performance
                .use_page_locking
                .then(talaria_stages::memory::locked_bytes)
                .flatten(),
        }
    };
    // Every other holder (aligners, writer) has been joined: this frees it.
    drop(index);
    let index = readings;
    let cache = caches.map(|plan| CacheSummary::new(&plan, &cache_rows));
    let mut order_reads = Vec::new();
    let scan_reads = plan.as_ref().map(|p| p.scan_reads).unwrap_or_default();
    let sinks = match (finished, plan, held_outputs) {
        (Finished::Written(sinks), _, _) => sinks,
        (Finished::Collected(decisions), Some(plan), Some(outputs)) => {
            // Pass 3 of longest first: every output in input order.
            let decider = Decider::new(
                params.clone(),
                aligner_for(alphabet, budgets.aligner_cells, simd),
            );
            let unit = unit_of(alphabet);
            let table_bytes = plan.bytes() + decisions.bytes();
            let dropped = decisions.dropped;
            let written = stage::spawn("rewriter", move || {
                longest_first::write_in_input_order(&plan, decisions, outputs, decider, unit)
            })?
            .join()??;
            counts.add_written(&written.counts);
            input_bytes = written.reads.bytes;
            order_reads.push(("scan-read".to_string(), scan_reads));
            order_reads.push(("rewrite-read".to_string(), written.reads));
            order_note.push_str(&format!(
                "; table {:.1} MiB, {} deltas recomputed",
                table_bytes as f64 / (1024.0 * 1024.0),
                written.recomputed
            ));
            debug_assert_eq!(dropped, written.recomputed);
            written.sinks
        }
        _ => {
            return Err(ReduceError::Usage(
                "internal error: longest-first decisions without a plan".into(),
            ))
        }
    };

    sampler.stop();
    // Every stage succeeded: now, and only now, the outputs get their final names.
    let mut written = Vec::new();
    for sink in sinks {
        written.push(sink.commit()?);
    }
    if views.debug_threads {
        eprint!("{}", crate::reduce::debug_threads::final_table(&registry));
    }
    let seconds = started.elapsed().as_secs_f64();
    let totals = crate::reduce::profile::RunTotals {
        seconds,
        aligner_threads: workers,
        records: counts.records,
        input_bytes,
        reader_mode: reader_name.clone(),
        prefetch: {
            let mut f = crate::reduce::profile::PrefetchIo {
                distance_blocks: cfg.performance.prefetch_distance as u64,
                threads: prefetch_threads,
                ..Default::default()
            };
            for stats in &readahead {
                let (ranges, bytes, failed, window) = stats.snapshot();
                f.ranges_advised += ranges;
                f.bytes_advised += bytes;
                f.advice_failed += failed;
                f.window_bytes = f.window_bytes.max(window);
            }
            f
        },
        pool: {
            let s = pool.stats();
            crate::reduce::profile::PoolIo {
                capacity_bytes: s.capacity,
                buffers_allocated: s.allocated,
                buffers_reused: s.reused,
                buffers_freed: s.dropped,
                peak_idle_bytes: s.peak_idle,
            }
        },
        compression: compression.clone(),
        prefix_reads,
        order_reads: order_reads
            .into_iter()
            .map(|(name, r)| crate::reduce::profile::PassIo::of(name, r.bytes, r.calls, r.read_ns))
            .collect(),
        simd: simd.name().into(),
    };
    let profile = crate::reduce::profile::RunProfile::collect(&registry, &stats, &totals)
        .with_cache(cache.as_ref().map(|c| c.total.clone()));
    // The run's totals, so the exporter's last figures are exact, then its final send.
    let p = &live.progress;
    for (counter, total) in [
        (&p.records, counts.records),
        (&p.representatives, counts.representatives),
        (&p.members, counts.members),
        (&p.exact_members, counts.exact_members),
        (&p.alignments, stats.alignments),
        (&p.alignments_passed, stats.alignments_passed),
        (&p.cache_hits, stats.cache.hits),
        (&p.cache_misses, stats.cache.misses),
    ] {
        Progress::set(counter, total);
    }
    live.finish();
    if let Some(exporter) = exporter {
        exporter.finish();
    }
    let nice_error = nice_error.lock().take();
    Ok(Summary {
        input_name,
        compression,
        reader: reader_name,
        alphabet: alphabet.name().into(),
        kmer_size: k,
        sketch_scale: sketch.scale(),
        search_auto: cfg.alignment.use_sketching == Switch::Auto
            && cfg.reduce.kmer_size == 0
            && cfg.alignment.spaced_seed == "auto",
        seed: coder.seed().map(|s| s.pattern()),
        threshold: params.threshold,
        order: order_note,
        residues: residues_note,
        threads: workers,
        records: counts.records,
        representatives: counts.representatives,
        members: counts.members,
        exact_members: counts.exact_members,
        input_file_bytes,
        input_bytes,
        reduced_bytes: counts.reduced_bytes,
        deltas_bytes: job.deltas.as_ref().map(|_| written[1]),
        seconds,
        peak_rss: talaria_stages::memory::peak_rss_bytes(),
        memory_limit: cfg.performance.memory_limit,
        alignments: stats.alignments,
        alignments_passed: stats.alignments_passed,
        rechecks: counts.rechecks,
        recheck_joins: counts.recheck_joins,
        lookahead_settled: counts.lookahead_settled,
        lookahead: match (cfg.performance.lookahead, mode) {
            (Switch::Auto, lookahead::Mode::Off) => format!(
                "off: auto needs {} CPUs and {} aligner threads, this run has {cpus} and {workers}",
                lookahead::AUTO_MIN_CPUS,
                lookahead::AUTO_MIN_WORKERS
            ),
            _ => mode.describe(),
        },
        writer_priority: priority::describe(
            cfg.performance.writer_priority,
            workers,
            cpus,
            lower_aligners,
            nice_error.as_deref(),
        ),
        redone: counts.redone,
        index_peak_bytes: index.stats.peak_bytes,
        index_budget: budgets.index as u64,
        index_evicted: index.stats.evicted,
        index_not_indexed: index.stats.not_indexed,
        too_large: stats.too_large,
        band: params.band.describe(),
        candidates: describe_candidates(&params),
        widened: stats.widened,
        ruled_out_by_lcs: stats.ruled_out_by_lcs,
        passed_after_widening: stats.passed_after_widening,
        preset: preset_report(cfg, &stats),
        placement: pinning.map(|p| {
            let mut report = p.report();
            if let Some(memory) = report.memory.as_mut().filter(|m| m.interleave.is_some()) {
                memory.index = Some(crate::reduce::numa::IndexPlacement {
                    bound_bytes: index.stats.interleaved_bytes,
                    numa_maps: index.numa_maps.clone(),
                    error: index.stats.interleave_error.clone(),
                });
            }
            report
        }),
        allocator: crate::alloc::COMPILED.name().into(),
        simd: describe_simd(cfg, simd),
        huge_pages: cfg.performance.memory.use_huge_pages.then(|| {
            crate::reduce::summary::HugePages {
                index_advised_bytes: index.stats.huge_pages_advised,
                anon_huge_pages_bytes: index.anon_huge_pages_bytes,
                kernel_mode: talaria_stages::memory::transparent_huge_pages_mode(),
            }
        }),
        page_locking: cfg.performance.use_page_locking.then(|| {
            crate::reduce::summary::PageLocking {
                allowed_bytes: lock_bytes as u64,
                index_locked_bytes: index.stats.locked_bytes,
                process_locked_bytes: index.process_locked_bytes,
                not_locked: lock_refused.or_else(|| index.stats.lock_error.clone()),
            }
        }),
        memory_trace: crate::reduce::memtrace::MemoryTrace::take(),
        cache,
        profile,
    })
}

/// What the summary reports about the index, read when deciding ends (the index is freed then).
struct IndexReadings {
    stats: crate::reduce::index::IndexStats,
    numa_maps: Option<String>,
    anon_huge_pages_bytes: Option<u64>,
    process_locked_bytes: Option<u64>,
}

/// The writer's counts after a chunk, and the alignments it ran for it, as live figures.
fn publish_writer(progress: &Progress, writer: &Writer, before: (u64, u64)) {
    let c = writer.counts();
    Progress::set(&progress.records, c.records);
    Progress::set(&progress.representatives, c.representatives);
    Progress::set(&progress.members, c.members);
    Progress::set(&progress.exact_members, c.exact_members);
    let stats = &writer.decider().stats;
    Progress::add(&progress.alignments, stats.alignments - before.0);
    Progress::add(
        &progress.alignments_passed,
        stats.alignments_passed - before.1,
    );
}

/// The summary's `candidates:` text.
fn describe_candidates(params: &Params) -> String {
    let filter = if params.kmer_filter && params.sketch.scale() > 1 {
        "sharing the sketch k-mers an alignment at the threshold should keep (short-word bound scaled to the sketch: an estimate)"
    } else if params.kmer_filter {
        "sharing the k-mers an alignment at the threshold keeps (short-word bound)"
    } else {
        "sharing any k-mer (use_approximation off)"
    };
    let floor = match params.min_shared {
        0 | 1 => String::new(),
        n => format!(", and at least {n}"),
    };
    format!(
        "indexed representatives {filter}{floor}, first {} in input order",
        params.max_candidates
    )
}

/// `performance.use_page_locking`: how many bytes of the index to lock (the smaller of
/// `locked_memory_gb` and the index budget, so locked memory stays inside the memory limit), and
/// why none when RLIMIT_MEMLOCK, raised as far as the hard limit allows, is below that; then
/// one warning is printed and the run carries on unlocked.
fn page_lock_bytes(
    p: &crate::config::PerformanceConfig,
    index_budget: usize,
) -> (usize, Option<String>) {
    if !p.use_page_locking {
        return (0, None);
    }
    let want = p.locked_memory.min(index_budget as u64);
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    let why = match talaria_stages::memory::raise_memlock_soft(want) {
        Some(soft) if soft >= want => return (want as usize, None),
        Some(soft) => format!(
            "RLIMIT_MEMLOCK (ulimit -l) is {:.1} MiB, below the {:.1} MiB to lock \
             (performance.locked_memory_gb, at most the index budget)",
            mib(soft),
            mib(want)
        ),
        None => "RLIMIT_MEMLOCK cannot be read".to_string(),
    };
    eprintln!("talaria: warning: {why}; running without page locking");
    (0, Some(why))
}

/// Where a prefetch thread sends: straight to the aligners' queue(s) when it is the only one,
/// else to the ordered channel that `reorder` drains.
enum PrefetchOut {
    Feed(Arc<Feed<SketchedChunk>>),
    Reorder(ordered::OrderedSender<SketchedChunk>),
}

/// The aligners' input: per-L3 queues when the run has a queue plan (`ccx_affinity`), else one
/// shared channel. Returns the feed and one source per queue (one for the shared channel).
fn sketched_queues(
    pinning: Option<&crate::reduce::placement::Pinning>,
    budget: usize,
) -> (Feed<SketchedChunk>, Vec<Source<SketchedChunk>>) {
    match pinning.and_then(|p| p.queues.as_ref()) {
        Some(plan) => {
            let (dealer, takers) = talaria_stages::stealing::domains(
                "sketched",
                budget,
                plan.runs.clone(),
                plan.steal_order.clone(),
            );
            if let Some(p) = pinning {
                p.set_queue_probe(dealer.domain_probe());
            }
            (
                Feed::Domains(dealer),
                takers.into_iter().map(Source::Domain).collect(),
            )
        }
        None => {
            let (tx, rx) = channel::bounded::<SketchedChunk>("sketched", budget);
            (Feed::Shared(tx), vec![Source::Shared(rx)])
        }
    }
}

/// Aligner input for queue `queue` (None: the shared channel).
fn source_for(sources: &[Source<SketchedChunk>], queue: Option<usize>) -> Source<SketchedChunk> {
    match &sources[queue.unwrap_or(0).min(sources.len() - 1)] {
        Source::Shared(rx) => Source::Shared(rx.clone()),
        Source::Domain(taker) => Source::Domain(taker.for_domain(taker.domain())),
    }
}

/// The kernel line of the summary: the level, and how it was chosen.
fn describe_simd(cfg: &Config, simd: SimdLevel) -> String {
    let how = if !cfg.performance.use_simd {
        "performance.use_simd = false"
    } else if cfg.performance.auto_detect_simd {
        "auto-detected, the widest this CPU has"
    } else {
        "performance.simd_alignment"
    };
    format!("{simd} ({how})")
}

/// Length unit of the `.clstr` listing.
fn unit_of(alphabet: Alphabet) -> &'static str {
    if alphabet == Alphabet::Protein {
        "aa"
    } else {
        "nt"
    }
}

fn aligner_for(alphabet: Alphabet, max_cells: usize, simd: SimdLevel) -> Aligner {
    Aligner::for_alphabet(alphabet)
        .with_max_cells(max_cells)
        .with_simd(simd)
        .expect("Config::simd_level checked the level on this CPU")
}

fn sink_error(path: &OutputPath, e: std::io::Error) -> SinkError {
    let path = match path {
        OutputPath::Stdout => "<stdout>".to_string(),
        OutputPath::File(p) => p.display().to_string(),
    };
    SinkError {
        path,
        message: e.to_string(),
        kind: Some(e.kind()),
    }
}

/// Chunker stage body: hash the raw input (for the deltas trailer), cut it into chunks.
fn chunk_stage(
    rx: Receiver<Block>,
    tx: Sender<Chunk>,
    records: usize,
    bytes: usize,
    digest: Arc<Mutex<Option<(u64, u64)>>>,
    progress: &Progress,
) -> Result<(), FastaError> {
    let mut chunker = Chunker::new(records, bytes);
    let mut hasher = xxhash_rust::xxh3::Xxh3::new();
    let mut total = 0u64;
    let mut ready = Vec::new();
    let counters = metrics::counters();
    while let Some(block) = counters.recv(&rx) {
        let span = metrics::span("chunk");
        hasher.update(&block.data);
        total += block.data.len() as u64;
        chunker.push(&block.data, &mut ready)?;
        drop(span);
        for chunk in ready.drain(..) {
            Progress::add(&progress.records_read, chunk.records.len() as u64);
            if counters.send(&tx, chunk).is_err() {
                return Ok(()); // downstream stopped; its error is reported elsewhere
            }
        }
    }
    chunker.finish(&mut ready)?;
    for chunk in ready.drain(..) {
        Progress::add(&progress.records_read, chunk.records.len() as u64);
        if counters.send(&tx, chunk).is_err() {
            return Ok(());
        }
    }
    *digest.lock() = Some((total, hasher.digest()));
    Ok(())
}

/// The sequence lines of a FASTA prefix (for alphabet detection; the last, possibly cut, line
/// is included — a partial line of residues is still residues).
fn sequence_lines(prefix: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for line in prefix.split(|&b| b == b'\n') {
        if !line.starts_with(b">") {
            out.extend(line.iter().filter(|b| !b.is_ascii_whitespace()));
        }
    }
    out
}

/// The preset line of the summary: None unless a preset is selected or a switch is on.
fn preset_report(
    cfg: &Config,
    stats: &crate::reduce::decide::DecideStats,
) -> Option<crate::reduce::summary::PresetReport> {
    let p = &cfg.performance;
    let (h, l) = (&p.high_similarity, &p.low_similarity);
    let tweaks: Vec<String> = [
        (h.use_diff_encoding, "high_similarity.use_diff_encoding"),
        (h.reference_caching, "high_similarity.reference_caching"),
        (h.delta_compression, "high_similarity.delta_compression"),
        (h.fast_exact_match, "high_similarity.fast_exact_match"),
        (
            l.use_approximate_matching,
            "low_similarity.use_approximate_matching",
        ),
        (l.increase_band_width, "low_similarity.increase_band_width"),
        (l.reduce_cache_size, "low_similarity.reduce_cache_size"),
        (
            l.aggressive_filtering,
            "low_similarity.aggressive_filtering",
        ),
    ]
    .into_iter()
    .filter(|(on, _)| *on)
    .map(|(_, name)| name.to_string())
    .collect();
    if tweaks.is_empty() && p.profile_preset == crate::config::ProfilePreset::None {
        return None;
    }
    Some(crate::reduce::summary::PresetReport {
        preset: p.profile_preset.name().into(),
        tweaks,
        shortcut_exact: stats.shortcut_exact,
        shortcut_ungapped: stats.shortcut_ungapped,
        deltas_zstd_level: deltas_level(cfg),
    })
}

/// The deltas file's zstd level: harder with `high_similarity.delta_compression`.
fn deltas_level(cfg: &Config) -> i32 {
    if cfg.performance.high_similarity.delta_compression {
        crate::config::DELTA_COMPRESSION_LEVEL
    } else {
        crate::delta::file::DEFAULT_ZSTD_LEVEL
    }
}
