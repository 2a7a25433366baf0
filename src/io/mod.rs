//! Reading transaction files and writing output files atomically.

pub mod lock;
pub mod paths;
pub mod read;
pub mod store;
pub mod write;
