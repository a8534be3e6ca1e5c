//! The delta codec (edit operations that rebuild a member from its representative) and the
//! deltas file that carries them.

pub mod file;
pub mod ops;
