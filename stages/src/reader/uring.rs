//! The io_uring byte source: reads of `buffer_size` bytes, up to `depth` of them in flight,
//! into a fixed set of buffers allocated once and reused until the end of the input. It hands
//! out raw (possibly compressed) bytes in file order through `Read`/`BufRead`; decompression,
//! FASTA and everything else happen above it. It must never free or reuse a buffer the kernel
//! may still write into (drop cancels and waits for every read in flight).
//!
//! Regular files are read with explicit offsets, `depth` reads ahead of the consumer, each
//! completion put back in file order. Pipes, sockets, terminals (stdin) have no offsets: reads
//! use offset -1 ("the current file position", `IORING_FEAT_RW_CUR_POS`), and only ONE is in
//! flight at a time: two concurrent reads of a pipe may complete in either order, and linking
//! them does not help because a short read (the normal case on a pipe) breaks the link. Two
//! buffers still overlap the next read with the consumer copying out the previous one.

use io_uring::{opcode, types, IoUring};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, BufRead, Read};
use std::os::unix::io::AsRawFd;

/// Test hook (documented in README, "Hardware and I/O"): when this environment variable is set
/// to a non-empty value, io_uring is treated as unavailable (as if `io_uring_setup` had failed
/// with ENOSYS), so the fallback to `read` can be exercised on a kernel that has io_uring. It is
/// read only here, is not a configuration key (it deliberately lacks the `TALARIA_` prefix, which
/// the configuration reserves), and changes nothing but that one decision.
pub const DISABLE_ENV: &str = "STAGES_TEST_DISABLE_IO_URING";

/// `user_data` of the cancel requests issued on drop (slot indices are small).
const CANCEL_TAG: u64 = u64::MAX;

/// Why io_uring cannot be used here: the text names the failing call and the errno.
#[derive(Debug, Clone)]
pub struct Unavailable(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    Free,
    InFlight,
    Done,
}

struct Slot {
    buf: Box<[u8]>,
    /// File offset of `buf[0]` (regular files only).
    offset: u64,
    /// Bytes this read should fill (`buf.len()` except never beyond what was asked).
    want: usize,
    filled: usize,
    state: State,
    /// The read hit end of input (a completion of 0 bytes).
    eof: bool,
    error: Option<i32>,
}

pub struct UringSource {
    ring: IoUring,
    file: File,
    seekable: bool,
    slots: Vec<Slot>,
    /// Slots holding or awaiting data, in the order their bytes come in the input.
    order: VecDeque<usize>,
    free: Vec<usize>,
    /// The slot being handed out and how far into it.
    current: Option<(usize, usize)>,
    next_offset: u64,
    in_flight: usize,
    max_in_flight: usize,
    /// No more reads are submitted (end of input seen or an error).
    stopped: bool,
    finished: bool,
}

fn errno_text(code: i32) -> String {
    let e = io::Error::from_raw_os_error(code);
    let name = match code {
        libc::ENOSYS => "ENOSYS",
        libc::EPERM => "EPERM",
        libc::EACCES => "EACCES",
        libc::ENOMEM => "ENOMEM",
        libc::EINVAL => "EINVAL",
        _ => "",
    };
    if name.is_empty() {
        e.to_string()
    } else {
        format!("{name}, {e}")
    }
}

