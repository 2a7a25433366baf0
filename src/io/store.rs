//! The model directory as one unit. `train` (and `run --model-dir`) write every model file aside,
//! rename them into place, and then write `model-set.json`, which lists each file's checksum;
//! `score` and `recommend` verify the whole set against it before they load anything, so a train
//! that stopped part-way (new and old files mixed) is refused, not scored with. A writer holds the
//! directory's lock (`.retain.lock`); readers take it shared.

use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::io::lock::{self, Lock};
use crate::io::write::{self, output_error};

/// Lists the files of the model set, written after them.
pub const SET_FILE: &str = "model-set.json";
/// The model directory's lock.
pub const LOCK_FILE: &str = ".retain.lock";
/// Bumped when a key of [`SET_FILE`] changes meaning.
pub const SET_FORMAT_VERSION: u32 = 1;

/// One file of a model set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetFile {
    pub name: String,
    pub bytes: u64,
    pub sha256: String,
}

/// `model-set.json`: the files that belong together.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ModelSet {
    pub format_version: u32,
    pub retain_version: String,
    /// The churn model's version (`churn-…`), as in the CRM file and the manifest.
    pub model_version: String,
    pub files: Vec<SetFile>,
}

impl ModelSet {
    pub fn contains(&self, name: &str) -> bool {
        self.files.iter().any(|f| f.name == name)
    }
}

fn sha256_hex(bytes: &[u8]) -> String {
    format!("{:x}", Sha256::digest(bytes))
}

/// The set file's bytes for `files` (name, content).
pub fn set_bytes(files: &[(&str, Vec<u8>)], model_version: &str) -> Result<Vec<u8>> {
    let set = ModelSet {
        format_version: SET_FORMAT_VERSION,
        retain_version: env!("CARGO_PKG_VERSION").to_string(),
        model_version: model_version.to_string(),
        files: files
            .iter()
            .map(|(name, bytes)| SetFile {
                name: name.to_string(),
                bytes: bytes.len() as u64,
                sha256: sha256_hex(bytes),
            })
            .collect(),
    };
    let mut json = serde_json::to_vec_pretty(&set).map_err(|e| Error::Internal(e.to_string()))?;
    json.push(b'\n');
    Ok(json)
}

/// Writes the model set into `dir` without locking it (a staging directory no other process
/// knows): every file to a temporary name first, synced; then each renamed into place; then the
/// set file. Killed at any point, the directory holds either the old set, or files that its set
/// file does not list (refused by [`open`]), or the new set.
pub fn write_set(dir: &Path, files: &[(&str, Vec<u8>)], model_version: &str) -> Result<()> {
    fs::create_dir_all(dir).map_err(output_error(dir))?;
    let temp = |name: &str| dir.join(format!(".{name}.set-{}", std::process::id()));
    let staged: Result<Vec<(PathBuf, PathBuf)>> = files
        .iter()
        .map(|(name, bytes)| {
            let (aside, target) = (temp(name), dir.join(name));
            // write_atomic syncs the file: the renames below then move complete files.
            write::write_atomic(&aside, |out| write::write_bytes(out, bytes, &target))?;
            Ok((aside, target))
        })
        .collect();
    let staged = match staged {
        Ok(staged) => staged,
        Err(e) => {
            for (name, _) in files {
                let _ = fs::remove_file(temp(name));
            }
            return Err(e);
        }
    };
    for (aside, target) in &staged {
        fs::rename(aside, target).map_err(output_error(target))?;
    }
    let set = set_bytes(files, model_version)?;
    let path = dir.join(SET_FILE);
    write::write_atomic(&path, |out| write::write_bytes(out, &set, &path))?;
    if let Ok(handle) = fs::File::open(dir) {
        let _ = handle.sync_all();
    }
    Ok(())
}

/// Saves a model set in the model directory `dir`, holding its lock.
pub fn save(dir: &Path, files: &[(&str, Vec<u8>)], model_version: &str) -> Result<()> {
    fs::create_dir_all(dir).map_err(output_error(dir))?;
    let _lock = lock::exclusive(&dir.join(LOCK_FILE), dir)?;
    write_set(dir, files, model_version)
}

/// A model directory opened for reading: its verified set (`None` for a directory written by
/// retain 0.3 or older, which has no set file) and the shared lock, held while it lives.
#[derive(Debug)]
pub struct Opened {
    pub dir: PathBuf,
    pub set: Option<ModelSet>,
    _lock: Option<Lock>,
}

impl Opened {
    /// Whether `name` is part of the set (for a directory without a set file: whether it exists).
    pub fn has(&self, name: &str) -> bool {
        match &self.set {
            Some(set) => set.contains(name),
            None => self.dir.join(name).exists(),
        }
    }

