//! What messages say about a file's header: its names quoted short and with control characters
//! escaped (a binary file's "header" can be megabytes of anything), and the mapping or separator
//! the user probably meant.

use crate::io::source::Format;

/// At most this many characters of header names are quoted in one message.
pub const QUOTED_CHARS: usize = 300;

/// `text` with control characters (and the byte-order mark) escaped as Rust writes them: `\0`,
/// `\t`, `\u{1}`.
pub fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c.is_control() || c == '\u{feff}' {
            out.extend(c.escape_debug());
        } else {
            out.push(c);
        }
    }
    out
}

/// One name, escaped and cut to `max_chars` characters (saying how long it was when cut).
pub fn quote_name(name: &str, max_chars: usize) -> String {
    let shown = escape(name);
    if shown.chars().count() <= max_chars {
        shown
    } else {
        let head: String = shown.chars().take(max_chars).collect();
        format!("{head}… ({} characters)", name.chars().count())
    }
}

/// The header's names for a message, `a, b, c`: escaped, at most [`QUOTED_CHARS`] characters in
/// all, and how many columns were cut when they do not fit.
pub fn quote_names(names: &[&str]) -> String {
    let mut out = String::new();
    let mut left = QUOTED_CHARS;
    for (i, name) in names.iter().enumerate() {
        let shown = escape(name);
        let cost = shown.chars().count() + if i == 0 { 0 } else { 2 };
        if cost > left {
            if i == 0 {
                out = quote_name(name, QUOTED_CHARS);
                if names.len() == 1 {
                    return out;
                }
                return format!(
                    "{out}, … ({} more {} not shown)",
                    names.len() - 1,
                    columns(names.len() - 1)
                );
            }
            return format!(
                "{out}, … ({} more {} not shown, {} in all)",
                names.len() - i,
                columns(names.len() - i),
                names.len()
            );
        }
        if i > 0 {
            out.push_str(", ");
        }
        out.push_str(&shown);
        left -= cost;
    }
    out
}

fn columns(n: usize) -> &'static str {
    if n == 1 { "column" } else { "columns" }
}

/// A column whose name is `wanted` written another way (`CustomerID`, `Customer ID` for
/// `customer_id`): equal in letters and digits, ignoring case.
pub fn same_name<'a>(wanted: &str, names: &[&'a str]) -> Option<&'a str> {
    let wanted = name_key(wanted);
    names.iter().copied().find(|name| name_key(name) == wanted)
}

/// A column name in letters and digits, lower case: `Customer ID` and `customer_id` agree.
pub fn name_key(name: &str) -> String {
    name.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// The separator a CSV file seems to use when its header was read as one column: `;`, tab or `|`
/// inside that column's name.
pub fn other_separator(format: Format, names: &[&str], separator: &str) -> Option<char> {
    match (format, names) {
        (Format::Csv, [only]) => [';', '\t', '|', ',']
            .into_iter()
            .filter(|c| separator != c.to_string())
            .find(|c| only.contains(*c)),
        _ => None,
    }
}

/// The message for a mapped column that is not in the header.
pub fn missing_column(
    format: Format,
    names: &[&str],
    canonical: &str,
    user: &str,
    separator: &str,
) -> String {
    let flag = format!("--col-{}", canonical.replace('_', "-"));
    match other_separator(format, names, separator) {
        // One column whose name holds another separator: the file is not split at all.
        Some(other) => format!(
            "no column '{user}' for {canonical}; the file's header is one column, '{}', which looks separated by '{}': pass --separator '{}' (input.separator)",
            quote_name(names[0], QUOTED_CHARS),
            other.escape_default(),
            other.escape_default(),
        ),
        None => format!(
            "no column '{user}' for {canonical}; the file has columns [{}]; map yours with {flag} NAME or [columns] {canonical} = \"NAME\" in the config{}",
            quote_names(names),
            same_name(user, names).map_or(String::new(), |name| format!(
                " (here probably {flag} \"{}\")",
                quote_name(name, 80)
            )),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert_eq!(escape("a\0b\tc\u{1}\u{feff}ü"), "a\\0b\\tc\\u{1}\\u{feff}ü");
    }

    #[test]
    fn long_headers_are_cut_and_counted() {
        let names: Vec<String> = (0..200).map(|i| format!("column_{i:03}")).collect();
        let names: Vec<&str> = names.iter().map(String::as_str).collect();
        let quoted = quote_names(&names);
        // 10 characters per name, 2 per separator: 25 names fit in 300 characters.
        assert!(quoted.starts_with("column_000, column_001, "), "{quoted}");
        assert!(
            quoted.contains("column_024, … (175 more columns not shown, 200 in all)"),
            "{quoted}"
        );
        assert!(quoted.chars().count() < QUOTED_CHARS + 60, "{quoted}");
        let one = "x".repeat(5000);
        let quoted = quote_names(&[&one]);
        assert_eq!(quoted, format!("{}… (5000 characters)", "x".repeat(300)));
        assert_eq!(quote_names(&["a", "b"]), "a, b");
    }
}
