//! A byte budget shared by several holders (e.g. the pieces of a memory limit): acquire blocks
//! until enough bytes are free; permits release on drop. (HELPER A)