impl UringSource {
    /// Set up a ring for `file`. `depth` buffers of `buffer_size` bytes are allocated here and
    /// are all the memory this source uses; a pipe gets two of them (one read in flight).
    /// An `Err` means io_uring is unusable on this system (the caller falls back).
    pub fn new(file: File, depth: usize, buffer_size: usize) -> Result<UringSource, Unavailable> {
        if std::env::var_os(DISABLE_ENV).is_some_and(|v| !v.is_empty()) {
            return Err(Unavailable(format!(
                "io_uring_setup: ENOSYS (simulated by {DISABLE_ENV})"
            )));
        }
        // SAFETY: fstat on a valid open descriptor into a zeroed struct it fills.
        let mut st: libc::stat = unsafe { std::mem::zeroed() };
        let seekable = unsafe { libc::fstat(file.as_raw_fd(), &mut st) } == 0
            && (st.st_mode & libc::S_IFMT) == libc::S_IFREG;
        let (buffers, max_in_flight) = if seekable {
            (depth.max(1), depth.max(1))
        } else {
            (2, 1)
        };
        let next_offset = if seekable {
            // stdin may be a regular file someone already read into: continue from there.
            // SAFETY: lseek on a valid descriptor; SEEK_CUR with 0 only reports the position.
            let pos = unsafe { libc::lseek(file.as_raw_fd(), 0, libc::SEEK_CUR) };
            u64::try_from(pos).unwrap_or(0)
        } else {
            u64::MAX
        };
        // One extra entry for the cancel requests of drop.
        let entries = u32::try_from(max_in_flight + 1).unwrap_or(u32::MAX);
        let ring = IoUring::new(entries).map_err(|e| {
            Unavailable(format!(
                "io_uring_setup: {}",
                errno_text(e.raw_os_error().unwrap_or(0))
            ))
        })?;
        // IORING_OP_READ needs Linux 5.6; older kernels have io_uring without it.
        let mut probe = io_uring::Probe::new();
        match ring.submitter().register_probe(&mut probe) {
            Ok(()) if probe.is_supported(opcode::Read::CODE) => {}
            Ok(()) => {
                return Err(Unavailable(
                    "the kernel's io_uring has no IORING_OP_READ (Linux 5.6 or later needed)"
                        .into(),
                ))
            }
            Err(e) => {
                return Err(Unavailable(format!(
                    "io_uring probe: {}",
                    errno_text(e.raw_os_error().unwrap_or(0))
                )))
            }
        }
        let buffer_size = buffer_size.clamp(1, u32::MAX as usize);
        let slots = (0..buffers)
            .map(|_| Slot {
                buf: vec![0u8; buffer_size].into_boxed_slice(),
                offset: 0,
                want: 0,
                filled: 0,
                state: State::Free,
                eof: false,
                error: None,
            })
            .collect();
        Ok(UringSource {
            ring,
            file,
            seekable,
            slots,
            order: VecDeque::new(),
            free: (0..buffers).rev().collect(),
            current: None,
            next_offset,
            in_flight: 0,
            max_in_flight,
            stopped: false,
            finished: false,
        })
    }

    /// Reads kept in flight at once: the queue depth for a regular file, 1 for a pipe.
    pub fn depth(&self) -> usize {
        self.max_in_flight
    }
    /// Bytes of each read.
    pub fn buffer_size(&self) -> usize {
        self.slots[0].buf.len()
    }
    /// Whether the input is read at explicit offsets (a regular file) or as a stream.
    pub fn seekable(&self) -> bool {
        self.seekable
    }
    /// Bytes held in buffers (fixed for the life of the source).
    pub fn buffer_bytes(&self) -> usize {
        self.slots.iter().map(|s| s.buf.len()).sum()
    }

    /// Queue the read that (re)fills `slot` from `slot.filled` on.
    fn push_read(&mut self, index: usize) -> io::Result<()> {
        let slot = &mut self.slots[index];
        let (start, len) = (slot.filled, slot.want - slot.filled);
        let offset = if self.seekable {
            slot.offset + start as u64
        } else {
            u64::MAX // -1: the current position; one read in flight keeps the order
        };
        let entry = opcode::Read::new(
            types::Fd(self.file.as_raw_fd()),
            // SAFETY (of the pointer's later use by the kernel): the buffer is a boxed slice
            // that is never moved, resized or freed while its read is in flight (drop waits).
            slot.buf[start..].as_mut_ptr(),
            len as u32,
        )
        .offset(offset)
        .build()
        .user_data(index as u64);
        slot.state = State::InFlight;
        // SAFETY: the entry's buffer stays valid until its completion is reaped (see above).
        unsafe { self.ring.submission().push(&entry) }
            .map_err(|_| io::Error::other("io_uring submission queue full"))?;
        self.in_flight += 1;
        Ok(())
    }

    /// Start reads into free buffers, up to the allowed depth, and submit them.
    fn fill(&mut self) -> io::Result<()> {
        let mut pushed = false;
        while !self.stopped && self.in_flight < self.max_in_flight {
            let Some(index) = self.free.pop() else { break };
            let slot = &mut self.slots[index];
            slot.offset = self.next_offset;
            slot.want = slot.buf.len();
            slot.filled = 0;
            slot.eof = false;
            slot.error = None;
            if self.seekable {
                self.next_offset += slot.want as u64;
            }
            self.order.push_back(index);
            self.push_read(index)?;
            pushed = true;
        }
        if pushed {
            self.ring.submit()?;
        }
        Ok(())
    }

