//! The output directory as a whole: every file is written into a staging directory beside the
//! target, the manifest last and `_SUCCESS` after it, and then the staging directory replaces the
//! target in one step. A run that fails or is killed part-way leaves the previous output as it was.

use std::fs;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::io::write::output_error;

/// Written last, after the manifest: its presence says the directory is complete.
pub const SUCCESS: &str = "_SUCCESS";
pub const MANIFEST: &str = "manifest.json";

/// One file of the output directory as the manifest lists it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct FileRecord {
    pub name: String,
    /// Data rows (header not counted) of a table; absent for other files.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rows: Option<usize>,
    pub bytes: u64,
    pub sha256: String,
}

/// `parent/.name.kind-pid`: the hidden sibling directories a run works in.
fn sibling(target: &Path, kind: &str, pid: u32) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "out".into());
    target.with_file_name(format!(".{name}.{kind}-{pid}"))
}

pub(crate) fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Refuses a target that is not retain's to replace: a file, or a directory that holds files but
/// no manifest or `_SUCCESS` of an earlier run.
pub fn check_target(target: &Path) -> Result<()> {
    let Ok(meta) = fs::symlink_metadata(target) else {
        return Ok(());
    };
    if meta.file_type().is_symlink() {
        return Err(Error::Usage(format!(
            "--out '{}' is a symbolic link; give the directory itself",
            target.display()
        )));
    }
    if !meta.is_dir() {
        return Err(Error::Usage(format!(
            "--out '{}' is a file; retain writes a directory there",
            target.display()
        )));
    }
    let empty = fs::read_dir(target)
        .map_err(output_error(target))?
        .next()
        .is_none();
    let ours = target.join(MANIFEST).exists() || target.join(SUCCESS).exists();
    if !empty && !ours {
        return Err(Error::Usage(format!(
            "--out '{}' holds files that retain did not write (no {MANIFEST}); retain replaces its \
             output directory as a whole, so give it a new or empty directory",
            target.display()
        )));
    }
    Ok(())
}

