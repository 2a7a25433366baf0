//! Advisory locks that keep two retain processes from writing one output or model directory at
//! once: the second is refused with [`crate::error::Error::Busy`] (exit 7), naming the first.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::io::write::output_error;

/// A held lock; released when dropped (and by the system when the process ends, however it ends).
#[derive(Debug)]
pub struct Lock {
    _file: File,
}

fn open(path: &Path) -> std::io::Result<File> {
    OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .open(path)
}

/// Takes the exclusive lock `path` (created if needed) for a process that writes `what`; another
/// process holding it is an [`Error::Busy`] that names it. The lock file keeps this process's id.
pub fn exclusive(path: &Path, what: &Path) -> Result<Lock> {
    let mut file = open(path).map_err(output_error(path))?;
    match file.try_lock() {
        Ok(()) => {}
        Err(TryLockError::WouldBlock) => return Err(busy(&mut file, path, what)),
        Err(TryLockError::Error(source)) => return Err(output_error(path)(source)),
    }
    // The holder's id, for the message another process gets; failing to write it is harmless.
    let _ = file
        .set_len(0)
        .and_then(|()| file.rewind())
        .and_then(|()| writeln!(file, "{}", std::process::id()))
        .and_then(|()| file.flush());
    Ok(Lock { _file: file })
}

/// Takes the shared lock `path` for a process that reads `what` (many readers, no writer). `None`
/// where the lock file cannot be made (a read-only model directory): reading goes on unlocked.
pub fn shared(path: &Path, what: &Path) -> Result<Option<Lock>> {
    let Ok(mut file) = open(path) else {
        return Ok(None);
    };
    match file.try_lock_shared() {
        Ok(()) => Ok(Some(Lock { _file: file })),
        Err(TryLockError::WouldBlock) => Err(busy(&mut file, path, what)),
        Err(TryLockError::Error(_)) => Ok(None),
    }
}

fn busy(file: &mut File, path: &Path, what: &Path) -> Error {
    let mut text = String::new();
    let _ = file.read_to_string(&mut text);
    let holder = match text.trim().parse::<u32>() {
        Ok(pid) => format!("another retain process (pid {pid})"),
        Err(_) => "another retain process".to_string(),
    };
    Error::Busy(format!(
        "{holder} is writing {}; try again when it has finished (lock file {})",
        what.display(),
        path.display()
    ))
}

/// The lock file of a directory that is replaced as a whole: a hidden sibling, `.NAME.lock`.
pub fn sibling_path(dir: &Path) -> PathBuf {
    let name = dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    dir.with_file_name(format!(".{name}.lock"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_busy_and_named() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(".out.lock");
        let first = exclusive(&path, Path::new("out")).unwrap();
        // A second open file description conflicts even within one process.
        let err = exclusive(&path, Path::new("out")).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::Busy);
        let text = err.to_string();
        assert!(
            text.contains(&format!("pid {}", std::process::id())),
            "{text}"
        );
        assert!(shared(&path, Path::new("out")).is_err());
        drop(first);
        let reader = shared(&path, Path::new("out")).unwrap();
        assert!(reader.is_some());
        assert!(shared(&path, Path::new("out")).unwrap().is_some());
        assert!(exclusive(&path, Path::new("out")).is_err());
    }

    #[test]
    fn lock_of_a_directory_is_its_hidden_sibling() {
        assert_eq!(
            sibling_path(Path::new("runs/out")),
            Path::new("runs/.out.lock")
        );
    }
}
