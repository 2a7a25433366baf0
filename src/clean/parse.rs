//! Parsing of text values: ids, dates and numbers, with the rows that fail counted, never nulled silently.

use polars::prelude::*;

/// Built-in `order_date` formats, tried after the user's own format. A UTC offset at the end
/// (`Z`, `+01:00`, `+0100`, `-05`, ` UTC`) is taken off before these are tried; see [`parse_datetime`].
pub const DATE_FORMATS: [&str; 7] = [
    "%Y-%m-%dT%H:%M:%S",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S%.f",
    "%Y-%m-%d %H:%M:%S%.f",
    "%Y-%m-%dT%H:%M",
    "%Y-%m-%d %H:%M",
    "%Y-%m-%d",
];

/// Common export formats, tried when neither the user's format nor an ISO 8601 one reads the
/// column: (what they are called in messages, formats). Only 4-digit years.
const EXPORT_FORMATS: [(&str, &[&str]); 6] = [
    (
        "day.month.year",
        &["%d.%m.%Y %H:%M:%S", "%d.%m.%Y %H:%M", "%d.%m.%Y"],
    ),
    (
        "year/month/day",
        &["%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y/%m/%d"],
    ),
    (
        "month/day/year",
        &[
            "%m/%d/%Y %H:%M:%S",
            "%m/%d/%Y %H:%M",
            "%m/%d/%Y",
            "%m/%d/%Y %I:%M:%S %p",
            "%m/%d/%Y %I:%M %p",
        ],
    ),
    (
        "day/month/year",
        &["%d/%m/%Y %H:%M:%S", "%d/%m/%Y %H:%M", "%d/%m/%Y"],
    ),
    (
        "month-day-year",
        &["%m-%d-%Y %H:%M:%S", "%m-%d-%Y %H:%M", "%m-%d-%Y"],
    ),
    (
        "day-month-year",
        &["%d-%m-%Y %H:%M:%S", "%d-%m-%Y %H:%M", "%d-%m-%Y"],
    ),
];

/// Dates before this (µs since the epoch: 1000-01-01) are not read: a two-digit year taken as
/// `%Y` (`12/1/10` as the year 10) or a placeholder such as `0001-01-01`.
const EARLIEST: i64 = -30_610_224_000_000_000;

/// A UTC offset after a time of day at the end of the text: group 1 is the time, group 2 the offset.
const OFFSET: &str =
    r"(\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?)\s*(Z|z|UTC|GMT|[+-](?:[01]\d|2[0-3])(?::?[0-5]\d)?)$";

/// strftime directives for a UTC offset (chrono's), which a user's format may end with.
const OFFSET_DIRECTIVES: [&str; 4] = ["%::z", "%:z", "%#z", "%z"];

/// The user's date format without a trailing offset directive: offsets are taken off the text
/// before formats are tried, so the format must describe what is left. An offset directive
/// anywhere else cannot be honoured and is refused.
pub fn format_without_offset(format: &str) -> std::result::Result<String, String> {
    let trimmed = format.trim_end();
    let stripped = OFFSET_DIRECTIVES
        .iter()
        .find_map(|d| trimmed.strip_suffix(d))
        .map_or(trimmed, str::trim_end);
    if OFFSET_DIRECTIVES.iter().any(|d| stripped.contains(d)) || stripped.contains("%+") {
        return Err(format!(
            "input.date_format (--date-format) '{format}': a UTC offset (%z) may only end the format"
        ));
    }
    Ok(stripped.to_string())
}

/// Seconds east of UTC of an offset matched by [`OFFSET`]: `Z`, `UTC`, `+01`, `+0130`, `-05:00`.
pub(crate) fn offset_seconds(offset: &str) -> Option<i64> {
    if matches!(offset, "Z" | "z" | "UTC" | "GMT") {
        return Some(0);
    }
    let sign = match offset.as_bytes().first()? {
        b'+' => 1,
        b'-' => -1,
        _ => return None,
    };
    let digits: String = offset[1..].chars().filter(|c| *c != ':').collect();
    let hours: i64 = digits.get(..2)?.parse().ok()?;
    let minutes: i64 = match digits.get(2..) {
        Some("") | None => 0,
        Some(m) => m.parse().ok()?,
    };
    (hours <= 23 && minutes <= 59).then_some(sign * (hours * 3600 + minutes * 60))
}

