//! Reading transaction files and writing output files atomically.

pub mod batches;
pub mod decode;
pub mod header;
pub mod inputs;
pub mod lock;
pub mod paths;
pub mod read;
pub mod source;
pub mod store;
pub mod text;
pub mod write;
