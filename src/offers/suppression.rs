//! The suppression list: customers who must never be courted (opt-outs). It is read in the shapes
//! such lists come in (one id per line, or a CSV export with `,`, `;` or tab, with or without a
//! header, with comments), and checked against the input: a list most of whose entries match no
//! customer is far more likely in the wrong shape than full of strangers, and is refused.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::error::{Error, Position, Result};
use crate::io::header::name_key;

/// Header names (compared in letters and digits, ignoring case) that name the customer id column.
const ID_HEADERS: [&str; 9] = [
    "customerid",
    "customer",
    "customerno",
    "customernumber",
    "clientid",
    "kundennummer",
    "kundenid",
    "kundennr",
    "id",
];

/// How many unmatched entries messages and the manifest show.
const EXAMPLES: usize = 5;

/// A suppression list as read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SuppressionList {
    pub path: PathBuf,
    pub sha256: String,
    /// Which column the ids came from, as the file names it (or "column 1").
    pub column: String,
    /// Distinct ids in file order.
    pub entries: Vec<String>,
    /// The ids and, for float-style ids (`17850.0`), their integer form, as the input reads them.
    pub ids: HashSet<String>,
}

/// What the list matched in this input: on stderr and in the manifest.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct SuppressionReport {
    pub file: String,
    pub sha256: String,
    pub column: String,
    pub entries: usize,
    pub matched: usize,
    pub unmatched: usize,
    pub unmatched_examples: Vec<String>,
}

/// The text without comments: a line whose first non-blank character is `#` goes, and so does
/// the rest of a line from a `#` after a blank (`001222 # old`).
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        let trimmed = line.trim_start();
        let kept = if trimmed.starts_with('#') {
            ""
        } else {
            match line
                .match_indices('#')
                .find(|(i, _)| line[..*i].ends_with([' ', '\t']))
            {
                Some((i, _)) => &line[..i],
                None => line,
            }
        };
        out.push_str(kept);
        out.push('\n');
    }
    out
}

/// The separator of the first non-empty line: the most frequent of `,`, `;` and tab (outside
/// quotes), or none (one id per line).
fn separator_of(text: &str) -> u8 {
    let Some(first) = text.lines().find(|l| !l.trim().is_empty()) else {
        return b',';
    };
    let mut counts = [(b',', 0usize), (b';', 0), (b'\t', 0)];
    let mut quoted = false;
    for b in first.bytes() {
        if b == b'"' {
            quoted = !quoted;
        } else if !quoted {
            for (sep, n) in counts.iter_mut() {
                if b == *sep {
                    *n += 1;
                }
            }
        }
    }
    counts
        .iter()
        .filter(|(_, n)| *n > 0)
        .max_by_key(|(_, n)| *n)
        .map_or(b',', |(sep, _)| *sep)
}

/// Parses a suppression list. `id_column` is the input's customer id column as the user names
/// it, also accepted as the list's header. `path` names the file in messages.
pub fn parse(bytes: &[u8], path: &Path, id_column: &str) -> Result<SuppressionList> {
    let text = std::str::from_utf8(bytes).map_err(|e| {
        let at = e.valid_up_to();
        let line = bytes[..at].iter().filter(|&&b| b == b'\n').count() as u64 + 1;
        Error::input_at(
            path,
            Position::Line(line),
            None,
            format!(
                "byte 0x{:02x} at offset {at} is not UTF-8; expected a UTF-8 list of customer ids (convert it, e.g. iconv -f WINDOWS-1252 -t UTF-8)",
                bytes[at]
            ),
        )
    })?;
    let text = strip_comments(text.trim_start_matches('\u{feff}'));
    let separator = separator_of(&text);
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .delimiter(separator)
        .flexible(true)
        .trim(csv::Trim::All)
        .from_reader(text.as_bytes());
    let mut records = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let record = record.map_err(|e| {
            Error::input_at(
                path,
                Position::Line(i as u64 + 1),
                None,
                format!("cannot read as a list of customer ids: {e}"),
            )
        })?;
        if record.iter().any(|f| !f.is_empty()) {
            records.push(record);
        }
    }
    let accepted = |field: &str| {
        let k = name_key(field);
        ID_HEADERS.contains(&k.as_str()) || k == name_key(id_column)
    };
    let header = records
        .first()
        .and_then(|first| first.iter().position(accepted));
    let (column, skip) = match (header, records.first()) {
        (Some(i), Some(first)) => (i, first.get(i).unwrap_or_default().to_string()),
        _ => (0, String::new()),
    };
    let body = &records[usize::from(header.is_some())..];
    let mut list = SuppressionList {
        path: path.to_path_buf(),
        sha256: format!("{:x}", Sha256::digest(bytes)),
        column: if header.is_some() {
            skip
        } else {
            format!("column {}", column + 1)
        },
        ..SuppressionList::default()
    };
    let mut seen = HashSet::new();
    for record in body {
        let Some(id) = record.get(column).map(str::trim).filter(|s| !s.is_empty()) else {
            continue;
        };
        if seen.insert(id.to_string()) {
            list.entries.push(id.to_string());
            list.ids.insert(id.to_string());
            if let Some(integer) = crate::clean::parse::float_id_integer(id) {
                list.ids.insert(integer.to_string());
            }
        }
    }
    Ok(list)
}