/// Outcome of parsing one column: the parsed values and the rows whose text could not be parsed.
pub struct Parsed {
    pub values: Column,
    /// True where the input held a value that did not parse (missing values are not failures).
    pub failed: Column,
    /// How dates were read (empty for numbers).
    pub dates: DateReading,
}

/// What happened while reading a date column, for messages.
#[derive(Debug, Default)]
pub struct DateReading {
    /// Values that carried a UTC offset or a time zone (text with an offset, a zoned Parquet column).
    pub zoned: u64,
    /// The common export format the column was read in, when no ISO 8601 or user format fitted:
    /// its name and the format that read most values.
    pub detected: Option<(&'static str, &'static str)>,
    /// Day-first and month-first formats read the column equally well (every day ≤ 12): the
    /// first row whose value they read differently, and each one's name and format.
    pub ambiguous: Option<(usize, [(&'static str, &'static str); 2])>,
    /// A user format was given but a built-in one read the first values better and was used.
    pub instead_of_user_format: Option<&'static str>,
    /// The common export formats that fit the sample, with the values each read in this column:
    /// a column read in batches picks the family that reads most over all of them.
    pub family_reads: Vec<(&'static str, u64)>,
    /// When [`DateReading::ambiguous`]: the second family's values, for a column read in batches
    /// whose other batches may tell the two apart.
    pub alternative: Option<Column>,
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
    // A format with a time of day in any form (24 h, 12 h, %T, %R, ...) reads datetimes.
    let date_only = !["%H", "%I", "%k", "%l", "%T", "%R", "%X", "%r", "%c", "%s"]
        .iter()
        .any(|d| format.contains(d));
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
    plausible(&out.columns()[0])
}

/// Parses `order_date` into naive microsecond datetimes: the shop's local time.
///
/// Text is parsed with the first format (user's first) that reads a sample of the column in full;
/// only when some rows still fail is every format tried on them, after trimming and taking a
/// UTC offset off the end. When neither the user's format nor an ISO 8601 one reads the sample,
/// the common export formats are tried ([`EXPORT_FORMATS`]); day-first and month-first are told
/// apart on the whole column, and a column that reads the same both ways but means different
/// dates is reported as ambiguous. A value with an offset, and a Parquet column with a time zone,
/// keeps its local time as written unless `time_zone` is given: then it is converted to that
/// zone's local time. Values without an offset are taken as local time already. Dates before the
/// year 1000 count as unreadable.
pub fn parse_datetime(
    raw: &Column,
    user_format: Option<&str>,
    time_zone: Option<&TimeZone>,
) -> PolarsResult<Parsed> {
    parse_datetime_sampled(raw, user_format, time_zone, None)
}

/// The `&'static` name or format of the built-in date formats and export families that equals
/// `text`: evidence read back from a file ([`super::reading::Evidence`]) names them as text.
pub fn known_format(text: &str) -> Option<&'static str> {
    DATE_FORMATS
        .iter()
        .copied()
        .chain(EXPORT_FORMATS.iter().map(|(name, _)| *name))
        .chain(
            EXPORT_FORMATS
                .iter()
                .flat_map(|(_, formats)| formats.iter().copied()),
        )
        .find(|known| *known == text)
}

/// The first 1,000 values of a date column that hold something: the sample formats are judged
/// on. A column read in batches is judged on the sample of its first batch, so that every batch
/// chooses alike.
pub fn date_sample(raw: &Column) -> PolarsResult<Column> {
    Ok(raw.cast(&DataType::String)?.drop_nulls().head(Some(1000)))
}

