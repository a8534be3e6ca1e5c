//! Reader tests: every compression plain, multi-member and truncated; every engine (read, mmap, io_uring, the inflate thread);
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
        ..InputSpec::default()
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
        assert_eq!(input.engine_name(), "read");
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
        (Engine::Auto, 1_000_001, "read"),
        (Engine::Read, 0, "read"),
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
    // Auto never maps a compressed file; an explicit mmap decodes from the mapping.
    for (engine, expected) in [(Engine::Auto, "read"), (Engine::Mmap, "mmap")] {
        let mut input = Input::open(&spec(&gz, engine, 0)).unwrap();
        assert_eq!(
            (input.engine_name(), input.compression()),
            (expected, Compression::Gzip)
        );
        assert!(read_all(&mut input).unwrap() == data);
    }
}

#[test]
fn empty_file_reads_as_empty_with_any_engine() {
    let dir = tempfile::tempdir().unwrap();
    let path = write_file(dir.path(), "empty.fa", b"");
    for engine in [Engine::Auto, Engine::Read, Engine::Mmap, Engine::Uring] {
        let mut input = Input::open(&spec(&path, engine, 0)).unwrap();
        assert!(read_all(&mut input).unwrap().is_empty(), "{engine:?}");
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
        (&plain, Engine::Uring),
        (&zst, Engine::Auto),
        (&zst, Engine::Uring),
        (&zst, Engine::Mmap),
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
        (Compression::Gzip, "read")
    );
    assert!(read_all(&mut input).unwrap() == data);
    feeder.join().unwrap();
}

#[test]
#[cfg(unix)]
fn a_fifo_path_is_read_by_read_and_uring_and_refused_by_mmap() {
    let dir = tempfile::tempdir().unwrap();
    let fifo = dir.path().join("fifo");
    let c_path = std::ffi::CString::new(fifo.display().to_string()).unwrap();
    // SAFETY: c_path is a valid NUL-terminated string that outlives the call.
    assert_eq!(unsafe { libc::mkfifo(c_path.as_ptr(), 0o600) }, 0);
    let data = fasta(300_000, 10);
    let packed = compress(Compression::Bzip2, &data);
    // Opening a fifo waits for a writer: one that opens and closes.
    let opener = {
        let fifo = fifo.clone();
        std::thread::spawn(move || drop(std::fs::OpenOptions::new().write(true).open(fifo)))
    };
    let e = Input::open(&spec(&fifo, Engine::Mmap, 0)).err().unwrap();
    opener.join().unwrap();
    assert_eq!(e.kind, Some(std::io::ErrorKind::Unsupported));
    assert!(e.message.contains("cannot be memory-mapped"), "{e}");
    for engine in [Engine::Auto, Engine::Uring] {
        let feeder = {
            let (fifo, packed) = (fifo.clone(), packed.clone());
            std::thread::spawn(move || {
                std::fs::OpenOptions::new()
                    .write(true)
                    .open(fifo)
                    .unwrap()
                    .write_all(&packed)
            })
        };
        let mut input = Input::open(&spec(&fifo, engine, 0)).unwrap();
        assert_eq!(
            (input.compression(), input.size_hint()),
            (Compression::Bzip2, None)
        );
        if engine == Engine::Uring && input.fallback().is_none() {
            let Used::Uring { depth, stream, .. } = input.engine() else {
                panic!("{:?}", input.engine())
            };
            assert_eq!((depth, stream), (1, true), "a pipe has one read in flight");
        }
        assert!(read_all(&mut input).unwrap() == data);
        feeder.join().unwrap().unwrap();
    }
}

const STDIN_CHILD: &str = "TALARIA_STAGES_STDIN_CHILD";

#[test]
fn stdin_of_a_real_process_is_read_and_decompressed() {
    let data = fasta(600_000, 11);
    if std::env::var_os(STDIN_CHILD).is_some() {
        // Child: standard input is the parent's pipe.
        let e = Input::open(&InputSpec {
            engine: Engine::Mmap,
            ..InputSpec::default()
        })
        .err()
        .unwrap();
        assert_eq!(e.kind, Some(std::io::ErrorKind::Unsupported));
        let mut input = Input::open(&InputSpec {
            engine: Engine::Uring,
            inflate_thread_budget: 4 << 20,
            ..InputSpec::default()
        })
        .unwrap();
        let expected = if input.fallback().is_some() {
            "read"
        } else {
            "io_uring"
        };
        assert_eq!((input.name(), input.engine_name()), ("<stdin>", expected));
        assert!(input.inflate_thread());
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

/// Every engine x every compression x with and without the inflate thread, tiny io_uring
/// buffers (many reads, short last read) and odd depths: the same bytes.
#[test]
fn every_engine_gives_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(700_001, 21);
    for kind in ALL {
        let path = write_file(
            dir.path(),
            &format!("e.{}", kind.name()),
            &compress(kind, &data),
        );
        for engine in [Engine::Auto, Engine::Read, Engine::Mmap, Engine::Uring] {
            for (depth, buffer, inflate) in [(100, 64 << 10, 0), (3, 4099, 1 << 20), (1, 1, 0)] {
                let mut input = Input::open(&InputSpec {
                    path: Some(path.clone()),
                    engine,
                    mmap_threshold: 0,
                    async_io: true,
                    uring_depth: depth,
                    uring_buffer: buffer,
                    inflate_thread_budget: inflate,
                    // Readahead in one of the three settings: it must not change a byte.
                    readahead: if depth == 3 { 8192 } else { 0 },
                })
                .unwrap();
                let what = format!("{kind:?} {engine:?} depth {depth} buffer {buffer}");
                assert!(read_all(&mut input).unwrap() == data, "{what}");
                assert_eq!(input.compression(), kind, "{what}");
                assert_eq!(
                    input.inflate_thread(),
                    inflate > 0 && kind != Compression::None
                );
                if engine == Engine::Uring && input.fallback().is_none() {
                    assert_eq!(
                        input.engine(),
                        Used::Uring {
                            depth,
                            buffer_size: buffer,
                            stream: false
                        }
                    );
                    assert_eq!(input.buffer_bytes(), depth * buffer);
                }
            }
        }
    }
}

#[test]
fn auto_picks_by_threshold_async_io_and_compression() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(200_000, 22);
    let plain = write_file(dir.path(), "a.fa", &data);
    let gz = write_file(dir.path(), "a.fa.gz", &compress(Compression::Gzip, &data));
    let uring = if uring::UringSource::new(File::open(&plain).unwrap(), 1, 4096).is_ok() {
        "io_uring"
    } else {
        "read"
    };
    for (path, threshold, async_io, expected) in [
        (&plain, 0, false, "mmap"),
        (&plain, 0, true, "mmap"),
        (&plain, u64::MAX, false, "read"),
        (&plain, u64::MAX, true, uring),
        (&gz, 0, false, "read"),
        (&gz, 0, true, uring),
    ] {
        let mut input = Input::open(&InputSpec {
            path: Some(path.clone()),
            mmap_threshold: threshold,
            async_io,
            ..InputSpec::default()
        })
        .unwrap();
        assert_eq!(
            input.engine_name(),
            expected,
            "{path:?} {threshold} {async_io}"
        );
        assert!(read_all(&mut input).unwrap() == data);
    }
}

