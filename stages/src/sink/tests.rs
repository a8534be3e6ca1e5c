//! Sink tests: temporary name and rename, cleanup on drop, early failure on a bad path, error
//! kinds carried from the writer thread (a real closed pipe, a full device, a closed stdout of a
//! real child process).

use super::*;
use parking_lot::Mutex;
use std::io::Read;
use std::path::Path;

fn entries(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| b"ACGT\n"[(i * 7 + i / 13) % 5]).collect()
}

#[test]
fn writes_under_a_temporary_name_and_renames_on_commit() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("reduced.fa");
    let data = pattern(3_000_000);
    let mut sink = Sink::open("writer-test", OutputPath::File(path.clone()), 1 << 20).unwrap();
    assert_eq!(sink.name(), path.display().to_string());
    let temp = format!(".reduced.fa.tmp-{}", std::process::id());
    assert_eq!(
        entries(dir.path()),
        vec![temp.clone()],
        "the temporary exists from the start"
    );
    // Small writes, then one larger than a hand-off buffer, then small ones again.
    let (small, rest) = data.split_at(1_000_000);
    for piece in small.chunks(1000) {
        sink.write_all(piece).unwrap();
    }
    let (large, tail) = rest.split_at(HANDOFF * 3 + 5);
    sink.write_all(large).unwrap();
    for piece in tail.chunks(333) {
        sink.write_all(piece).unwrap();
    }
    sink.flush().unwrap();
    let queued = sink.queue_stats().unwrap();
    assert_eq!(queued.capacity, 1 << 20);
    assert!(queued.bytes >= data.len() as u64, "{queued:?}");
    assert!(!path.exists(), "nothing looks finished before commit");
    assert_eq!(sink.commit().unwrap(), data.len() as u64);
    assert_eq!(entries(dir.path()), vec!["reduced.fa".to_string()]);
    assert!(std::fs::read(&path).unwrap() == data);
}

#[test]
fn an_empty_output_is_committed_as_an_empty_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("clusters.tsv");
    let sink = Sink::open("writer-tsv", OutputPath::File(path.clone()), 0).unwrap();
    assert_eq!(sink.commit().unwrap(), 0);
    assert_eq!(std::fs::read(&path).unwrap(), b"");
}

#[test]
fn dropping_without_commit_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deltas.bin");
    std::fs::write(&path, b"previous run").unwrap();
    let mut sink = Sink::open("writer-deltas", OutputPath::File(path.clone()), 1 << 20).unwrap();
    sink.write_all(&pattern(2_000_000)).unwrap();
    drop(sink);
    assert_eq!(
        entries(dir.path()),
        vec!["deltas.bin".to_string()],
        "temporary left behind"
    );
    assert_eq!(
        std::fs::read(&path).unwrap(),
        b"previous run",
        "an unfinished run replaced the output"
    );
}

#[test]
fn a_missing_directory_fails_at_open_naming_the_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("no-such-dir").join("out.fa");
    let e = Sink::open("writer-fasta", OutputPath::File(path.clone()), 1 << 20)
        .err()
        .unwrap();
    assert_eq!(e.path, path.display().to_string());
    assert_eq!(e.kind, Some(std::io::ErrorKind::NotFound));
    assert!(
        e.to_string()
            .starts_with(&format!("{}: No such file or directory", path.display())),
        "{e}"
    );

    let e = Sink::open(
        "writer-fasta",
        OutputPath::File(dir.path().to_path_buf()),
        1 << 20,
    )
    .err()
    .unwrap();
    assert_eq!(e.kind, Some(std::io::ErrorKind::IsADirectory));
    assert!(e.message.contains("directory"));
    assert!(entries(dir.path()).is_empty());
}

#[test]
fn a_failed_rename_is_an_error_and_cleans_up() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("out.fa");
    let mut sink = Sink::open("writer-fasta", OutputPath::File(path.clone()), 1 << 20).unwrap();
    sink.write_all(b">a\nACGT\n").unwrap();
    // Something else takes the name meanwhile: a non-empty directory cannot be replaced.
    std::fs::create_dir(&path).unwrap();
    std::fs::write(path.join("keep"), b"x").unwrap();
    let e = sink.commit().unwrap_err();
    assert_eq!(e.path, path.display().to_string());
    assert!(e.kind.is_some());
    assert_eq!(
        entries(dir.path()),
        vec!["out.fa".to_string()],
        "temporary left behind"
    );
}

