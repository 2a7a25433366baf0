//! Parsing of text values: ids, dates and numbers, with the rows that fail counted, never nulled silently.

use polars::prelude::*;

/// Built-in `order_date` formats, tried after the user's own format. Naive local time: a zone
/// suffix is not accepted, so that a shop's day is never shifted silently.
pub const DATE_FORMATS: [&str; 7] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

/// Outcome of parsing one column: the parsed values and the rows whose text could not be parsed.
pub struct Parsed {
    pub values: Column,
    /// True where the input held a value that did not parse (missing values are not failures).
    pub failed: Column,
}

fn failed_mask(raw: &Column, parsed: &Column) -> PolarsResult<Column> {
    let raw_present = raw.is_not_null();
    let parsed_missing = parsed.is_null();
    Ok((raw_present & parsed_missing).into_column())
}

/// Trims an id and turns empty text into a missing value. `strip_float_suffix` turns float-style
/// ids (`17850.0`, a known export quirk) into `17850`; leading zeros are kept. A column that needs
/// none of this (the usual case) is returned as it is, without copying.
pub fn normalise_id(raw: &Column, strip_float_suffix: bool) -> PolarsResult<Column> {
    let text = raw.cast(&DataType::String)?;
    let fix = |s: &str| -> Option<String> {
        let trimmed = s.trim();
        let trimmed = if strip_float_suffix {
            float_id_integer(trimmed).unwrap_or(trimmed)
        } else {
            trimmed
        };
        (!trimmed.is_empty()).then(|| trimmed.to_string())
    };
    let needs_fix = |s: &str| {
        s.is_empty()
            || s.starts_with(char::is_whitespace)
            || s.ends_with(char::is_whitespace)
            || (strip_float_suffix && float_id_integer(s).is_some())
    };
    let ca = text.str()?;
    if !ca.iter().any(|v| v.is_some_and(needs_fix)) {
        return Ok(text);
    }
    let fixed: StringChunked = ca.iter().map(|v| v.and_then(fix)).collect();
    Ok(fixed.with_name(raw.name().clone()).into_column())
}

/// `17850.0` → `17850`: digits, a dot and only zeros after it.
pub(crate) fn float_id_integer(s: &str) -> Option<&str> {
    let (int, frac) = s.split_once('.')?;
    let digits = !int.is_empty() && int.bytes().all(|b| b.is_ascii_digit());
    (digits && !frac.is_empty() && frac.bytes().all(|b| b == b'0')).then_some(int)
}

/// Trimmed copy of a text column, made only where a parse failed (rare), so that the usual case
/// costs no allocation per value.
fn trimmed(text: &Column) -> PolarsResult<Column> {
    Ok(text
        .str()?
        .apply_values(|s| s.trim().to_string().into())
        .into_column())
}

fn parse_with(text: &Column, format: &str) -> PolarsResult<Column> {
    let date_only = !format.contains("%H");
    let options = StrptimeOptions {
        format: Some(format.into()),
        strict: false,
        exact: true,
        cache: true,
    };
    let expr = if date_only {
        col("v")
            .str()
            .to_date(options)
            .cast(DataType::Datetime(TimeUnit::Microseconds, None))
    } else {
        col("v")
            .str()
            .to_datetime(Some(TimeUnit::Microseconds), None, options, lit("raise"))
    };
    let df = DataFrame::new(text.len(), vec![text.clone().with_name("v".into())])?;
    let out = df.lazy().select([expr]).collect()?;
    Ok(out.columns()[0].clone())
}

/// Parses `order_date` into naive microsecond datetimes.
///
/// Text is parsed with the first format (user's first) that reads a sample of the column in full;
/// only when some rows still fail is every format tried on them.
pub fn parse_datetime(raw: &Column, user_format: Option<&str>) -> PolarsResult<Parsed> {
    let target = DataType::Datetime(TimeUnit::Microseconds, None);
    match raw.dtype() {
        DataType::Datetime(_, _) | DataType::Date => {
            let values = raw.cast(&target)?;
            let failed = failed_mask(raw, &values)?;
            return Ok(Parsed { values, failed });
        }
        _ => {}
    }
    let mut text = raw.cast(&DataType::String)?;
    let formats: Vec<&str> = user_format.into_iter().chain(DATE_FORMATS).collect();
    let sample = text.drop_nulls().head(Some(1000));
    let mut best = formats[0];
    for format in &formats {
        let parsed = parse_with(&sample, format)?;
        if parsed.null_count() == 0 {
            best = format;
            break;
        }
    }
    let mut values = parse_with(&text, best)?;
    if failed_mask(&text, &values)?.bool()?.any() {
        text = trimmed(&text)?;
        values = parse_with(&text, best)?;
    }
    if failed_mask(&text, &values)?.bool()?.any() {
        for format in formats.iter().filter(|f| **f != best) {
            let more = parse_with(&text, format)?;
            values = values.zip_with(&values.is_not_null(), &more)?;
        }
    }
    let failed = failed_mask(&text, &values)?;
    Ok(Parsed { values, failed })
}

