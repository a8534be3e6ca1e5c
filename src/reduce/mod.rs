//! reduce (ME)