/// As [`parse_datetime`], with formats judged on `sample` ([`date_sample`] of the column's first
/// batch) instead of this column's own first values, when given.
pub fn parse_datetime_sampled(
    raw: &Column,
    user_format: Option<&str>,
    time_zone: Option<&TimeZone>,
    sample: Option<&Column>,
) -> PolarsResult<Parsed> {
    let target = DataType::Datetime(TimeUnit::Microseconds, None);
    match raw.dtype() {
        DataType::Datetime(_, Some(_)) => {
            let local = local_clock(raw.datetime()?.clone(), time_zone)?;
            let values = plausible(&local.into_column().cast(&target)?)?;
            let failed = failed_mask(raw, &values)?;
            let dates = DateReading {
                zoned: (raw.len() - raw.null_count()) as u64,
                ..Default::default()
            };
            return Ok(Parsed {
                values,
                failed,
                dates,
            });
        }
        DataType::Datetime(_, None) | DataType::Date => {
            let values = plausible(&raw.cast(&target)?)?;
            let failed = failed_mask(raw, &values)?;
            return Ok(Parsed {
                values,
                failed,
                dates: DateReading::default(),
            });
        }
        _ => {}
    }
    let formats: Vec<&str> = user_format.into_iter().chain(DATE_FORMATS).collect();
    // The built-in format used where the user's was given: theirs is always tried first.
    let instead = |best: &str| {
        user_format.and_then(|user| {
            (best != user)
                .then(|| DATE_FORMATS.iter().copied().find(|f| *f == best))
                .flatten()
        })
    };
    let mut text = raw.cast(&DataType::String)?;
    let mut sample = match sample {
        Some(sample) => sample.clone(),
        None => date_sample(&text)?,
    };
    if let Some(best) = best_format(&sample, &formats)? {
        let values = parse_with(&text, best)?;
        let failed = failed_mask(&text, &values)?;
        if !failed.bool()?.any() {
            return Ok(Parsed {
                values,
                failed,
                dates: DateReading {
                    instead_of_user_format: instead(best),
                    ..Default::default()
                },
            });
        }
    }
    // Some values do not parse as they are: trim them, take offsets off, try every format.
    text = trimmed(&text)?;
    sample = trimmed(&sample)?;
    let has_offset = text.str()?.contains(OFFSET, true)?;
    let mut dates = DateReading {
        zoned: u64::from(has_offset.sum().unwrap_or(0)),
        ..Default::default()
    };
    let mut offsets = None;
    if dates.zoned > 0 {
        let pattern = StringChunked::from_slice("pattern".into(), &[OFFSET]);
        offsets = Some(text.str()?.extract(&pattern, 2)?);
        text = text.str()?.replace(OFFSET, "$1")?.into_column();
    }
    sample = sample.str()?.replace(OFFSET, "$1")?.into_column();
    let mut values = None;
    if user_format.is_none() && best_format(&sample, &formats)?.is_none() {
        values = detect_export_format(&text, &sample, &mut dates)?;
    }
    let mut values = match values {
        Some(values) => values,
        None => {
            let (values, best) = parse_family(&text, &sample, &formats)?;
            dates.instead_of_user_format = instead(best);
            values
        }
    };
    if let (Some(offsets), Some(tz)) = (offsets, time_zone) {
        values = to_zone(&values, &offsets, tz)?;
    }
    let failed = failed_mask(&text, &values)?;
    Ok(Parsed {
        values,
        failed,
        dates,
    })
}

/// The first format that reads the sample in full, if any.
fn best_format<'a>(sample: &Column, formats: &[&'a str]) -> PolarsResult<Option<&'a str>> {
    let (format, failed) = fewest_failures(sample, formats)?;
    Ok((failed == 0).then_some(format))
}

/// Parses text with the format that reads the sample in full (or, failing that, most of it),
/// then the others on what failed. Returns the values and that format.
fn parse_family<'a>(
    text: &Column,
    sample: &Column,
    formats: &[&'a str],
) -> PolarsResult<(Column, &'a str)> {
    let best = most_read(sample, formats)?;
    let mut values = parse_with(text, best)?;
    if failed_mask(text, &values)?.bool()?.any() {
        for format in formats.iter().filter(|f| **f != best) {
            let more = parse_with(text, format)?;
            values = values.zip_with(&values.is_not_null(), &more)?;
        }
    }
    Ok((values, best))
}

/// The format that reads most of a sample of the column: the first that reads all of it, else
/// the first of those that fail least.
fn most_read<'a>(text: &Column, formats: &[&'a str]) -> PolarsResult<&'a str> {
    Ok(fewest_failures(text, formats)?.0)
}

