//! The input as the user names it, one file, a directory or a glob, and the locator that turns a
//! row of the combined table back into a file and a line.
//!
//! Warehouse exports come split by day or month (`orders/2024-*.csv.gz`), often in hive-style
//! directories (`orders/month=2024-01/part-0.parquet`): every file found is read with the same
//! column names and rules, in the order of their paths, and each `key=value` directory below the
//! named directory supplies a column `key` to the files under it that lack one.

use std::path::{Path, PathBuf};

use crate::error::{Error, Position, Result};
use crate::io::source::InputFile;

/// One file to read, with the hive partition values of the directories above it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Source {
    pub path: PathBuf,
    /// `key` → value for each `key=value` directory between the named directory (or the glob's
    /// fixed part) and the file, outermost first; `None` for Hive's default (missing) partition.
    pub partitions: Vec<(String, Option<String>)>,
}

impl Source {
    /// The partition value for the column `name`, if a directory above the file names it.
    pub fn partition(&self, name: &str) -> Option<Option<&str>> {
        self.partitions
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_deref())
    }
}

/// Whether the text names a glob pattern rather than a path.
fn is_pattern(text: &str) -> bool {
    text.contains(['*', '?', '['])
}

/// Names hidden from a directory walk: `.` files (checksums, editors' files) and `_` files
/// (`_SUCCESS`, `_committed_…`, `_delta_log`), which Spark, Hive and Delta write beside the data.
fn hidden(name: &str) -> bool {
    name.starts_with('.') || name.starts_with('_')
}

/// The files `given` names, sorted by path: the file itself, every visible file under a
/// directory, or every file a glob pattern matches (directories it matches are walked too).
pub fn expand(given: &Path) -> Result<Vec<Source>> {
    let text = given.to_string_lossy();
    let mut sources = if given.is_dir() {
        let files = walk(given)?;
        if files.is_empty() {
            return Err(Error::input(
                given,
                "the directory holds no input file (names starting with '.' or '_' are skipped); \
                 expected CSV, gzip CSV or Parquet files, in subdirectories too",
            ));
        }
        files
            .into_iter()
            .map(|path| source_below(given, path))
            .collect()
    } else if !given.exists() && is_pattern(&text) {
        matching(given, &text)?
    } else {
        // One file; a missing one is reported by the reader with what was expected.
        vec![Source {
            path: given.to_path_buf(),
            partitions: Vec::new(),
        }]
    };
    sources.sort_by(|a, b| a.path.cmp(&b.path));
    sources.dedup_by(|a, b| a.path == b.path);
    Ok(sources)
}

/// Every visible file under `dir`, depth first.
fn walk(dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(next) = pending.pop() {
        let entries = std::fs::read_dir(&next).map_err(|e| Error::input(&next, e.to_string()))?;
        for entry in entries {
            let entry = entry.map_err(|e| Error::input(&next, e.to_string()))?;
            if hidden(&entry.file_name().to_string_lossy()) {
                continue;
            }
            let path = entry.path();
            // Follows symbolic links, as a reader of the file would.
            if path.is_dir() {
                pending.push(path);
            } else {
                files.push(path);
            }
        }
    }
    Ok(files)
}

/// The files a glob pattern matches; partitions are read below its fixed leading directories.
fn matching(given: &Path, pattern: &str) -> Result<Vec<Source>> {
    let matches = glob::glob(pattern).map_err(|e| {
        Error::Usage(format!(
            "--input '{pattern}' is not a valid glob pattern: {} (at character {})",
            e.msg,
            e.pos + 1
        ))
    })?;
    // The directories before the first component with a wildcard.
    let base: PathBuf = given
        .components()
        .take_while(|c| !is_pattern(&c.as_os_str().to_string_lossy()))
        .collect();
    let mut sources = Vec::new();
    for found in matches {
        let path = found.map_err(|e| Error::input(e.path(), e.error().to_string()))?;
        if path
            .strip_prefix(&base)
            .unwrap_or(&path)
            .components()
            .any(|c| hidden(&c.as_os_str().to_string_lossy()))
        {
            continue;
        }
        if path.is_dir() {
            for file in walk(&path)? {
                sources.push(source_below(&base, file));
            }
        } else {
            sources.push(source_below(&base, path));
        }
    }
    if sources.is_empty() {
        return Err(Error::input(
            given,
            "no file matches this pattern (names starting with '.' or '_' are skipped)",
        ));
    }
    Ok(sources)
}