    /// Take every completion that is ready; short reads of a regular file are continued.
    fn reap(&mut self) -> io::Result<()> {
        let done: Vec<(u64, i32)> = self
            .ring
            .completion()
            .map(|c| (c.user_data(), c.result()))
            .collect();
        let mut resubmit = false;
        for (tag, result) in done {
            if tag == CANCEL_TAG {
                continue;
            }
            let index = tag as usize;
            self.in_flight -= 1;
            let slot = &mut self.slots[index];
            match result {
                r if r == -libc::EINTR || r == -libc::EAGAIN => {
                    self.push_read(index)?;
                    resubmit = true;
                }
                r if r < 0 => {
                    slot.error = Some(-r);
                    slot.state = State::Done;
                    self.stopped = true;
                }
                0 => {
                    slot.eof = true;
                    slot.state = State::Done;
                    self.stopped = true;
                }
                n => {
                    slot.filled += n as usize;
                    if self.seekable && slot.filled < slot.want {
                        // A short read of a regular file (rare; e.g. a signal, or the last
                        // bytes): read the rest, so each buffer covers its whole range.
                        self.push_read(index)?;
                        resubmit = true;
                    } else {
                        slot.state = State::Done;
                    }
                }
            }
        }
        if resubmit {
            self.ring.submit()?;
        }
        Ok(())
    }

    /// Make `current` the next slot with bytes, waiting for it; `false` at end of input.
    fn advance(&mut self) -> io::Result<bool> {
        if let Some((index, pos)) = self.current {
            if pos < self.slots[index].filled {
                return Ok(true);
            }
            self.slots[index].state = State::Free;
            self.free.push(index);
            self.current = None;
        }
        loop {
            if self.finished {
                return Ok(false);
            }
            self.fill()?;
            let Some(&head) = self.order.front() else {
                self.finished = true;
                return Ok(false);
            };
            while self.slots[head].state != State::Done {
                match self.ring.submit_and_wait(1) {
                    Ok(_) => {}
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                    Err(e) => return Err(e),
                }
                self.reap()?;
            }
            self.order.pop_front();
            let slot = &self.slots[head];
            if let Some(code) = slot.error {
                self.finished = true;
                return Err(io::Error::from_raw_os_error(code));
            }
            if slot.eof {
                // Everything after the end is empty (or, if the file grew meanwhile, not part
                // of what was read): stop here. A pipe's EOF read holds no bytes either.
                self.finished = true;
            }
            if slot.filled > 0 {
                self.current = Some((head, 0));
                // Keep the kernel busy while the caller copies this buffer out.
                if !self.finished {
                    self.fill()?;
                }
                return Ok(true);
            }
            self.slots[head].state = State::Free;
            self.free.push(head);
        }
    }
}

impl Read for UringSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        super::read_via_buf(self, out)
    }
}

impl BufRead for UringSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if !self.advance()? {
            return Ok(&[]);
        }
        let (index, pos) = self.current.expect("advance set a current slot");
        let slot = &self.slots[index];
        Ok(&slot.buf[pos..slot.filled])
    }

    fn consume(&mut self, amount: usize) {
        if let Some((_, pos)) = &mut self.current {
            *pos += amount;
        }
    }
}

impl Drop for UringSource {
    /// Reads still in flight write into our buffers: cancel them and wait for every completion
    /// before the buffers are freed. If waiting fails, the buffers are leaked instead.
    fn drop(&mut self) {
        if self.in_flight == 0 {
            return;
        }
        let tags: Vec<u64> = (0..self.slots.len())
            .filter(|&i| self.slots[i].state == State::InFlight)
            .map(|i| i as u64)
            .collect();
        for tag in tags {
            let cancel = opcode::AsyncCancel::new(tag).build().user_data(CANCEL_TAG);
            // SAFETY: a cancel request carries no buffer.
            let _ = unsafe { self.ring.submission().push(&cancel) };
            let _ = self.ring.submit();
        }
        while self.in_flight > 0 {
            if let Err(e) = self.ring.submit_and_wait(1) {
                if e.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                for slot in self.slots.drain(..) {
                    Box::leak(slot.buf);
                }
                return;
            }
            let done: Vec<u64> = self.ring.completion().map(|c| c.user_data()).collect();
            self.in_flight -= done.iter().filter(|&&t| t != CANCEL_TAG).count();
        }
    }
}