/// The first format that reads all of a 1,000-value sample of the column, else the first of those
/// that fail least, with its number of failures in the sample.
fn fewest_failures<'a>(sample: &Column, formats: &[&'a str]) -> PolarsResult<(&'a str, usize)> {
    let sample = sample.drop_nulls();
    let mut best = (formats[0], usize::MAX);
    for format in formats {
        let failed = parse_with(&sample, format)?.null_count();
        if failed == 0 {
            return Ok((format, 0));
        }
        if failed < best.1 {
            best = (format, failed);
        }
    }
    Ok(best)
}

/// Reads the column in the common export format family that fits it; `None` if none reads 99 %
/// of a sample (its formats together). When several do (day-first and month-first), the one that reads most of the
/// whole column wins; a tie between two that mean different dates is recorded in `dates` as
/// ambiguous (the values returned are then the first family's, and must not be used).
fn detect_export_format(
    text: &Column,
    sample: &Column,
    dates: &mut DateReading,
) -> PolarsResult<Option<Column>> {
    let sample = sample.drop_nulls();
    let mut fits = Vec::new();
    for (name, family) in EXPORT_FORMATS {
        // A stray bad value (`N/A`) in the sample must not hide the format of all the others.
        if parse_family(&sample, &sample, family)?.0.null_count() * 100 <= sample.len() {
            let (values, format) = parse_family(text, &sample, family)?;
            let read = values.len() - values.null_count();
            fits.push((read, name, format, values));
        }
    }
    dates.family_reads = fits.iter().map(|f| (f.1, f.0 as u64)).collect();
    // Most values read first; among equals, the order of EXPORT_FORMATS (a stable sort).
    fits.sort_by_key(|f| std::cmp::Reverse(f.0));
    let mut fits = fits.into_iter();
    let Some((read, name, format, values)) = fits.next() else {
        return Ok(None);
    };
    if let Some((other_read, other_name, other_format, other)) = fits.next()
        && other_read == read
    {
        let differs = values.not_equal_missing(&other)?;
        if let Some(row) = differs.iter().position(|d| d == Some(true)) {
            dates.ambiguous = Some((row, [(name, format), (other_name, other_format)]));
            dates.alternative = Some(other);
        }
    }
    dates.detected = Some((name, format));
    Ok(Some(values))
}

/// Dates before the year 1000 become missing values (so they count as unparseable).
fn plausible(values: &Column) -> PolarsResult<Column> {
    let ca = values.datetime()?;
    if !ca
        .physical()
        .iter()
        .any(|v| v.is_some_and(|v| v < EARLIEST))
    {
        return Ok(values.clone());
    }
    let kept: Int64Chunked = ca
        .physical()
        .iter()
        .map(|v| v.filter(|v| *v >= EARLIEST))
        .collect();
    Ok(kept
        .with_name(values.name().clone())
        .into_datetime(TimeUnit::Microseconds, None)
        .into_column())
}

/// Local times written with an offset, converted to the local time of `tz`; values without an
/// offset are left as they are.
fn to_zone(values: &Column, offsets: &StringChunked, tz: &TimeZone) -> PolarsResult<Column> {
    let local = values.datetime()?;
    let utc: Int64Chunked = local
        .physical()
        .iter()
        .zip(offsets.iter())
        .map(|(v, o)| Some(v? - offset_seconds(o?)? * 1_000_000))
        .collect();
    let utc = utc.into_datetime(TimeUnit::Microseconds, Some(TimeZone::UTC));
    let converted = local_clock(utc, Some(tz))?.into_column();
    let has_offset = offsets.is_not_null().into_column();
    converted.zip_with(has_offset.bool()?, values)
}

/// The wall-clock time of zoned instants: in `tz` when given, else in their own zone.
fn local_clock(mut zoned: DatetimeChunked, tz: Option<&TimeZone>) -> PolarsResult<DatetimeChunked> {
    if let Some(tz) = tz {
        zoned.set_time_zone(tz.clone())?;
    }
    let raise = StringChunked::from_slice("ambiguous".into(), &["raise"]);
    replace_time_zone(&zoned, None, &raise, NonExistent::Raise)
}

