//! The width of the terminal stderr is attached to, for live status lines that must fit on one
//! row (a wrapped line cannot be redrawn in place). Reads it only; never writes to the terminal.

/// Columns of the terminal on stderr; None when stderr is not a terminal or the width is unknown.
pub fn stderr_columns() -> Option<usize> {
    let mut size = libc::winsize {
        ws_row: 0,
        ws_col: 0,
        ws_xpixel: 0,
        ws_ypixel: 0,
    };
    // SAFETY: TIOCGWINSZ writes one winsize into the struct we pass; fd 2 may be anything, and
    // the call fails harmlessly (ENOTTY, EBADF) when it is not a terminal.
    let rc = unsafe { libc::ioctl(libc::STDERR_FILENO, libc::TIOCGWINSZ, &mut size) };
    (rc == 0 && size.ws_col > 0).then_some(usize::from(size.ws_col))
}