/// Removes staging and previous-output directories of runs that were killed (their process is
/// gone). Only names retain makes (`.NAME.staging-PID`, `.NAME.previous-PID`) are touched.
fn remove_stale(target: &Path) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else {
        return;
    };
    let Ok(entries) = fs::read_dir(parent_of(target)) else {
        return;
    };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let pid = ["staging", "previous"].iter().find_map(|kind| {
            file_name
                .strip_prefix(&format!(".{name}.{kind}-"))
                .and_then(|pid| pid.parse::<u32>().ok())
        });
        if let Some(pid) = pid
            && pid != std::process::id()
            && !process_alive(pid)
        {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// Whether the process `pid` runs (on other systems than Linux: assumed so).
#[cfg(target_os = "linux")]
pub(crate) fn process_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn process_alive(_pid: u32) -> bool {
    true
}

/// A staging directory being filled. Dropped without [`Staging::commit`] (an error, a panic), it
/// is removed and the target is untouched. It holds the target's lock (`.NAME.lock` beside it)
/// from [`Staging::begin`] until it is dropped, so a second run on the same `--out` is refused
/// with exit 7 instead of silently replacing the first one's output.
#[derive(Debug)]
pub struct Staging {
    target: PathBuf,
    dir: PathBuf,
    files: Vec<(String, Option<usize>)>,
    done: bool,
    _lock: crate::io::lock::Lock,
}

impl Staging {
    /// Checks the target and creates an empty staging directory beside it.
    pub fn begin(target: &Path) -> Result<Staging> {
        // Checked before the lock is taken (a refused target gets no lock file beside it) and
        // again once it is held (another run may have changed it meanwhile).
        check_target(target)?;
        let parent = parent_of(target);
        fs::create_dir_all(&parent).map_err(output_error(&parent))?;
        let lock = crate::io::lock::exclusive(&crate::io::lock::sibling_path(target), target)?;
        check_target(target)?;
        remove_stale(target);
        let dir = sibling(target, "staging", std::process::id());
        if dir.exists() {
            fs::remove_dir_all(&dir).map_err(output_error(&dir))?;
        }
        fs::create_dir(&dir).map_err(output_error(&dir))?;
        Ok(Staging {
            target: target.to_path_buf(),
            dir,
            files: Vec::new(),
            done: false,
            _lock: lock,
        })
    }

    pub fn target(&self) -> &Path {
        &self.target
    }

    /// Where to write the file `name` now.
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// Records a file written into the staging directory, for the manifest.
    pub fn add(&mut self, name: &str, rows: Option<usize>) {
        self.files.push((name.to_string(), rows));
    }

    /// Checksums of every recorded file, in the order they were added.
    pub fn records(&self) -> Result<Vec<FileRecord>> {
        self.files
            .iter()
            .map(|(name, rows)| {
                let path = self.path(name);
                let mut file = fs::File::open(&path).map_err(output_error(&path))?;
                let mut hasher = Sha256::new();
                let bytes = std::io::copy(&mut file, &mut hasher).map_err(output_error(&path))?;
                Ok(FileRecord {
                    name: name.clone(),
                    rows: *rows,
                    bytes,
                    sha256: format!("{:x}", hasher.finalize()),
                })
            })
            .collect()
    }

    /// Writes the manifest, then `_SUCCESS`, then puts the staging directory in the target's
    /// place in one step (the previous output is removed afterwards).
    pub fn commit(mut self, manifest: &[u8]) -> Result<()> {
        let path = self.path(MANIFEST);
        crate::io::write::write_atomic(&path, |out| {
            crate::io::write::write_bytes(out, manifest, &path)
        })?;
        let success = self.path(SUCCESS);
        crate::io::write::write_atomic(&success, |_| Ok(()))?;
        sync_dir(&self.dir)?;
        replace(&self.dir, &self.target)?;
        self.done = true;
        let _ = sync_dir(&parent_of(&self.target));
        Ok(())
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if !self.done {
            let _ = fs::remove_dir_all(&self.dir);
        }
    }
}

fn sync_dir(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    fs::File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(output_error(dir))?;
    let _ = dir;
    Ok(())
}

/// Puts `staging` where `target` is. On Linux an existing target is swapped in one atomic
/// `renameat2(RENAME_EXCHANGE)`; where that is not supported, the target is first renamed aside.
fn replace(staging: &Path, target: &Path) -> Result<()> {
    if fs::symlink_metadata(target).is_err() {
        return fs::rename(staging, target).map_err(output_error(target));
    }
    #[cfg(target_os = "linux")]
    if exchange(staging, target).is_ok() {
        // `staging` now holds the previous output.
        let _ = fs::remove_dir_all(staging);
        return Ok(());
    }
    let previous = sibling(target, "previous", std::process::id());
    fs::rename(target, &previous).map_err(output_error(target))?;
    if let Err(e) = fs::rename(staging, target) {
        let _ = fs::rename(&previous, target);
        return Err(output_error(target)(e));
    }
    let _ = fs::remove_dir_all(&previous);
    Ok(())
}

#[cfg(target_os = "linux")]
fn exchange(a: &Path, b: &Path) -> std::io::Result<()> {
    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;
    let c = |p: &Path| {
        CString::new(p.as_os_str().as_bytes())
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))
    };
    let (a, b) = (c(a)?, c(b)?);
    // SAFETY: both arguments are valid NUL-terminated paths that outlive the call.
    let rc = unsafe {
        libc::renameat2(
            libc::AT_FDCWD,
            a.as_ptr(),
            libc::AT_FDCWD,
            b.as_ptr(),
            libc::RENAME_EXCHANGE,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn listing(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    fn commit_one(target: &Path, text: &str) {
        let mut staging = Staging::begin(target).unwrap();
        fs::write(staging.path("a.csv"), text).unwrap();
        staging.add("a.csv", Some(1));
        staging.commit(b"{}").unwrap();
    }

    #[test]
    fn commit_replaces_the_whole_directory_and_leaves_nothing_beside_it() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        commit_one(&target, "x\n1\n");
        let mut staging = Staging::begin(&target).unwrap();
        fs::write(staging.path("b.csv"), "y\n2\n").unwrap();
        staging.add("b.csv", Some(1));
        let records = staging.records().unwrap();
        assert_eq!(records[0].bytes, 4);
        // sha256("y\n2\n"), computed with `printf 'y\n2\n' | sha256sum`.
        assert_eq!(
            records[0].sha256,
            "ca303f9801644a95140b5533040d2494cb9da4d8b2cd6e292f5a1dbc5ed1f729"
        );
        staging.commit(b"{}").unwrap();
        assert_eq!(listing(&target), ["_SUCCESS", "b.csv", "manifest.json"]);
        assert_eq!(
            listing(root.path()),
            [".out.lock", "out"],
            "no staging or previous directory left, only the lock file"
        );
    }

    #[test]
    fn a_failure_before_the_rename_leaves_the_previous_output_intact() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        commit_one(&target, "old\n");
        {
            let mut staging = Staging::begin(&target).unwrap();
            fs::write(staging.path("a.csv"), "new, half writ").unwrap();
            staging.add("a.csv", None);
            // A stage fails here: the staging directory is dropped without commit.
        }
        assert_eq!(fs::read_to_string(target.join("a.csv")).unwrap(), "old\n");
        assert_eq!(listing(&target), ["_SUCCESS", "a.csv", "manifest.json"]);
        assert_eq!(listing(root.path()), [".out.lock", "out"]);
    }

    #[test]
    fn a_killed_run_leaves_a_staging_directory_that_the_next_run_removes() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("out");
        commit_one(&target, "old\n");
        // What a killed process leaves; no process has this id (above Linux's pid_max).
        let stale = sibling(&target, "staging", 999_999_999);
        fs::create_dir(&stale).unwrap();
        commit_one(&target, "new\n");
        assert_eq!(listing(root.path()), [".out.lock", "out"]);
        assert_eq!(fs::read_to_string(target.join("a.csv")).unwrap(), "new\n");
    }

    #[test]
    fn refuses_a_directory_retain_did_not_write() {
        let root = tempfile::tempdir().unwrap();
        fs::write(root.path().join("notes.txt"), "mine").unwrap();
        let err = Staging::begin(root.path()).unwrap_err();
        assert_eq!(err.exit_code(), crate::ExitCode::Usage);
        assert!(err.to_string().contains("did not write"), "{err}");
        assert!(root.path().join("notes.txt").exists());
        let file = root.path().join("notes.txt");
        assert!(Staging::begin(&file).is_err());
    }
}
