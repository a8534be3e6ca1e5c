//! Reader tests: every compression plain, multi-member and truncated; mmap and buffered engines;
//! pipes, a fifo and a real child process's stdin; error messages; the block stage.

use super::*;
use crate::channel;
use crate::stage::StageCounters;
use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

/// Deterministic FASTA-looking bytes (compressible, but not trivially).
fn fasta(len: usize, seed: u64) -> Vec<u8> {
    let mut out = Vec::with_capacity(len + 80);
    let mut state = seed
        .wrapping_mul(6364136223846793005)
        .wrapping_add(1442695040888963407);
    let mut record = 0;
    while out.len() < len {
        writeln!(out, ">seq{record} test record").unwrap();
        record += 1;
        for _ in 0..(3 + record % 5) {
            for _ in 0..60 {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                out.push(b"ACGT"[(state >> 62) as usize]);
            }
            out.push(b'\n');
        }
    }
    out.truncate(len);
    out
}

const ALL: [Compression; 5] = [
    Compression::None,
    Compression::Gzip,
    Compression::Zstd,
    Compression::Bzip2,
    Compression::Xz,
];

fn compress(kind: Compression, data: &[u8]) -> Vec<u8> {
    match kind {
        Compression::None => data.to_vec(),
        Compression::Gzip => {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Zstd => zstd::encode_all(data, 3).unwrap(),
        Compression::Bzip2 => {
            let mut e = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
        Compression::Xz => {
            let mut e = xz2::write::XzEncoder::new(Vec::new(), 6);
            e.write_all(data).unwrap();
            e.finish().unwrap()
        }
    }
}

fn write_file(dir: &Path, name: &str, bytes: &[u8]) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, bytes).unwrap();
    path
}

fn spec(path: &Path, engine: Engine, mmap_threshold: u64) -> InputSpec {
    InputSpec {
        path: Some(path.to_path_buf()),
        engine,
        mmap_threshold,
    }
}

/// Everything `read_block` delivers, in odd-sized pieces to cross internal buffer boundaries.
fn read_all(input: &mut Input) -> Result<Vec<u8>, ReadError> {
    let mut out = Vec::new();
    while input.read_block(&mut out, 77_777)? > 0 {}
    Ok(out)
}

/// A reader that hands out one byte per call, like a slow pipe.
struct Trickle<R>(R);
impl<R: Read> Read for Trickle<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = buf.len().min(1);
        self.0.read(&mut buf[..n])
    }
}

#[test]
fn every_compression_is_sniffed_and_decoded_from_a_file() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(300_000, 1);
    for kind in ALL {
        let path = write_file(
            dir.path(),
            &format!("in.{}", kind.name()),
            &compress(kind, &data),
        );
        let mut input = Input::open(&spec(&path, Engine::Read, 0)).unwrap();
        assert_eq!(input.compression(), kind);
        assert_eq!(input.engine_name(), "buffered");
        assert_eq!(
            input.size_hint(),
            Some(std::fs::metadata(&path).unwrap().len())
        );
        assert_eq!(input.name(), path.display().to_string());
        assert!(
            read_all(&mut input).unwrap() == data,
            "{kind:?} content differs"
        );
        assert_eq!(input.position(), data.len() as u64);
    }
}

#[test]
fn sniffing_works_when_the_magic_arrives_one_byte_at_a_time() {
    let data = fasta(20_000, 2);
    for kind in ALL {
        let stream = Cursor::new(compress(kind, &data));
        let mut input = Input::from_reader("pipe", Box::new(Trickle(stream)), None).unwrap();
        assert_eq!(input.compression(), kind);
        assert_eq!(input.size_hint(), None);
        assert!(
            read_all(&mut input).unwrap() == data,
            "{kind:?} content differs"
        );
    }
}

#[test]
fn concatenated_members_and_frames_are_all_read() {
    let (a, b) = (fasta(50_000, 3), fasta(70_000, 4));
    let whole: Vec<u8> = [a.as_slice(), b.as_slice()].concat();
    for kind in ALL {
        let joined = [compress(kind, &a), compress(kind, &b)].concat();
        let mut input = Input::from_reader("cat", Box::new(Cursor::new(joined)), None).unwrap();
        assert!(
            read_all(&mut input).unwrap() == whole,
            "{kind:?}: second member lost"
        );
    }
}