#[test]
fn the_writer_runs_on_a_thread_with_the_given_name() {
    /// (thread name, bytes) of each write.
    type Log = Arc<Mutex<Vec<(Option<String>, usize)>>>;
    struct Recorder(Log);
    impl Write for Recorder {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0
                .lock()
                .push((std::thread::current().name().map(str::to_string), buf.len()));
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let log = Arc::new(Mutex::new(Vec::new()));
    let mut sink = Sink::from_writer(
        "writer-clstr",
        "clstr",
        Box::new(Recorder(Arc::clone(&log))),
        1 << 20,
    )
    .unwrap();
    sink.write_all(&pattern(HANDOFF + 10)).unwrap();
    assert_eq!(sink.commit().unwrap(), HANDOFF as u64 + 10);
    let log = log.lock();
    assert!(
        log.iter()
            .all(|(name, _)| name.as_deref() == Some("writer-clstr")),
        "{log:?}"
    );
    assert_eq!(log.iter().map(|(_, n)| n).sum::<usize>(), HANDOFF + 10);
}

/// Writes `limit` bytes, then fails every write with `kind`.
struct FailAfter {
    limit: usize,
    kind: std::io::ErrorKind,
}
impl Write for FailAfter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if self.limit == 0 {
            return Err(std::io::Error::new(self.kind, "injected failure"));
        }
        let n = buf.len().min(self.limit);
        self.limit -= n;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Write until the sink reports an error; panics if it never does.
fn write_until_error(sink: &mut Sink, max: usize) -> std::io::Error {
    let piece = pattern(64 << 10);
    let mut total = 0;
    while total < max {
        if let Err(e) = sink.write_all(&piece) {
            return e;
        }
        total += piece.len();
    }
    panic!("no error after {total} bytes");
}

#[test]
fn writer_errors_surface_later_with_their_kind_every_time() {
    for kind in [
        std::io::ErrorKind::BrokenPipe,
        std::io::ErrorKind::PermissionDenied,
    ] {
        let writer = FailAfter {
            limit: 100_000,
            kind,
        };
        let mut sink =
            Sink::from_writer("writer-test", "target", Box::new(writer), 1 << 20).unwrap();
        let e = write_until_error(&mut sink, 64 << 20);
        assert_eq!(e.kind(), kind);
        assert_eq!(
            sink.write(b"more").unwrap_err().kind(),
            kind,
            "a later write forgot the failure"
        );
        assert_eq!(sink.flush().unwrap_err().kind(), kind);
        let e = sink.commit().unwrap_err();
        assert_eq!((e.kind, e.path.as_str()), (Some(kind), "target"));
        assert!(e.message.contains("injected failure"), "{}", e.message);
    }
}

#[test]
fn an_error_at_the_very_end_is_reported_by_commit() {
    let writer = FailAfter {
        limit: 10,
        kind: std::io::ErrorKind::BrokenPipe,
    };
    let mut sink = Sink::from_writer("writer-test", "target", Box::new(writer), 1 << 20).unwrap();
    sink.write_all(b"more than ten bytes").unwrap();
    assert_eq!(
        sink.commit().unwrap_err().kind,
        Some(std::io::ErrorKind::BrokenPipe)
    );
}

#[test]
fn a_closed_pipe_is_a_broken_pipe() {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    let mut sink = Sink::from_writer("writer-pipe", "<pipe>", Box::new(writer), 1 << 20).unwrap();
    let e = write_until_error(&mut sink, 64 << 20);
    assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
    assert_eq!(
        sink.commit().unwrap_err().kind,
        Some(std::io::ErrorKind::BrokenPipe)
    );
}

#[test]
#[cfg(target_os = "linux")]
fn a_full_device_is_reported_with_its_kind() {
    let full = std::fs::OpenOptions::new()
        .write(true)
        .open("/dev/full")
        .unwrap();
    let mut sink = Sink::from_writer("writer-full", "/dev/full", Box::new(full), 1 << 20).unwrap();
    let e = write_until_error(&mut sink, 64 << 20);
    assert_eq!(e.kind(), std::io::ErrorKind::StorageFull, "{e}");
    let e = sink.commit().unwrap_err();
    assert_eq!(e.kind, Some(std::io::ErrorKind::StorageFull));
    assert!(
        e.to_string()
            .starts_with("/dev/full: No space left on device"),
        "{e}"
    );
}

const STDOUT_CHILD: &str = "TALARIA_STAGES_STDOUT_CHILD";

#[test]
fn a_closed_stdout_of_a_real_process_is_a_broken_pipe() {
    if std::env::var_os(STDOUT_CHILD).is_some() {
        // Child: the parent stops reading our stdout after a while (`talaria ... | head`).
        let mut sink = Sink::open("writer-stdout", OutputPath::parse("-"), 1 << 20).unwrap();
        assert_eq!(sink.name(), "<stdout>");
        let e = write_until_error(&mut sink, 1 << 30);
        assert_eq!(e.kind(), std::io::ErrorKind::BrokenPipe, "{e}");
        let e = sink.commit().unwrap_err();
        assert_eq!(
            (e.kind, e.path.as_str()),
            (Some(std::io::ErrorKind::BrokenPipe), "<stdout>")
        );
        // Straight to fd 2: the harness captures `eprintln!` and `exit` would discard it.
        std::io::stderr()
            .write_all(b"child: broken pipe seen\n")
            .unwrap();
        // Exit before the test harness tries to print its summary to the closed stdout.
        std::process::exit(0);
    }
    let mut child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "sink::tests::a_closed_stdout_of_a_real_process_is_a_broken_pipe",
            "--test-threads=1",
        ])
        .env(STDOUT_CHILD, "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut stdout = child.stdout.take().unwrap();
    let mut got = vec![0u8; 1 << 20];
    stdout.read_exact(&mut got).unwrap();
    assert!(
        got.windows(10).any(|w| w == &pattern(64 << 10)[..10]),
        "the sink's bytes reached stdout"
    );
    drop(stdout);
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "child failed: {:?}\n{stderr}",
        out.status
    );
    assert!(stderr.contains("child: broken pipe seen"), "{stderr}");
}

#[test]
fn output_path_parses_dash_as_stdout() {
    assert_eq!(OutputPath::parse("-"), OutputPath::Stdout);
    assert_eq!(
        OutputPath::parse("a.fa"),
        OutputPath::File(PathBuf::from("a.fa"))
    );
    assert_eq!(OutputPath::Stdout.display(), "<stdout>");
    assert_eq!(
        temp_name(Path::new("d/x.fa")),
        PathBuf::from(format!("d/.x.fa.tmp-{}", std::process::id()))
    );
}

#[test]
fn sink_is_send() {
    fn assert_send<T: Send>() {}
    assert_send::<Sink>();
}
