//! Which files a command reads and which it replaces, compared as the file system resolves them
//! (symbolic links, `..`, the same file under two names), so that no command overwrites or deletes
//! its own input, model or list.

use std::path::{Component, Path, PathBuf};

use crate::error::{Error, Result};

/// What a command will replace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Replaced<'a> {
    /// One file, written aside and renamed over the old one.
    File(&'a Path),
    /// A directory, replaced as a whole (`--out` of `score` and `run`).
    Dir(&'a Path),
}

/// `path` as the file system resolves it: its deepest existing ancestor canonicalised (symbolic
/// links and `..` followed), the rest (which does not exist yet) appended with `.` and `..`
/// applied.
pub fn resolved(path: &Path) -> PathBuf {
    let absolute = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut existing = absolute.as_path();
    let mut rest = Vec::new();
    loop {
        if let Ok(real) = existing.canonicalize() {
            let mut out = real;
            for part in rest.iter().rev() {
                match part {
                    Component::ParentDir => {
                        out.pop();
                    }
                    Component::CurDir => {}
                    other => out.push(other.as_os_str()),
                }
            }
            return out;
        }
        match (existing.parent(), existing.components().next_back()) {
            (Some(parent), Some(last)) => {
                rest.push(last);
                existing = parent;
            }
            _ => return absolute.components().collect(),
        }
    }
}

/// Whether `a` and `b` are one file: the same resolved path, or (both existing) the same device
/// and inode, which also catches a hard link.
pub fn same_file(a: &Path, b: &Path) -> bool {
    if resolved(a) == resolved(b) {
        return true;
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        if let (Ok(x), Ok(y)) = (std::fs::metadata(a), std::fs::metadata(b)) {
            return x.dev() == y.dev() && x.ino() == y.ino();
        }
    }
    false
}

/// Whether `inner` is `outer` or lies inside it, as resolved.
pub fn within(inner: &Path, outer: &Path) -> bool {
    resolved(inner).starts_with(resolved(outer))
}

/// Refuses (usage error, exit 2) a command that would replace what it reads: `reads` are the
/// files and directories it takes (with the flag that names each), `replaced` what it writes.
pub fn refuse_overlap(reads: &[(&str, &Path)], replaced: &[(&str, Replaced<'_>)]) -> Result<()> {
    for &(out_flag, target) in replaced {
        for &(in_flag, read) in reads {
            let clash = match target {
                Replaced::File(file) => same_file(read, file),
                Replaced::Dir(dir) => within(read, dir),
            };
            // An output inside an input directory would be read as input by the next run.
            let inside = read.is_dir()
                && match target {
                    Replaced::File(p) | Replaced::Dir(p) => within(p, read),
                };
            if clash || inside {
                let (what, how) = match target {
                    _ if !clash => (
                        "is a directory holding",
                        "read the output as input in the next run",
                    ),
                    Replaced::File(_) => ("is the same file as", "overwrite it"),
                    Replaced::Dir(_) => ("is inside", "delete it with the old output"),
                };
                let target = match target {
                    Replaced::File(p) | Replaced::Dir(p) => p,
                };
                return Err(Error::Usage(format!(
                    "{in_flag} '{}' {what} {out_flag} '{}' (both resolve to {}), which this command \
                     replaces: it would {how}; write the output elsewhere",
                    read.display(),
                    target.display(),
                    resolved(read).display(),
                )));
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dot_dot_and_symlinks_resolve_to_the_same_place() {
        let root = tempfile::tempdir().unwrap();
        let out = root.path().join("out");
        std::fs::create_dir(&out).unwrap();
        let models = out.join("models");
        assert!(within(&out.join("../out/models"), &out));
        assert!(within(&models, &root.path().join("./out/")));
        #[cfg(unix)]
        {
            let link = root.path().join("link");
            std::os::unix::fs::symlink(&out, &link).unwrap();
            assert!(within(&link.join("models"), &out));
            assert!(within(&models, &link));
        }
        assert!(!within(&root.path().join("outside"), &out));
        assert!(!within(&root.path().join("out2"), &out));
    }

    #[test]
    fn a_hard_link_is_the_same_file() {
        let root = tempfile::tempdir().unwrap();
        let a = root.path().join("a.csv");
        std::fs::write(&a, "x").unwrap();
        let b = root.path().join("b.csv");
        std::fs::hard_link(&a, &b).unwrap();
        assert!(same_file(&a, &b));
        assert!(same_file(&a, &root.path().join("sub/../a.csv")));
        assert!(!same_file(&a, &root.path().join("c.csv")));
    }

    #[test]
    fn overlap_is_a_usage_error_naming_both_flags() {
        let root = tempfile::tempdir().unwrap();
        let input = root.path().join("t.csv");
        std::fs::write(&input, "x").unwrap();
        let err = refuse_overlap(
            &[("--input", &input)],
            &[("--quarantine", Replaced::File(&root.path().join("./t.csv")))],
        )
        .unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::Usage);
        let text = err.to_string();
        assert!(
            text.contains("--input") && text.contains("--quarantine"),
            "{text}"
        );
        assert!(
            refuse_overlap(
                &[("--input", &input)],
                &[("--out", Replaced::Dir(&root.path().join("out")))]
            )
            .is_ok()
        );
    }
}
