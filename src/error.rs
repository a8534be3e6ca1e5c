//! Exit codes, one place. The README's table quotes these.

/// Success.
pub const EXIT_OK: u8 = 0;
/// I/O failure or internal error.
pub const EXIT_IO: u8 = 1;
/// Bad usage or configuration (also clap's code for usage errors).
pub const EXIT_USAGE: u8 = 2;
/// The input data is invalid: not FASTA, corrupt compression, corrupt or mismatched deltas.
pub const EXIT_DATA: u8 = 3;
