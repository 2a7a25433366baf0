//! The suppression list: customers who must not be courted (opt-outs), one id per line.

use std::collections::HashSet;
use std::path::Path;

use crate::error::{Error, Result};

/// Reads a suppression list: one customer id per line, surrounding whitespace trimmed; empty
/// lines, lines starting with `#` and a first line `customer_id` (a header) are skipped. Ids are
/// compared as text; a float-style id (`17850.0`) also matches its integer form (`17850`), as in
/// the input.
pub fn load(path: &Path) -> Result<HashSet<String>> {
    let bytes = std::fs::read(path).map_err(|e| Error::input(path, e.to_string()))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        Error::input(
            path,
            format!(
                "not UTF-8 text (byte {}); expected one customer id per line",
                e.utf8_error().valid_up_to()
            ),
        )
    })?;
    Ok(parse(text.trim_start_matches('\u{feff}')))
}

pub fn parse(text: &str) -> HashSet<String> {
    text.lines()
        .map(str::trim)
        .enumerate()
        .filter(|&(i, line)| {
            let header = i == 0 && line == "customer_id";
            !(line.is_empty() || line.starts_with('#') || header)
        })
        .flat_map(|(_, line)| {
            let id = line.trim_matches('"').trim();
            let integer = crate::clean::parse::float_id_integer(id);
            std::iter::once(id.to_string()).chain(integer.map(str::to_string))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_comments_blanks_quotes_and_float_ids() {
        let ids = parse("customer_id\n# opted out in March\n 007 \n\n\"12345\"\n17850.0\nA-1\n");
        let mut ids: Vec<_> = ids.into_iter().collect();
        ids.sort();
        assert_eq!(ids, ["007", "12345", "17850", "17850.0", "A-1"]);
    }
}