#[test]
fn truncated_streams_are_errors_naming_file_stream_and_offset() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(200_000, 5);
    for kind in ALL.into_iter().filter(|k| *k != Compression::None) {
        let packed = compress(kind, &data);
        for cut in [packed.len() / 2, packed.len() - 3] {
            let name = format!("cut-{cut}.{}", kind.name());
            let path = write_file(dir.path(), &name, &packed[..cut]);
            let mut input = Input::open(&spec(&path, Engine::Auto, 0)).unwrap();
            assert_eq!(input.compression(), kind);
            let e = read_all(&mut input).expect_err(&format!("{name}: truncation not detected"));
            assert_eq!(e.path, path.display().to_string());
            let wanted = format!("truncated or corrupt {} stream", kind.name());
            assert!(
                e.message.starts_with(&wanted),
                "{name}: message {:?}",
                e.message
            );
            let offset = e.offset.expect("offset");
            assert!(offset <= data.len() as u64, "{name}: offset {offset}");
            assert!(e
                .to_string()
                .starts_with(&format!("{}: {wanted}", path.display())));
            assert!(
                e.to_string()
                    .ends_with(&format!("(at decompressed byte {offset})")),
                "{e}"
            );
        }
    }
}

#[test]
fn corrupt_header_after_the_magic_is_an_error_not_a_panic() {
    for kind in ALL.into_iter().filter(|k| *k != Compression::None) {
        let mut bytes = compress(kind, b">a\nACGT\n")[..6].to_vec();
        bytes.extend_from_slice(&[0xAA; 64]);
        let mut input = Input::from_reader("bad", Box::new(Cursor::new(bytes)), None).unwrap();
        let e = read_all(&mut input).expect_err(kind.name());
        assert!(e.message.contains(kind.name()), "{kind:?}: {}", e.message);
        assert_eq!(e.path, "bad");
    }
}

#[test]
fn regular_files_are_mapped_at_the_threshold_and_compressed_ones_never() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(1_000_000, 6);
    let plain = write_file(dir.path(), "plain.fa", &data);
    let cases = [
        (Engine::Auto, 1_000_000, "mmap"),
        (Engine::Auto, 1_000_001, "buffered"),
        (Engine::Read, 0, "buffered"),
        (Engine::Mmap, u64::MAX, "mmap"),
    ];
    for (engine, threshold, expected) in cases {
        let mut input = Input::open(&spec(&plain, engine, threshold)).unwrap();
        assert_eq!(
            input.engine_name(),
            expected,
            "{engine:?} at threshold {threshold}"
        );
        assert_eq!(input.compression(), Compression::None);
        assert!(read_all(&mut input).unwrap() == data);
        assert_eq!(input.position(), data.len() as u64);
    }
    let gz = write_file(
        dir.path(),
        "plain.fa.gz",
        &compress(Compression::Gzip, &data),
    );
    let mut input = Input::open(&spec(&gz, Engine::Mmap, 0)).unwrap();
    assert_eq!(
        (input.engine_name(), input.compression()),
        ("buffered", Compression::Gzip)
    );
    assert!(read_all(&mut input).unwrap() == data);
}

#[test]
fn empty_file_reads_as_empty_with_any_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "empty.fa", b"");
    for engine in [Engine::Auto, Engine::Read, Engine::Mmap] {
        let mut input = Input::open(&spec(&path, engine, 0)).unwrap();
        assert_eq!(input.engine_name(), "buffered");
        assert!(read_all(&mut input).unwrap().is_empty());
    }
}

#[test]
fn io_read_gives_the_same_bytes_for_every_engine() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(500_000, 7);
    let plain = write_file(dir.path(), "p.fa", &data);
    let zst = write_file(dir.path(), "p.fa.zst", &compress(Compression::Zstd, &data));
    for (path, engine) in [
        (&plain, Engine::Mmap),
        (&plain, Engine::Read),
        (&zst, Engine::Auto),
    ] {
        let mut input = Input::open(&spec(path, engine, 0)).unwrap();
        let mut out = Vec::new();
        let mut piece = [0u8; 4093];
        loop {
            let n = input.read(&mut piece).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&piece[..n]);
        }
        assert!(out == data, "{} via io::Read", input.engine_name());
        assert_eq!(input.position(), data.len() as u64);
    }
    // A damaged stream read through io::Read keeps its kind and says what is damaged.
    let packed = compress(Compression::Xz, &data);
    let cut = write_file(dir.path(), "cut.xz", &packed[..packed.len() / 2]);
    let mut input = Input::open(&spec(&cut, Engine::Auto, 0)).unwrap();
    let e = std::io::copy(&mut input, &mut std::io::sink()).unwrap_err();
    assert!(
        e.to_string().starts_with("truncated or corrupt xz stream"),
        "{e}"
    );
}

#[test]
fn missing_files_and_directories_are_clear_errors() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("nope.fa");
    let e = Input::open(&spec(&missing, Engine::Auto, 0)).err().unwrap();
    assert_eq!(e.path, missing.display().to_string());
    assert!(
        e.message.contains("No such file or directory"),
        "{}",
        e.message
    );
    assert_eq!(
        (e.kind, e.offset),
        (Some(std::io::ErrorKind::NotFound), None)
    );
    assert!(e
        .to_string()
        .starts_with(&format!("{}: No such file", missing.display())));

    let e = Input::open(&spec(dir.path(), Engine::Mmap, 0))
        .err()
        .unwrap();
    assert!(e.message.contains("directory"), "{}", e.message);
    assert_eq!(e.kind, Some(std::io::ErrorKind::IsADirectory));
}