impl SuppressionList {
    pub fn contains(&self, id: &str) -> bool {
        self.ids.contains(id)
    }

    fn matches(&self, entry: &str, is_customer: &dyn Fn(&str) -> bool) -> bool {
        is_customer(entry) || crate::clean::parse::float_id_integer(entry).is_some_and(is_customer)
    }

    /// Counts the entries that match a customer of the input (`is_customer`). Refuses (exit 3)
    /// a list more than half of whose entries match nobody, unless `allow_unmatched`.
    pub fn check(
        &self,
        is_customer: &dyn Fn(&str) -> bool,
        allow_unmatched: bool,
    ) -> Result<SuppressionReport> {
        let unmatched: Vec<&String> = self
            .entries
            .iter()
            .filter(|e| !self.matches(e, is_customer))
            .collect();
        let report = SuppressionReport {
            file: self.path.display().to_string(),
            sha256: self.sha256.clone(),
            column: self.column.clone(),
            entries: self.entries.len(),
            matched: self.entries.len() - unmatched.len(),
            unmatched: unmatched.len(),
            unmatched_examples: unmatched
                .iter()
                .take(EXAMPLES)
                .map(|s| s.to_string())
                .collect(),
        };
        if !allow_unmatched && 2 * report.unmatched > report.entries {
            return Err(Error::input(
                &self.path,
                format!(
                    "{} of its {} entries ({}) match no customer of the input, e.g. {}; a list in the wrong shape would let opted-out customers be contacted, so nothing is written. Expected one customer id per line, or a CSV with a customer_id column (or the ids in the first column); ids are compared as text, leading zeros included. If the list really holds other shops' customers, pass --allow-unmatched-suppressions",
                    report.unmatched,
                    report.entries,
                    report.column,
                    report
                        .unmatched_examples
                        .iter()
                        .map(|s| format!("'{s}'"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(text: &str) -> Vec<String> {
        parse(text.as_bytes(), Path::new("optout.csv"), "customer_id")
            .unwrap()
            .entries
    }

    #[test]
    fn header_comments_blanks_quotes_and_float_ids() {
        let list = parse(
            "customer_id\n# opted out in March\n 007 \n\n\"12345\"\n17850.0\nA-1\n".as_bytes(),
            Path::new("l.txt"),
            "customer_id",
        )
        .unwrap();
        assert_eq!(list.entries, ["007", "12345", "17850.0", "A-1"]);
        assert!(list.contains("17850") && list.contains("17850.0"));
        assert_eq!(list.column, "customer_id");
    }

    #[test]
    fn csv_export_with_customer_id_and_email_reads_the_id_column() {
        assert_eq!(
            ids("email,customer_id\na@x.de,001223\n\"b,c@y.de\",001222\n"),
            ["001223", "001222"]
        );
    }

    #[test]
    fn semicolon_line_without_header_reads_the_first_column() {
        assert_eq!(ids("001223;x\n001224;y\n"), ["001223", "001224"]);
        assert_eq!(ids("001223\tx\n"), ["001223"]);
    }

    #[test]
    fn comment_after_an_id_is_not_part_of_it() {
        assert_eq!(
            ids("001222 # old\n001221\t# moved\nA#1\n"),
            ["001222", "001221", "A#1"]
        );
    }

    #[test]
    fn the_inputs_own_id_column_name_is_a_header() {
        let list = parse(b"CustNo;Name\n17;x\n", Path::new("l.csv"), "CustNo").unwrap();
        assert_eq!(list.entries, ["17"]);
    }

    #[test]
    fn list_mostly_matching_nobody_is_refused_with_examples() {
        let list = parse(b"a\nb\nc\n", Path::new("optout.txt"), "customer_id").unwrap();
        let only_a = |id: &str| id == "a";
        let err = list.check(&only_a, false).unwrap_err();
        assert_eq!(err.exit_code(), crate::error::ExitCode::InputData);
        let text = err.to_string();
        assert!(
            text.contains("2 of its 3 entries") && text.contains("'b', 'c'"),
            "{text}"
        );
        let report = list.check(&only_a, true).unwrap();
        assert_eq!((report.matched, report.unmatched), (1, 2));
        let a_or_b = |id: &str| id == "a" || id == "b";
        let report = list.check(&a_or_b, false).unwrap();
        assert_eq!(report.unmatched_examples, ["c"]);
    }

    #[test]
    fn latin1_byte_names_its_line() {
        let err = parse(b"1\n2\nM\xfcller\n", Path::new("l.txt"), "customer_id").unwrap_err();
        assert!(err.to_string().contains("line 3"), "{err}");
    }
}