/// `1.234,50` → `1234.50`, `-2,5` → `-2.5`, `12` → `12`: a number written with a decimal comma,
/// optionally with dots between groups of three digits. `None` for anything else (`2.5` included,
/// so that a file mixing both conventions fails loudly instead of reading 2.5 as 25).
pub fn decimal_comma_number(s: &str) -> Option<String> {
    let s = s.trim();
    let (sign, body) = match s.strip_prefix('-') {
        Some(body) => ("-", body),
        None => ("", s),
    };
    let digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
    let (int, frac) = match body.split_once(',') {
        Some((int, frac)) if digits(frac) => (int, Some(frac)),
        Some(_) => return None,
        None => (body, None),
    };
    let mut groups = int.split('.');
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let grouped =
        rest.is_empty() || ((1..=3).contains(&first.len()) && rest.iter().all(|g| g.len() == 3));
    if !grouped || !digits(first) || !rest.iter().all(|g| digits(g)) {
        return None;
    }
    let int: String = std::iter::once(first).chain(rest).collect();
    Some(match frac {
        Some(frac) => format!("{sign}{int}.{frac}"),
        None => format!("{sign}{int}"),
    })
}

/// Parses a numeric column to Float64. Text that is not a number, NaN, infinities and blank cells
/// count as failures: a column that exists must hold a number in every row. With `decimal_comma`,
/// text is read as [`decimal_comma_number`] does.
pub fn parse_number(raw: &Column, decimal_comma: bool) -> PolarsResult<Parsed> {
    let values = if raw.dtype().is_primitive_numeric() {
        raw.cast(&DataType::Float64)?
    } else if decimal_comma {
        let text = raw.cast(&DataType::String)?;
        let converted: StringChunked = text
            .str()?
            .iter()
            .map(|v| v.and_then(decimal_comma_number))
            .collect();
        converted.into_column().cast(&DataType::Float64)?
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
        dates: DateReading::default(),
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
        let parsed = parse_datetime(&raw, None, None).unwrap();
        assert_eq!(
            parsed.dates.zoned, 0,
            "a date alone is not a time with an offset"
        );
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
        let parsed = parse_datetime(&raw, Some("%d/%m/%Y %H:%M"), None).unwrap();
        assert_eq!(
            parsed.values.datetime().unwrap().phys.get(0),
            Some(1_323_435_000_000_000)
        );
    }

    // Expected instants in these tests were computed with Python's datetime and zoneinfo, e.g.
    // datetime(2011, 7, 9, 12, 50, tzinfo=timezone.utc).astimezone(ZoneInfo("Europe/Berlin")).
    const NOON: i64 = 1_323_435_000_000_000; // 2011-12-09T12:50:00

    fn micros(parsed: &Parsed) -> Vec<Option<i64>> {
        parsed.values.datetime().unwrap().phys.iter().collect()
    }

    fn berlin() -> TimeZone {
        TimeZone::opt_try_new(Some("Europe/Berlin"))
            .unwrap()
            .unwrap()
    }

    #[test]
    fn dates_with_a_utc_offset_keep_their_local_time_as_written() {
        let raw = text(&[
            Some("2011-12-09T12:50:00+01:00"),
            Some("2011-12-09T12:50:00Z"),
            Some("2011-12-09 12:50:00 +0100"),
            Some("2011-12-09T12:50:00.5-05:00"),
            Some(" 2011-12-09 12:50:00 UTC "),
            Some("2011-12-09T12:50+05"),
            Some("2011-12-09T12:50:00"),
            Some("2011-12-09T12:50:00+99:00"),
        ]);
        let parsed = parse_datetime(&raw, None, None).unwrap();
        assert_eq!(parsed.dates.zoned, 6, "the offset +99:00 is not one");
        let mut expected = vec![Some(NOON); 7];
        expected[3] = Some(NOON + 500_000);
        expected.push(None);
        assert_eq!(micros(&parsed), expected);
        assert_eq!(parsed.failed.bool().unwrap().sum(), Some(1));
    }

    #[test]
    fn dates_with_a_utc_offset_are_converted_to_the_given_zone() {
        let raw = text(&[
            Some("2011-12-09T12:50:00Z"),      // CET, UTC+1
            Some("2011-07-09T12:50:00+00:00"), // CEST, UTC+2
            Some("2011-12-09T23:30:00-05:00"), // the next day in Berlin
            Some("2011-12-09T12:50:00"),       // no offset: already local
        ]);
        let parsed = parse_datetime(&raw, None, Some(&berlin())).unwrap();
        assert_eq!(parsed.dates.zoned, 3);
        assert_eq!(
            micros(&parsed),
            vec![
                Some(1_323_438_600_000_000), // 2011-12-09T13:50:00
                Some(1_310_223_000_000_000), // 2011-07-09T14:50:00
                Some(1_323_495_000_000_000), // 2011-12-10T05:30:00
                Some(NOON),
            ]
        );
    }

    #[test]
    fn a_user_format_may_end_with_an_offset() {
        let format = format_without_offset("%d/%m/%Y %H:%M %z").unwrap();
        assert_eq!(format, "%d/%m/%Y %H:%M");
        assert!(format_without_offset("%z %d/%m/%Y").is_err());
        let raw = text(&[Some("09/12/2011 12:50 +0100")]);
        let parsed = parse_datetime(&raw, Some(&format), None).unwrap();
        assert_eq!((micros(&parsed), parsed.dates.zoned), (vec![Some(NOON)], 1));
    }

    #[test]
    fn offsets_are_read_in_their_written_forms() {
        assert_eq!(offset_seconds("Z"), Some(0));
        assert_eq!(offset_seconds("GMT"), Some(0));
        assert_eq!(offset_seconds("+01"), Some(3600));
        assert_eq!(offset_seconds("+0130"), Some(5400));
        assert_eq!(offset_seconds("-05:00"), Some(-18_000));
        assert_eq!(offset_seconds("+24:00"), None);
        assert_eq!(offset_seconds("+01:60"), None);
    }

    #[test]
    fn zoned_datetime_columns_give_their_local_time() {
        // 2011-12-09T17:50:00Z, stored as a New York time (12:50 there).
        let utc = Int64Chunked::from_slice("x".into(), &[1_323_453_000_000_000]);
        let new_york = TimeZone::opt_try_new(Some("America/New_York")).unwrap();
        let raw = utc
            .into_datetime(TimeUnit::Microseconds, new_york)
            .into_column();
        let own = parse_datetime(&raw, None, None).unwrap();
        assert_eq!((micros(&own), own.dates.zoned), (vec![Some(NOON)], 1));
        let converted = parse_datetime(&raw, None, Some(&berlin())).unwrap();
        assert_eq!(micros(&converted), vec![Some(1_323_456_600_000_000)]); // 18:50
    }

    #[test]
    fn month_first_export_dates_are_told_from_day_first_by_the_whole_column() {
        // Only the second value has a day above 12, and it is in the second place.
        let raw = text(&[
            Some("12/1/2010 8:26"),
            Some("12/13/2010 9:00"),
            Some("1/2/2011 10:00"),
        ]);
        let parsed = parse_datetime(&raw, None, None).unwrap();
        assert_eq!(
            parsed.dates.detected,
            Some(("month/day/year", "%m/%d/%Y %H:%M"))
        );
        assert_eq!(parsed.dates.ambiguous, None);
        assert_eq!(
            micros(&parsed),
            vec![
                Some(1_291_191_960_000_000), // 2010-12-01T08:26
                Some(1_292_230_800_000_000), // 2010-12-13T09:00
                Some(1_293_962_400_000_000), // 2011-01-02T10:00
            ]
        );
    }

    #[test]
    fn a_stray_bad_value_does_not_hide_the_export_format() {
        let raw = text(&[Some("12/1/2010 8:26"), Some("N/A"), Some("12/13/2010 9:00")]);
        // Below 1 % of the sample in real files; here one in three would be too many.
        assert_eq!(
            parse_datetime(&raw, None, None).unwrap().dates.detected,
            None
        );
        let mut many: Vec<Option<&str>> = vec![Some("12/13/2010 9:00"); 150];
        many[7] = Some("N/A");
        let parsed = parse_datetime(&text(&many), None, None).unwrap();
        assert_eq!(
            parsed.dates.detected,
            Some(("month/day/year", "%m/%d/%Y %H:%M"))
        );
        assert_eq!(parsed.failed.bool().unwrap().sum(), Some(1));
    }

    #[test]
    fn day_first_dot_and_am_pm_export_dates_parse() {
        let day_first = text(&[Some("13/12/2010 09:00"), Some("01/12/2010")]);
        let parsed = parse_datetime(&day_first, None, None).unwrap();
        assert_eq!(parsed.dates.detected.unwrap().0, "day/month/year");
        assert_eq!(
            micros(&parsed),
            vec![Some(1_292_230_800_000_000), Some(1_291_161_600_000_000)]
        );
        let dot = parse_datetime(&text(&[Some("09.12.2011 12:50")]), None, None).unwrap();
        assert_eq!(micros(&dot), vec![Some(NOON)]);
        let pm = parse_datetime(&text(&[Some("12/9/2011 12:50 PM")]), None, None).unwrap();
        assert_eq!(micros(&pm), vec![Some(NOON)]);
    }

    #[test]
    fn a_column_that_reads_both_ways_is_ambiguous_unless_the_dates_agree() {
        let raw = text(&[Some("01/01/2011"), Some("03/04/2011"), Some("02/05/2011")]);
        let parsed = parse_datetime(&raw, None, None).unwrap();
        assert_eq!(
            parsed.dates.ambiguous,
            Some((
                1,
                [
                    ("month/day/year", "%m/%d/%Y"),
                    ("day/month/year", "%d/%m/%Y")
                ]
            ))
        );
        let same = text(&[Some("01/01/2011"), Some("02/02/2011")]);
        let parsed = parse_datetime(&same, None, None).unwrap();
        assert_eq!(parsed.dates.ambiguous, None);
        assert_eq!(parsed.failed.bool().unwrap().sum(), Some(0));
    }

    #[test]
    fn two_digit_years_and_placeholder_dates_are_not_read() {
        let raw = text(&[Some("12/9/11"), Some("0001-01-01"), Some("2011-12-09")]);
        let parsed = parse_datetime(&raw, None, None).unwrap();
        let failed: Vec<_> = parsed.failed.bool().unwrap().iter().collect();
        assert_eq!(failed, vec![Some(true), Some(true), Some(false)]);
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
    fn decimal_comma_numbers_parse_and_dot_decimals_then_fail() {
        assert_eq!(decimal_comma_number("2,50").as_deref(), Some("2.50"));
        assert_eq!(
            decimal_comma_number(" -1.234,5 ").as_deref(),
            Some("-1234.5")
        );
        assert_eq!(
            decimal_comma_number("12.345.678").as_deref(),
            Some("12345678")
        );
        assert_eq!(decimal_comma_number("7").as_deref(), Some("7"));
        for bad in ["2.5", "1.23,4", "1234.567,8", ",5", "2,", "abc", "", "-"] {
            assert_eq!(decimal_comma_number(bad), None, "{bad}");
        }
        let raw = text(&[Some("2,55"), Some("1.000"), Some("2.55"), None]);
        let parsed = parse_number(&raw, true).unwrap();
        let v: Vec<_> = parsed.values.f64().unwrap().iter().collect();
        assert_eq!(v, vec![Some(2.55), Some(1000.0), None, None]);
        assert_eq!(parsed.failed.bool().unwrap().sum(), Some(2));
    }

    #[test]
    fn numbers_parse_and_text_nan_and_blank_fail() {
        let raw = text(&[Some(" 2.55"), Some("abc"), Some("NaN"), None, Some("-3")]);
        let parsed = parse_number(&raw, false).unwrap();
        let v: Vec<_> = parsed.values.f64().unwrap().iter().collect();
        assert_eq!(v, vec![Some(2.55), None, None, None, Some(-3.0)]);
        let failed: Vec<_> = parsed.failed.bool().unwrap().iter().collect();
        assert_eq!(
            failed,
            vec![Some(false), Some(true), Some(true), Some(true), Some(false)]
        );
    }
}