    /// What the user should know: a directory without a set file is not checked as a unit.
    pub fn warning(&self) -> Option<String> {
        self.set.is_none().then(|| {
            format!(
                "{} has no {SET_FILE} (models written by retain 0.3 or older), so its files are not checked as one set; retrain to have them checked",
                self.dir.display()
            )
        })
    }
}

/// The bytes of the model file `name` in `dir`, and its path: a model mismatch (exit 5) that
/// says how to make one when it cannot be read.
pub fn read(dir: &Path, name: &str) -> Result<(Vec<u8>, PathBuf)> {
    let path = dir.join(name);
    match fs::read(&path) {
        Ok(bytes) => Ok((bytes, path)),
        Err(e) => Err(Error::ModelMismatch(format!(
            "cannot read {}: {e}; train one with `retain train --model-dir {}`",
            path.display(),
            dir.display()
        ))),
    }
}

/// Opens `dir` for reading and verifies every file of its set against the set file: a file
/// missing, or not the one the set lists, is a model mismatch (exit 5).
pub fn open(dir: &Path) -> Result<Opened> {
    let lock = lock::shared(&dir.join(LOCK_FILE), dir)?;
    let path = dir.join(SET_FILE);
    let set = match fs::read(&path) {
        Ok(bytes) => Some(verify(dir, &path, &bytes)?),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => {
            return Err(Error::ModelMismatch(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    Ok(Opened {
        dir: dir.to_path_buf(),
        set,
        _lock: lock,
    })
}

fn verify(dir: &Path, path: &Path, bytes: &[u8]) -> Result<ModelSet> {
    let set: ModelSet = serde_json::from_slice(bytes).map_err(|e| {
        Error::ModelMismatch(format!("{}: not a retain model set ({e})", path.display()))
    })?;
    if set.format_version != SET_FORMAT_VERSION {
        return Err(Error::ModelMismatch(format!(
            "{}: set format version {} but this retain reads {SET_FORMAT_VERSION}; retrain",
            path.display(),
            set.format_version
        )));
    }
    for file in &set.files {
        let member = dir.join(&file.name);
        let found = match fs::read(&member) {
            Ok(content) => sha256_hex(&content),
            Err(e) => format!("unreadable ({e})"),
        };
        if found != file.sha256 {
            return Err(Error::ModelMismatch(format!(
                "{} is not the file {} lists (sha256 {found}, listed {}): the model set is mixed or changed, as after a train that stopped part-way; retrain (retain train --model-dir {})",
                member.display(),
                path.display(),
                file.sha256,
                dir.display()
            )));
        }
    }
    Ok(set)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn files(version: &str) -> Vec<(&'static str, Vec<u8>)> {
        vec![
            ("churn-model.json", format!("churn {version}").into_bytes()),
            ("copurchase.json", format!("meta {version}").into_bytes()),
        ]
    }

    #[test]
    fn a_saved_set_opens_and_lists_its_files() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &files("1"), "churn-1").unwrap();
        let opened = open(dir.path()).unwrap();
        assert!(opened.has("copurchase.json"));
        assert!(!opened.has("copurchase-pairs.parquet"));
        assert_eq!(opened.set.as_ref().unwrap().model_version, "churn-1");
        assert!(opened.warning().is_none());
        // Nothing but the files, the set and the lock is left behind.
        let mut names: Vec<String> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        assert_eq!(
            names,
            [LOCK_FILE, "churn-model.json", "copurchase.json", SET_FILE]
        );
    }

    #[test]
    fn mixed_model_set_after_an_interrupted_train_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &files("1"), "churn-1").unwrap();
        // A second train renamed its churn model into place and stopped before the rest.
        fs::write(dir.path().join("churn-model.json"), "churn 2").unwrap();
        let err = open(dir.path()).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::ModelMismatch);
        assert!(err.to_string().contains("churn-model.json"), "{err}");
        fs::remove_file(dir.path().join("copurchase.json")).unwrap();
        fs::write(dir.path().join("churn-model.json"), "churn 1").unwrap();
        assert!(open(dir.path()).is_err());
    }

    #[test]
    fn a_directory_without_a_set_file_opens_with_a_warning() {
        let dir = tempfile::tempdir().unwrap();
        fs::write(dir.path().join("churn-model.json"), "old").unwrap();
        let opened = open(dir.path()).unwrap();
        assert!(opened.set.is_none());
        assert!(opened.has("churn-model.json"));
        assert!(opened.warning().unwrap().contains(SET_FILE));
    }

    #[test]
    fn a_writer_is_refused_while_a_reader_holds_the_directory() {
        let dir = tempfile::tempdir().unwrap();
        save(dir.path(), &files("1"), "churn-1").unwrap();
        let reading = open(dir.path()).unwrap();
        let err = save(dir.path(), &files("2"), "churn-2").unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::Busy);
        drop(reading);
        save(dir.path(), &files("2"), "churn-2").unwrap();
    }
}