/// Parses a numeric column to Float64. Text that is not a number, NaN, infinities and blank cells
/// count as failures: a column that exists must hold a number in every row.
pub fn parse_number(raw: &Column) -> PolarsResult<Parsed> {
    let values = if raw.dtype().is_primitive_numeric() {
        raw.cast(&DataType::Float64)?
    } else {
        let text = raw.cast(&DataType::String)?;
        let values = text.cast(&DataType::Float64)?;
        if failed_mask(&text, &values)?.bool()?.any() {
            trimmed(&text)?.cast(&DataType::Float64)?
        } else {
            values
        }
    };
    let finite = values
        .f64()?
        .apply(|v| v.filter(|x| x.is_finite()))
        .into_column();
    let failed = finite.is_null().into_column();
    Ok(Parsed {
        values: finite,
        failed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(values: &[Option<&str>]) -> Column {
        Column::new("x".into(), values)
    }

    #[test]
    fn dates_in_iso_and_export_formats_parse_and_bad_ones_are_flagged() {
        let raw = text(&[
            Some("2011-12-09T12:50:00"),
            Some("2011-12-09 12:50:00"),
            Some("2011-12-09"),
            Some("09/12/2011"),
            None,
        ]);
        let parsed = parse_datetime(&raw, None).unwrap();
        let values = parsed.values.datetime().unwrap();
        let noon = 1_323_435_000_000_000i64; // 2011-12-09T12:50:00 in µs since the epoch
        assert_eq!(values.phys.get(0), Some(noon));
        assert_eq!(values.phys.get(1), Some(noon));
        assert_eq!(values.phys.get(2), Some(1_323_388_800_000_000));
        assert_eq!(values.phys.get(3), None);
        let failed: Vec<_> = parsed.failed.bool().unwrap().iter().collect();
        assert_eq!(
            failed,
            vec![
                Some(false),
                Some(false),
                Some(false),
                Some(true),
                Some(false)
            ]
        );
    }

    #[test]
    fn user_date_format_is_tried_first() {
        let raw = text(&[Some("09/12/2011 12:50")]);
        let parsed = parse_datetime(&raw, Some("%d/%m/%Y %H:%M")).unwrap();
        assert_eq!(
            parsed.values.datetime().unwrap().phys.get(0),
            Some(1_323_435_000_000_000)
        );
    }

    #[test]
    fn float_style_ids_become_integers_and_blanks_missing() {
        let raw = text(&[
            Some("17850.0"),
            Some(" 007 "),
            Some(""),
            Some("1.5"),
            Some("C3"),
            None,
        ]);
        let ids = normalise_id(&raw, true).unwrap();
        let ids: Vec<_> = ids.str().unwrap().iter().collect();
        assert_eq!(
            ids,
            vec![
                Some("17850"),
                Some("007"),
                None,
                Some("1.5"),
                Some("C3"),
                None
            ]
        );
        let kept = normalise_id(&text(&[Some("17850.0")]), false).unwrap();
        assert_eq!(kept.str().unwrap().get(0), Some("17850.0"));
    }

    #[test]
    fn numbers_parse_and_text_nan_and_blank_fail() {
        let raw = text(&[Some(" 2.55"), Some("abc"), Some("NaN"), None, Some("-3")]);
        let parsed = parse_number(&raw).unwrap();
        let v: Vec<_> = parsed.values.f64().unwrap().iter().collect();
        assert_eq!(v, vec![Some(2.55), None, None, None, Some(-3.0)]);
        let failed: Vec<_> = parsed.failed.bool().unwrap().iter().collect();
        assert_eq!(
            failed,
            vec![Some(false), Some(true), Some(true), Some(true), Some(false)]
        );
    }
}