/// `path` with the partitions of the `key=value` directories between `base` and it.
fn source_below(base: &Path, path: PathBuf) -> Source {
    let relative = path.strip_prefix(base).unwrap_or(&path);
    let mut partitions = Vec::new();
    if let Some(parent) = relative.parent() {
        for part in parent.components() {
            let part = part.as_os_str().to_string_lossy();
            if let Some((key, value)) = part.split_once('=')
                && !key.is_empty()
            {
                let value = percent_decoded(value);
                let value = (value != "__HIVE_DEFAULT_PARTITION__").then_some(value);
                partitions.push((percent_decoded(key), value));
            }
        }
    }
    Source { path, partitions }
}

/// Hive escapes `/`, `=`, `%`, `:` and other characters in partition names as `%XX`.
fn percent_decoded(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%'
            && let Some(hex) = text.get(i + 1..i + 3)
            && let Ok(byte) = u8::from_str_radix(hex, 16)
        {
            out.push(byte);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// The files of one input, in the order their rows follow each other in the combined table.
#[derive(Debug, Clone)]
pub struct Inputs {
    /// `--input` as the user gave it.
    pub given: PathBuf,
    pub files: Vec<InputFile>,
    /// Rows of each file.
    pub rows: Vec<u64>,
    /// First row of each file in the combined table.
    starts: Vec<u64>,
}

/// Where one row of the input is: its file and its line (CSV) or row (Parquet) there.
#[derive(Debug, Clone, Copy)]
pub struct Located<'a> {
    pub file: &'a InputFile,
    pub position: Position,
    /// Whether the input has several files, so that a message must name this one.
    many: bool,
}

impl std::fmt::Display for Located<'_> {
    /// `line 12`, or `line 12 of orders/2024-02.csv` when the input has several files.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.many {
            write!(f, "{} of {}", self.position, self.file.path.display())
        } else {
            write!(f, "{}", self.position)
        }
    }
}

impl Inputs {
    /// The files and their row counts, in table order.
    pub fn new(given: PathBuf, files: Vec<(InputFile, u64)>) -> Inputs {
        let mut starts = Vec::with_capacity(files.len());
        let mut next = 0;
        for (_, rows) in &files {
            starts.push(next);
            next += rows;
        }
        let (files, rows) = files.into_iter().unzip();
        Inputs {
            given,
            files,
            rows,
            starts,
        }
    }

    /// One file read as a whole.
    pub fn single(file: InputFile, rows: u64) -> Inputs {
        Inputs::new(file.path.clone(), vec![(file, rows)])
    }

    pub fn many(&self) -> bool {
        self.files.len() > 1
    }

    /// The file holding table row `row` (0-based) and the row's index within it.
    pub fn file_of(&self, row: u64) -> (usize, u64) {
        let index = self.starts.partition_point(|&start| start <= row).max(1) - 1;
        (index, row - self.starts[index])
    }

    /// Each file's sha256 (hex) and size in bytes, in the order of [`Inputs::files`].
    pub fn checksums(&self) -> Result<Vec<(String, u64)>> {
        use sha2::{Digest, Sha256};
        self.files
            .iter()
            .map(|file| {
                let path = file.path.as_path();
                let failed = |e: std::io::Error| Error::input(path, e.to_string());
                let mut reader = std::fs::File::open(path).map_err(failed)?;
                let mut hasher = Sha256::new();
                let bytes = std::io::copy(&mut reader, &mut hasher).map_err(failed)?;
                Ok((format!("{:x}", hasher.finalize()), bytes))
            })
            .collect()
    }

