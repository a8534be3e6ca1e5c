//! Decompression on a thread of its own (`parallel_io`): a `reader-raw` thread pulls raw,
//! still-compressed bytes from whatever engine reads the input and sends them through a
//! byte-budget channel; the decoder, running on the caller's thread, reads them back through
//! [`ChannelSource`]. Reading and inflating then overlap. This module moves bytes only; it must
//! not decode, and it must not lose an error (an I/O error or a vanished thread reaches the
//! decoder as an error, never as a clean end of input).

use crate::channel::{self, Receiver};
use std::io::{self, BufRead, Read};

/// Raw bytes are sent in pieces of this size: large enough that the channel's lock is rare
/// next to inflating the piece, small next to the budget so reading runs several pieces ahead.
const PIECE: usize = 1 << 20;

enum Piece {
    Data(Vec<u8>),
    Error(io::Error),
    End,
}

impl crate::Weighted for Piece {
    fn weight(&self) -> usize {
        match self {
            Piece::Data(v) => v.capacity(),
            _ => 0,
        }
    }
}

/// The decoder's end: raw bytes in the order the `reader-raw` thread read them.
pub struct ChannelSource {
    rx: Receiver<Piece>,
    piece: Vec<u8>,
    pos: usize,
    ended: bool,
    failed: bool,
}

/// Start the `reader-raw` thread reading `source` into a channel of `budget` bytes; returns
/// the end to decode from. The thread stops at end of input, on a read error (passed on), or
/// when the returned source is dropped.
pub fn spawn(mut source: Box<dyn Read + Send>, budget: usize) -> io::Result<ChannelSource> {
    let (tx, rx) = channel::bounded::<Piece>("raw-input", budget.max(PIECE));
    crate::stage::spawn("reader-raw", move || loop {
        let mut data = vec![0u8; PIECE];
        let mut filled = 0;
        let mut error = None;
        while filled < PIECE {
            match source.read(&mut data[filled..]) {
                Ok(0) => break,
                Ok(n) => filled += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => {
                    error = Some(e);
                    break;
                }
            }
        }
        data.truncate(filled);
        let at_end = filled < PIECE;
        if filled > 0 && tx.send(Piece::Data(data)).is_err() {
            return;
        }
        if let Some(e) = error {
            let _ = tx.send(Piece::Error(e));
            return;
        }
        if at_end {
            let _ = tx.send(Piece::End);
            return;
        }
    })?;
    Ok(ChannelSource {
        rx,
        piece: Vec::new(),
        pos: 0,
        ended: false,
        failed: false,
    })
}

impl BufRead for ChannelSource {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        while self.pos == self.piece.len() && !self.ended {
            if self.failed {
                return Err(io::Error::other("input read failed earlier"));
            }
            match self.rx.recv() {
                Some(Piece::Data(data)) => {
                    self.piece = data;
                    self.pos = 0;
                }
                Some(Piece::Error(e)) => {
                    self.failed = true;
                    return Err(e);
                }
                Some(Piece::End) => self.ended = true,
                None => {
                    self.failed = true;
                    return Err(io::Error::other(
                        "the reader-raw thread stopped before the end of the input",
                    ));
                }
            }
        }
        Ok(&self.piece[self.pos..])
    }

    fn consume(&mut self, amount: usize) {
        self.pos = (self.pos + amount).min(self.piece.len());
    }
}

impl Read for ChannelSource {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        super::read_via_buf(self, out)
    }
}
