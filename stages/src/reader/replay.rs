//! Pieces of a regular file read back in an order the caller chooses: the reader for a second
//! pass over an input whose items are to be processed in another order than they are stored.
//!
//! Plumbing only: a piece is a byte range, nothing more. Each piece that does not end in `\n`
//! is followed by one, so pieces never run into each other whatever their order. The file is
//! mapped read-only; the pages touched are handed back to the kernel every [`RELEASE_EVERY`]
//! bytes, because random access would otherwise leave the whole file in the resident set.

use super::{open_error, Compression, Input, ReadError, Source, Used};
use std::fs::File;
use std::io::Read;
use std::path::Path;

/// One byte range of the file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Piece {
    pub offset: u64,
    pub len: u32,
}

/// Bytes delivered between two releases of the whole mapping's pages.
const RELEASE_EVERY: usize = 64 << 20;

struct Replay {
    map: Option<memmap2::Mmap>,
    pieces: Vec<Piece>,
    /// Next piece, and how much of it (plus its added newline) was delivered.
    next: usize,
    done_in_piece: usize,
    since_release: usize,
}

impl Replay {
    /// The bytes of piece `i` as delivered: its range, then `\n` if it lacks one.
    fn piece(&self, i: usize) -> (&[u8], bool) {
        let p = self.pieces[i];
        let map = self.map.as_deref().unwrap_or(&[]);
        let start = (p.offset as usize).min(map.len());
        let end = (start + p.len as usize).min(map.len());
        let bytes = &map[start..end];
        (bytes, !bytes.ends_with(b"\n"))
    }
}

impl Read for Replay {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        let mut filled = 0;
        while filled < out.len() && self.next < self.pieces.len() {
            let (bytes, newline) = self.piece(self.next);
            let total = bytes.len() + newline as usize;
            let at = self.done_in_piece;
            let n = (total - at).min(out.len() - filled);
            for (k, slot) in out[filled..filled + n].iter_mut().enumerate() {
                *slot = bytes.get(at + k).copied().unwrap_or(b'\n');
            }
            filled += n;
            self.done_in_piece += n;
            if self.done_in_piece == total {
                self.next += 1;
                self.done_in_piece = 0;
            }
        }
        self.since_release += filled;
        if self.since_release >= RELEASE_EVERY {
            self.since_release = 0;
            if let Some(map) = &self.map {
                // SAFETY: no slice into the mapping outlives the copy above; DONTNEED on a
                // read-only file mapping only drops pages, which are re-read from the file if
                // touched again.
                let _ = unsafe { map.unchecked_advise(memmap2::UncheckedAdvice::DontNeed) };
            }
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
        let size = file.metadata().map_err(|e| open_error(&name, &e))?.len();
        let map = if size == 0 {
            None
        } else {
            // SAFETY: read-only mapping of an input talaria never writes; a concurrent
            // truncation would fault, as for the mmap engine.
            let map = unsafe { memmap2::Mmap::map(&file) }.map_err(|e| open_error(&name, &e))?;
            let _ = map.advise(memmap2::Advice::Random);
            Some(map)
        };
        // An upper bound (a newline is added only where a piece lacks one).
        let delivered: u64 = pieces.iter().map(|p| p.len as u64 + 1).sum();
        Ok(Input {
            name,
            source: Source::Stream(Box::new(Replay {
                map,
                pieces,
                next: 0,
                done_in_piece: 0,
                since_release: 0,
            })),
            compression: Compression::None,
            size: Some(delivered),
            delivered: 0,
            used: Used::Mmap,
            fallback: None,
            inflate_thread: false,
            buffer_bytes: 0,
            // Records out of order: no readahead (the map is advised random instead).
            readahead: Default::default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pieces_come_back_in_the_given_order_newline_terminated() {
        let dir = std::env::temp_dir().join(format!("talaria-replay-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("in.txt");
        std::fs::write(&path, b"aa\nbbb\ncc").unwrap();
        let pieces = vec![
            Piece { offset: 7, len: 2 },
            Piece { offset: 0, len: 3 },
            Piece { offset: 3, len: 4 },
        ];
        let mut input = Input::replay(&path, pieces).unwrap();
        let mut out = Vec::new();
        // Small reads cross piece boundaries and the added newline.
        let mut buf = [0u8; 3];
        loop {
            let n = input.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.extend_from_slice(&buf[..n]);
        }
        assert_eq!(out, b"cc\naa\nbbb\n");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