/// Resident bytes of the mapping of `path` in this process, from /proc/self/smaps.
fn mapped_rss(path: &Path) -> u64 {
    let smaps = std::fs::read_to_string("/proc/self/smaps").unwrap();
    let wanted = path.display().to_string();
    let mut inside = false;
    let mut total = 0;
    for line in smaps.lines() {
        let first = line.split_whitespace().next().unwrap_or("");
        if first.contains('-') && first.chars().all(|c| c.is_ascii_hexdigit() || c == '-') {
            inside = line.ends_with(&wanted);
        } else if inside && line.starts_with("Rss:") {
            total += line
                .split_whitespace()
                .nth(1)
                .unwrap()
                .parse::<u64>()
                .unwrap()
                * 1024;
        }
    }
    total
}

#[test]
#[cfg(target_os = "linux")]
fn mapped_reading_releases_pages_behind_itself() {
    const SIZE: usize = 48 << 20;
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(SIZE, 8);
    let path = write_file(dir.path(), "big.fa", &data);
    let mut input = Input::open(&spec(&path, Engine::Mmap, 0)).unwrap();
    assert_eq!(input.engine_name(), "mmap");
    let (mut peak, mut total, mut block) = (0, 0, Vec::with_capacity(1 << 20));
    loop {
        block.clear();
        let n = input.read_block(&mut block, 1 << 20).unwrap();
        if n == 0 {
            break;
        }
        assert!(block[..] == data[total..total + n]);
        total += n;
        peak = peak.max(mapped_rss(&path));
    }
    assert_eq!(total, SIZE);
    // Without release the whole 48 MiB would be resident by the end.
    assert!(
        peak < 2 * RELEASE_STEP as u64 + (4 << 20),
        "mapping grew to {} MiB resident",
        peak >> 20
    );
    assert!(
        peak > 0,
        "smaps did not show the mapping; the test measured nothing"
    );
    assert_eq!(mapped_rss(&path), 0, "pages left resident at the end");
}

#[test]
fn pipes_are_read_while_the_writer_is_still_writing() {
    let data = fasta(400_000, 9);
    let packed = compress(Compression::Gzip, &data);
    let (reader, mut writer) = std::io::pipe().unwrap();
    let feeder = std::thread::spawn(move || {
        writer.write_all(&packed[..1]).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(10));
        for piece in packed[1..].chunks(4096) {
            writer.write_all(piece).unwrap();
        }
    });
    let mut input = Input::from_reader("<pipe>", Box::new(reader), None).unwrap();
    assert_eq!(
        (input.compression(), input.engine_name()),
        (Compression::Gzip, "buffered")
    );
    assert!(read_all(&mut input).unwrap() == data);
    feeder.join().unwrap();
}

#[test]
#[cfg(unix)]
fn a_fifo_path_falls_back_to_buffered_reads() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let data = fasta(300_000, 10);
    let packed = compress(Compression::Bzip2, &data);
    let feeder = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            std::fs::OpenOptions::new()
                .write(true)
                .open(fifo)
                .unwrap()
                .write_all(&packed)
        })
    };
    let mut input = Input::open(&spec(&fifo, Engine::Mmap, 0)).unwrap();
    assert_eq!(
        (input.engine_name(), input.compression(), input.size_hint()),
        ("buffered", Compression::Bzip2, None)
    );
    assert!(read_all(&mut input).unwrap() == data);
    feeder.join().unwrap().unwrap();
}

const STDIN_CHILD: &str = "TALARIA_STAGES_STDIN_CHILD";

#[test]
fn stdin_of_a_real_process_is_read_and_decompressed() {
    let data = fasta(600_000, 11);
    if std::env::var_os(STDIN_CHILD).is_some() {
        // Child: standard input is the parent's pipe.
        let mut input = Input::open(&InputSpec {
            path: None,
            engine: Engine::Mmap,
            mmap_threshold: 0,
        })
        .unwrap();
        assert_eq!((input.name(), input.engine_name()), ("<stdin>", "buffered"));
        assert_eq!(input.compression(), Compression::Zstd);
        assert!(
            read_all(&mut input).unwrap() == data,
            "stdin content differs"
        );
        return;
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reader::tests::stdin_of_a_real_process_is_read_and_decompressed",
            "--test-threads=1",
        ])
        .env(STDIN_CHILD, "1")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdin = child.stdin.take().unwrap();
    let packed = compress(Compression::Zstd, &data);
    let feeder = std::thread::spawn(move || stdin.write_all(&packed));
    let out = child.wait_with_output().unwrap();
    feeder.join().unwrap().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
}

