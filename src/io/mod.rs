//! Reading transaction files and writing output files atomically.

pub mod read;
pub mod write;
