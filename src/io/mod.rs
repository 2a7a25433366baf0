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

use std::path::Path;

use crate::error::{Error, Result};

/// The bytes of a file the user named (a suppression list): an input error naming it otherwise.
pub fn read_file(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| Error::input(path, e.to_string()))
}

/// The text of a file the user named (a catalog, a config file), or why it cannot be read.
pub fn read_text(path: &Path) -> std::result::Result<String, String> {
    std::fs::read_to_string(path).map_err(|e| e.to_string())
}
