//! Checks on the values as read: a column with too many unreadable values is refused, naming the
//! first bad one and what was expected; values holding line breaks get a note.

use polars::prelude::*;
use rayon::prelude::*;

use super::reading::Failures;
use crate::error::{Error, Location, Position, Result, Unparseable};
use crate::io::inputs::Inputs;
use crate::io::read::Format;
use crate::schema::input;

/// Values with a line break in a batch read from CSV: how many, and the first (row in the
/// table, canonical column). Quoted values may hold line breaks, but a stray quote makes the
/// lines up to the next quote one value, and a reader cannot tell: the user should look.
pub(super) fn line_breaks(table: &DataFrame) -> Result<Option<(u64, u64, &'static str)>> {
    let suspects: Vec<(&'static str, &StringChunked)> = table
        .columns()
        .par_iter()
        .filter_map(|column| {
            let canonical = input::ALL.into_iter().find(|c| column.name() == *c)?;
            let text = matches!(column.dtype(), DataType::String)
                .then(|| column.str().ok())
                .flatten()?;
            may_hold_line_break(text).then_some((canonical, text))
        })
        .collect();
    let (mut count, mut first) = (0u64, None::<(u64, &'static str)>);
    for (canonical, text) in suspects {
        let breaks = text.contains_literal("\n")?;
        let n = u64::from(breaks.sum().unwrap_or(0));
        if n == 0 {
            continue;
        }
        count += n;
        let row = breaks.iter().position(|b| b == Some(true)).unwrap_or(0) as u64;
        if first.is_none_or(|(r, _)| row < r) {
            first = Some((row, canonical));
        }
    }
    Ok(first.map(|(row, canonical)| (count, row, canonical)))
}

/// False when no value of `text` holds a line break; a quick look at the raw bytes (a memchr over
/// the string buffers and the short values kept inside their views): 0.24 s on 12 M rows of 8
/// columns where testing value by value took 1-1.8 s. True may be wrong (a buffer can hold bytes
/// no value uses), so a column it flags is then tested value by value.
fn may_hold_line_break(text: &StringChunked) -> bool {
    text.downcast_iter().any(|array| {
        array
            .data_buffers()
            .iter()
            .any(|buffer| buffer.contains(&b'\n'))
            || array.views().iter().any(|view| {
                view.get_inlined_slice()
                    .is_some_and(|bytes| bytes.contains(&b'\n'))
            })
    })
}

/// What an unreadable date looks like, when it looks like something known that is not a date.
pub(super) fn date_hint(bad: &str) -> String {
    let digits = bad.bytes().all(|b| b.is_ascii_digit());
    let time_only = bad.len() >= 5
        && bad.as_bytes()[2] == b':'
        && bad
            .bytes()
            .all(|b| b.is_ascii_digit() || b == b':' || b == b'.');
    if digits && (9..=10).contains(&bad.len()) {
        format!(
            "; '{bad}' looks like a Unix timestamp in seconds: --date-format %s reads those (as UTC times)"
        )
    } else if digits && bad.len() == 13 {
        format!(
            "; '{bad}' looks like a Unix timestamp in milliseconds: export the dates as dates, or convert the column first"
        )
    } else if time_only {
        "; this column holds times of day without a date: map the column with the order date (--col-order-date)".to_string()
    } else {
        String::new()
    }
}

/// A column's value in one row, as text for a message.
pub(super) fn text_of(column: &Column, row: usize) -> Result<String> {
    Ok(match column.get(row)? {
        AnyValue::Null => String::new(),
        AnyValue::String(s) => s.to_string(),
        AnyValue::StringOwned(s) => s.to_string(),
        other => other.to_string(),
    })
}

/// Refuses a column where too many of the input's `rows` values fail to parse, naming the first
/// bad one.
pub(super) fn check_failures(
    inputs: &Inputs,
    rows: u64,
    user_name: &str,
    failures: &Failures,
    max_share: f64,
    expected: impl FnOnce(&str) -> String,
) -> Result<()> {
    let count = failures.count;
    let share = count as f64 / rows.max(1) as f64;
    let Some((first, value)) = failures.first.clone() else {
        return Ok(());
    };
    if count == 0 || share <= max_share {
        return Ok(());
    }
    let (index, local) = inputs.file_of(first);
    let file = &inputs.files[index];
    if value.is_empty()
        && file.format == Format::Csv
        && let Some(odd) = crate::io::source::first_short_line(file)
        && odd.row == local
    {
        return Err(Error::input_at(
            &file.path,
            Position::Line(odd.line),
            None,
            if odd.fields == 0 {
                format!("the line is blank, so '{user_name}' has no value")
            } else {
                format!(
                    "{} fields, but the header has {} (separator '{}'): the line is cut short, so '{user_name}' has no value",
                    odd.fields, odd.header, file.separator as char
                )
            },
        ));
    }
    Err(Error::Unparseable(Box::new(Unparseable {
        location: Location {
            path: file.path.clone(),
            position: Some(file.position(local)),
            column: Some(user_name.to_string()),
        },
        expected: expected(&value),
        value,
        count,
        share_pct: share * 100.0,
    })))
}