    /// Where table row `row` is; see [`InputFile::positions`].
    pub fn locate(&self, row: u64) -> Located<'_> {
        let (index, local) = self.file_of(row);
        let file = &self.files[index];
        Located {
            file,
            position: file.position(local),
            many: self.many(),
        }
    }

    /// Where each of `rows` (ascending) is, reading each CSV file once.
    pub fn locate_all(&self, rows: &[u64]) -> Vec<Located<'_>> {
        let mut out = Vec::with_capacity(rows.len());
        let mut rest = rows;
        while let Some(&first) = rest.first() {
            let (index, _) = self.file_of(first);
            let end = self.starts.get(index + 1).copied().unwrap_or(u64::MAX);
            let take = rest.partition_point(|&row| row < end);
            let start = self.starts[index];
            let local: Vec<u64> = rest[..take].iter().map(|row| row - start).collect();
            let file = &self.files[index];
            out.extend(file.positions(&local).into_iter().map(|position| Located {
                file,
                position,
                many: self.many(),
            }));
            rest = &rest[take..];
        }
        out
    }

    /// Error at table row `row`, naming its file and line.
    pub fn error_at(&self, row: u64, column: Option<&str>, message: impl Into<String>) -> Error {
        let at = self.locate(row);
        Error::input_at(&at.file.path, at.position, column, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::io::source::Format;

    fn file(name: &str) -> InputFile {
        InputFile {
            path: name.into(),
            format: Format::Parquet,
            separator: b',',
            text: Default::default(),
        }
    }

    #[test]
    fn a_table_row_is_found_in_its_file() {
        let inputs = Inputs::new(
            "in".into(),
            vec![(file("a"), 3), (file("empty"), 0), (file("b"), 2)],
        );
        let names: Vec<String> = inputs
            .locate_all(&[0, 2, 3, 4])
            .iter()
            .map(ToString::to_string)
            .collect();
        assert_eq!(
            names,
            ["row 1 of a", "row 3 of a", "row 1 of b", "row 2 of b"]
        );
        assert_eq!(inputs.file_of(3), (2, 0));
        assert_eq!(inputs.locate(1).to_string(), "row 2 of a");
        let one = Inputs::single(file("a"), 3);
        assert_eq!(one.locate(2).to_string(), "row 3");
    }

    #[test]
    fn hive_directories_give_partition_values() {
        let source = source_below(
            Path::new("/data/orders"),
            "/data/orders/year=2024/month=02/country=C%C3%B4te%20d%27Ivoire/part-0.parquet".into(),
        );
        assert_eq!(source.partition("month"), Some(Some("02")));
        assert_eq!(source.partition("country"), Some(Some("Côte d'Ivoire")));
        assert_eq!(source.partition("day"), None);
        let default = source_below(
            Path::new("d"),
            "d/country=__HIVE_DEFAULT_PARTITION__/x.csv".into(),
        );
        assert_eq!(default.partition("country"), Some(None));
    }

    #[test]
    fn a_directory_is_walked_in_path_order_without_hidden_files() {
        let root = tempfile::tempdir().unwrap();
        let dir = root.path();
        for name in [
            "b/2.csv",
            "a/1.csv",
            "a/_SUCCESS",
            ".hidden/x.csv",
            "a/.1.csv.crc",
            "c.csv",
        ] {
            let path = dir.join(name);
            std::fs::create_dir_all(path.parent().unwrap()).unwrap();
            std::fs::write(path, "x").unwrap();
        }
        let found: Vec<PathBuf> = expand(dir)
            .unwrap()
            .into_iter()
            .map(|s| s.path.strip_prefix(dir).unwrap().to_path_buf())
            .collect();
        assert_eq!(
            found,
            [PathBuf::from("a/1.csv"), "b/2.csv".into(), "c.csv".into()]
        );
        let pattern = dir.join("*/*.csv");
        let globbed: Vec<PathBuf> = expand(&pattern)
            .unwrap()
            .into_iter()
            .map(|s| s.path.strip_prefix(dir).unwrap().to_path_buf())
            .collect();
        assert_eq!(globbed, [PathBuf::from("a/1.csv"), "b/2.csv".into()]);
        let none = expand(&dir.join("*.parquet")).unwrap_err().to_string();
        assert!(none.contains("no file matches"), "{none}");
    }
}