#[test]
fn read_blocks_numbers_blocks_and_counts_them() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(1_000_000, 12);
    let path = write_file(dir.path(), "b.fa", &data);
    for engine in [Engine::Mmap, Engine::Read] {
        let input = Input::open(&spec(&path, engine, 0)).unwrap();
        let (tx, rx) = channel::bounded::<Block>("blocks", 1 << 20);
        let counters = StageCounters::default();
        let blocks = std::thread::scope(|s| {
            let consumer = s.spawn(|| rx.iter().collect::<Vec<Block>>());
            let summary = read_blocks(input, 300_000, tx, &counters).unwrap();
            assert_eq!((summary.blocks, summary.bytes), (4, 1_000_000));
            consumer.join().unwrap()
        });
        let shape: Vec<(u64, u64, usize)> = blocks
            .iter()
            .map(|b| (b.index, b.offset, b.data.len()))
            .collect();
        assert_eq!(
            shape,
            vec![
                (0, 0, 300_000),
                (1, 300_000, 300_000),
                (2, 600_000, 300_000),
                (3, 900_000, 100_000)
            ]
        );
        assert!(blocks
            .iter()
            .flat_map(|b| b.data.iter().copied())
            .eq(data.iter().copied()));
        assert_eq!(counters.items_out.load(Ordering::Relaxed), 4);
        assert_eq!(counters.bytes_out.load(Ordering::Relaxed), 1_000_000);
        assert!(counters.busy_ns.load(Ordering::Relaxed) > 0);
    }
}

#[test]
fn read_blocks_offsets_continue_after_a_prefix_read() {
    let data = fasta(10_000, 13);
    let mut input = Input::from_reader("x", Box::new(Cursor::new(data.clone())), None).unwrap();
    let mut prefix = Vec::new();
    input.read_block(&mut prefix, 1000).unwrap();
    let (tx, rx) = channel::bounded::<Block>("blocks", usize::MAX);
    let summary = read_blocks(input, 4096, tx, &StageCounters::default()).unwrap();
    let blocks: Vec<Block> = rx.iter().collect();
    assert_eq!((summary.blocks, summary.bytes), (3, 9000));
    assert_eq!(
        blocks.iter().map(|b| b.offset).collect::<Vec<_>>(),
        vec![1000, 5096, 9192]
    );
}

#[test]
fn read_blocks_on_empty_input_sends_nothing() {
    let input = Input::from_reader("empty", Box::new(Cursor::new(Vec::new())), None).unwrap();
    let (tx, rx) = channel::bounded::<Block>("blocks", 1 << 20);
    let summary = read_blocks(input, 1 << 16, tx, &StageCounters::default()).unwrap();
    assert_eq!((summary.blocks, summary.bytes), (0, 0));
    assert!(rx.recv().is_none());
}

#[test]
fn read_blocks_stops_quietly_when_the_receiver_is_gone() {
    let input = Input::from_reader("x", Box::new(Cursor::new(fasta(100_000, 14))), None).unwrap();
    let (tx, rx) = channel::bounded::<Block>("blocks", 1 << 20);
    drop(rx);
    let counters = StageCounters::default();
    let summary = read_blocks(input, 1 << 12, tx, &counters).unwrap();
    assert_eq!((summary.blocks, summary.bytes), (0, 0));
    assert_eq!(counters.items_out.load(Ordering::Relaxed), 0);
}

#[test]
fn read_blocks_reports_a_truncated_stream_after_the_good_blocks() {
    let data = fasta(400_000, 15);
    let packed = compress(Compression::Gzip, &data);
    let input = Input::from_reader(
        "cut.gz",
        Box::new(Cursor::new(packed[..packed.len() / 2].to_vec())),
        None,
    )
    .unwrap();
    let (tx, rx) = channel::bounded::<Block>("blocks", usize::MAX);
    let e = read_blocks(input, 100_000, tx, &StageCounters::default()).unwrap_err();
    assert!(
        e.message.starts_with("truncated or corrupt gzip stream"),
        "{}",
        e.message
    );
    assert_eq!(e.path, "cut.gz");
    let blocks: Vec<Block> = rx.iter().collect();
    let good: usize = blocks.iter().map(|b| b.data.len()).sum();
    // The complete blocks before the damage are delivered; the partial one is not.
    assert!(
        !blocks.is_empty() && blocks.iter().all(|b| b.data.len() == 100_000),
        "{good}"
    );
    assert!(blocks
        .iter()
        .flat_map(|b| b.data.iter())
        .eq(data[..good].iter()));
    let offset = e.offset.unwrap();
    assert!(
        offset >= good as u64 && offset < good as u64 + 100_000,
        "offset {offset} after {good}"
    );
}

#[test]
fn input_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Input>();
    assert_send::<Block>();
}