/// Dropping a source with reads in flight (a pipe whose writer never writes) returns: the
/// reads are cancelled and waited for before the buffers are freed.
#[test]
fn dropping_a_uring_source_with_a_read_in_flight_returns() {
    let mut fds = [0; 2];
    // SAFETY: pipe fills the two descriptors it is given.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    use std::os::fd::FromRawFd;
    // SAFETY: both descriptors were just created and are owned by these Files alone.
    let (read_end, write_end) = unsafe { (File::from_raw_fd(fds[0]), File::from_raw_fd(fds[1])) };
    let Ok(mut source) = uring::UringSource::new(read_end, 8, 4096) else {
        eprintln!("io_uring unavailable here: nothing to test");
        return;
    };
    (&write_end).write_all(b"abc").unwrap();
    let mut got = [0u8; 3];
    source.read_exact(&mut got).unwrap();
    assert_eq!(&got, b"abc");
    // The next read is now in flight and no byte will come.
    drop(source);
    drop(write_end);
}

#[test]
fn the_test_hook_makes_uring_fall_back_to_read() {
    // Run in a child process: the variable must not leak into the other tests of this process.
    const CHILD: &str = "TALARIA_STAGES_FALLBACK_CHILD";
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(100_000, 23);
    let path = write_file(dir.path(), "f.fa", &data);
    if std::env::var_os(CHILD).is_some() {
        let mut input = Input::open(&spec(&path, Engine::Uring, 0)).unwrap();
        assert_eq!(input.engine_name(), "read");
        assert!(
            input.fallback().unwrap().contains("ENOSYS"),
            "{:?}",
            input.fallback()
        );
        assert!(read_all(&mut input).unwrap() == data);
        return;
    }
    let out = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "reader::tests::the_test_hook_makes_uring_fall_back_to_read",
            "--test-threads=1",
        ])
        .env(CHILD, "1")
        .env(uring::DISABLE_ENV, "1")
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "child failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(stdout.contains("1 passed"), "child ran no test:\n{stdout}");
}

#[test]
fn pooled_blocks_reuse_buffers_and_deliver_the_same_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let data = fasta(300_001, 5);
    let path = write_file(dir.path(), "p.fa", &data);
    for engine in [Engine::Read, Engine::Mmap, Engine::Uring] {
        let input = Input::open(&InputSpec {
            path: Some(path.clone()),
            engine,
            readahead: 16 << 10,
            ..InputSpec::default()
        })
        .unwrap();
        let advised = input.readahead();
        let ring = matches!(input.engine(), Used::Uring { .. });
        let pool = BlockPool::new(64 << 10);
        let (tx, rx) = crate::channel::bounded::<Block>("blocks", 1 << 20);
        let reader = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                read_blocks_pooled(input, 4096, &pool, tx, &StageCounters::default()).unwrap()
            })
        };
        let mut got = Vec::new();
        for block in rx.iter() {
            assert_eq!(block.offset, got.len() as u64, "{engine:?}");
            got.extend_from_slice(&block.data);
        }
        let summary = reader.join().unwrap();
        assert!(got == data, "{engine:?}: bytes differ");
        assert_eq!(summary.blocks, data.len().div_ceil(4096) as u64);
        let s = pool.stats();
        // One buffer per block plus the read that found the end, each new or reused (how many
        // are reused depends on how far the reader ran ahead: pool.rs tests reuse itself).
        assert_eq!(
            s.allocated + s.reused,
            summary.blocks + 1,
            "{engine:?} {s:?}"
        );
        assert!(pool.idle_bytes() <= 64 << 10);
        let (ranges, bytes, failed, _) = advised.snapshot();
        if ring {
            assert_eq!(ranges, 0, "io_uring reads ahead on its own");
        } else {
            assert!(
                ranges > 0 && bytes <= data.len() as u64 && failed == 0,
                "{engine:?}"
            );
        }
    }
}
