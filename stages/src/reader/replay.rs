//! Pieces of a regular file read back in an order the caller chooses: the reader for a second
//! pass over an input whose items are to be processed in another order than they are stored.
//!
//! Plumbing only: a piece is a byte range, nothing more. Each piece that does not end in `\n`
//! is followed by one, so pieces never run into each other whatever their order. Each piece is
//! read with `pread(2)` straight into the caller's buffer. A mapping was used before, but in a
//! random order nearly every page of the file is touched again between any two releases of its
//! pages, so the whole file stayed in the resident set (220 MiB of a 940 MiB peak on 500k
//! proteins); the page cache that `pread` copies from is not part of the process.

use super::{open_error, Compression, Input, ReadError, Source, Used};
use std::fs::File;
use std::io::Read;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// One byte range of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub offset: u64,
    pub len: u32,
}

struct Replay {
    file: File,
    pieces: Vec<Piece>,
    /// Next piece, and how many of its bytes were delivered.
    next: usize,
    done_in_piece: usize,
    /// The last byte delivered, to know whether a finished piece needs its newline.
    last: u8,
}

impl Replay {
    /// Ends the current piece (with its added newline when it lacks one and `out` has room);
    /// false if the newline is still owed.
    fn finish_piece(&mut self, out: &mut [u8], filled: &mut usize) -> bool {
        if self.done_in_piece == 0 || self.last != b'\n' {
            if *filled == out.len() {
                return false;
            }
            out[*filled] = b'\n';
            *filled += 1;
        }
        self.next += 1;
        self.done_in_piece = 0;
        self.last = b'\n';
        true
    }
}

impl Read for Replay {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < out.len() && self.next < self.pieces.len() {
            let p = self.pieces[self.next];
            let left = p.len as usize - self.done_in_piece;
            if left == 0 {
                if !self.finish_piece(out, &mut filled) {
                    break;
                }
                continue;
            }
            let n = left.min(out.len() - filled);
            let at = p.offset + self.done_in_piece as u64;
            let got = self.file.read_at(&mut out[filled..filled + n], at)?;
            if got == 0 {
                // The file ended inside the piece (it shrank since it was scanned): deliver
                // what there was; the caller's checks see the record changed.
                self.pieces[self.next].len = self.done_in_piece as u32;
                continue;
            }
            self.last = out[filled + got - 1];
            filled += got;
            self.done_in_piece += got;
        }
        Ok(filled)
    }
}

impl Input {
    /// `pieces` of the regular, uncompressed file at `path`, in the order given. The caller
    /// must have read the file once already (the ranges come from that pass).
    pub fn replay(path: &Path, pieces: Vec<Piece>) -> Result<Input, ReadError> {
        let name = path.display().to_string();
        let file = File::open(path).map_err(|e| open_error(&name, &e))?;
        // Random reads: the kernel's sequential readahead would only fetch pages not asked for.
        #[cfg(target_os = "linux")]
        {
            use std::os::fd::AsRawFd;
            // SAFETY: plain advice on a file descriptor this function owns.
            let _ = unsafe { libc::posix_fadvise(file.as_raw_fd(), 0, 0, libc::POSIX_FADV_RANDOM) };
        }
        // An upper bound (a newline is added only where a piece lacks one).
        let delivered: u64 = pieces.iter().map(|p| p.len as u64 + 1).sum();
        Ok(Input {
            name,
            source: Source::Stream(Box::new(Replay {
                file,
                pieces,
                next: 0,
                done_in_piece: 0,
                last: b'\n',
            })),
            compression: Compression::None,
            size: Some(delivered),
            delivered: 0,
            used: Used::Read,
            fallback: None,
            inflate_thread: false,
            buffer_bytes: 0,
            // Records out of order: no readahead (the file is advised random instead).
            readahead: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What replaying `pieces` of a file holding `contents` delivers, read `chunk` bytes at a
    /// time (small reads cross piece boundaries and the added newlines).
    fn replayed(name: &str, contents: &[u8], pieces: Vec<Piece>, chunk: usize) -> Vec<u8> {
        let dir = std::env::temp_dir().join(format!("talaria-{name}-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        std::fs::write(&path, contents).unwrap();
        let mut input = Input::replay(&path, pieces).unwrap();
        let (mut out, mut buf) = (Vec::new(), vec![0u8; chunk]);
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        std::fs::remove_dir_all(&dir).unwrap();
        out
    }

    #[test]
    fn pieces_come_back_in_the_given_order_newline_terminated() {
        let pieces = vec![
            Piece { offset: 7, len: 2 },
            Piece { offset: 0, len: 3 },
            Piece { offset: 3, len: 4 },
        ];
        assert_eq!(
            replayed("replay", b"aa\nbbb\ncc", pieces, 3),
            b"cc\naa\nbbb\n"
        );
    }

    #[test]
    fn empty_pieces_and_a_file_that_shrank_still_give_one_line_each() {
        let pieces = vec![
            Piece { offset: 2, len: 3 },
            Piece { offset: 1, len: 0 },
            // Past the end of the file, as if it had been cut after the scan.
            Piece { offset: 4, len: 10 },
            Piece { offset: 0, len: 2 },
        ];
        assert_eq!(
            replayed("replay-short", b"x\nyy\n", pieces, 64),
            b"yy\n\n\nx\n"
        );
    }
}
