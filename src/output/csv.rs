//! CSV profiles for the files a CRM or a spreadsheet imports: separator, decimal mark, byte order
//! mark; numbers rounded per column (money to cents, other fractions to 4 places), never in
//! scientific notation; text fields quoted and made safe to open in a spreadsheet (a text cell that
//! a spreadsheet would run as a formula gets a leading `'`, the OWASP rule).

use std::path::Path;

use polars::prelude::*;

use crate::error::Result;
use crate::io::write;

/// How CSV files are written (`--profile`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Profile {
    /// Comma, UTF-8 without BOM, ISO 8601 dates, `.` decimals.
    #[default]
    Crm,
    /// For German Excel: semicolon, decimal comma, UTF-8 with BOM, ISO 8601 dates.
    ExcelDe,
}

impl Profile {
    pub fn separator(self) -> u8 {
        match self {
            Profile::Crm => b',',
            Profile::ExcelDe => b';',
        }
    }

    pub fn decimal_comma(self) -> bool {
        self == Profile::ExcelDe
    }

    pub fn bom(self) -> bool {
        self == Profile::ExcelDe
    }

    pub fn name(self) -> &'static str {
        match self {
            Profile::Crm => "crm",
            Profile::ExcelDe => "excel-de",
        }
    }
}

/// Money columns: rounded to 2 decimals in CSV files. Other float columns get 4.
const MONEY: [&str; 8] = [
    crate::schema::feature::MONETARY_TOTAL,
    crate::schema::feature::AVG_ORDER_VALUE,
    crate::schema::feature::MEDIAN_UNIT_PRICE,
    crate::schema::score::EXPECTED_VALUE,
    crate::schema::score::VALUE_AT_RISK,
    crate::schema::offer::OFFER_COST,
    crate::schema::offer::EXPECTED_NET_BENEFIT,
    "unit_price",
];

/// A copy of `table` with every float column rounded for display (half to even).
pub fn rounded(table: &DataFrame) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(table.width());
    for column in table.columns() {
        let column = if column.dtype().is_float() {
            let decimals = if MONEY.contains(&column.name().as_str()) {
                2
            } else {
                4
            };
            column
                .as_materialized_series()
                .round(decimals, RoundMode::HalfToEven)?
                .into_column()
        } else {
            column.clone()
        };
        columns.push(column);
    }
    Ok(DataFrame::new(table.height(), columns)?)
}

/// Characters that make a spreadsheet (Excel, LibreOffice, Google Sheets) read a cell as a
/// formula or a command, quoted or not (OWASP, "CSV Injection").
const FORMULA_STARTS: [char; 6] = ['=', '+', '-', '@', '\t', '\r'];

/// A plain decimal number with an optional sign (`-2.5`, `+3`, `-.5`): a spreadsheet reads it as a
/// number, never as a formula, so it is kept as it is.
fn is_plain_number(text: &str) -> bool {
    let digits = text.strip_prefix(['-', '+']).unwrap_or(text);
    let mut parts = digits.splitn(2, '.');
    let whole = parts.next().unwrap_or_default();
    let fraction = parts.next().unwrap_or_default();
    !(whole.is_empty() && fraction.is_empty())
        && whole.bytes().all(|b| b.is_ascii_digit())
        && fraction.bytes().all(|b| b.is_ascii_digit())
}

/// Whether a text cell would be run as a formula by a spreadsheet: it starts with one of
/// [`FORMULA_STARTS`] and is not a plain number.
pub fn is_formula_like(text: &str) -> bool {
    text.starts_with(FORMULA_STARTS) && !is_plain_number(text)
}

/// A copy of `table` whose text cells a spreadsheet would run as formulas (`=HYPERLINK(..)`,
/// `+cmd|..`, `@SUM(..)`, a leading tab) start with a `'`, which spreadsheets show as text and do
/// not evaluate. Number columns, and text that is a plain number (`-2.5`), are unchanged.
pub fn formula_safe(table: &DataFrame) -> Result<DataFrame> {
    let mut columns = Vec::with_capacity(table.width());
    for column in table.columns() {
        let unsafe_text = column.dtype() == &DataType::String
            && column.str()?.iter().flatten().any(is_formula_like);
        columns.push(if unsafe_text {
            let text = column.str()?;
            let safe: StringChunked = text
                .iter()
                .map(|v| {
                    v.map(|s| {
                        if is_formula_like(s) {
                            format!("'{s}")
                        } else {
                            s.to_string()
                        }
                    })
                })
                .collect();
            safe.with_name(column.name().clone()).into_column()
        } else {
            column.clone()
        });
    }
    Ok(DataFrame::new(table.height(), columns)?)
}

/// Serialises `table` (already rounded and made formula-safe) in `profile`: RFC 4180, text quoted, dates ISO 8601.
pub fn to_writer<W: std::io::Write>(
    table: &mut DataFrame,
    out: &mut W,
    profile: Profile,
) -> Result<()> {
    part_to_writer(table, out, profile, true)
}

/// [`to_writer`] for one part of a table written in parts: the byte order mark and the header
/// only before the first.
pub fn part_to_writer<W: std::io::Write>(
    table: &mut DataFrame,
    out: &mut W,
    profile: Profile,
    first: bool,
) -> Result<()> {
    CsvWriter::new(out)
        .include_header(first)
        .include_bom(first && profile.bom())
        .with_separator(profile.separator())
        .with_decimal_comma(profile.decimal_comma())
        .with_quote_style(QuoteStyle::NonNumeric)
        .with_float_scientific(Some(false))
        .with_date_format(Some("%Y-%m-%d".into()))
        .with_datetime_format(Some("%Y-%m-%dT%H:%M:%S".into()))
        .with_line_terminator("\r\n".into())
        .finish(table)?;
    Ok(())
}

/// Writes `table` as a CSV file in `profile`, atomically: rounded, and formula-safe.
pub fn write(table: &DataFrame, path: &Path, profile: Profile) -> Result<()> {
    let mut table = formula_safe(&rounded(table)?)?;
    write::write_atomic(path, |out| to_writer(&mut table, out, profile))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> DataFrame {
        df!(
            "customer_id" => ["007", "a;b"],
            "churn_probability" => [0.123456, 1e-7],
            "value_at_risk" => [1234.5678, 0.005],
            "n" => [3i64, 10],
        )
        .unwrap()
    }

    fn text(profile: Profile) -> String {
        let mut table = rounded(&sample()).unwrap();
        let mut bytes = Vec::new();
        to_writer(&mut table, &mut bytes, profile).unwrap();
        String::from_utf8(bytes).unwrap()
    }

    #[test]
    fn crm_profile() {
        // Half to even: 0.005 → 0.0 at 2 decimals; 1e-7 → 0 without scientific notation.
        assert_eq!(
            text(Profile::Crm),
            "\"customer_id\",\"churn_probability\",\"value_at_risk\",\"n\"\r\n\
             \"007\",0.1235,1234.57,3\r\n\
             \"a;b\",0,0,10\r\n"
        );
    }

    #[test]
    fn text_cells_that_spreadsheets_run_as_formulas_get_a_quote() {
        let table = df!(
            "customer_id" => ["=1+1", "-2.5", "+49 30 1234", "@SUM(A1)", "007", "-", "a=b"],
            "product_name" => ["\tTAB", "\rCR", "-1+2", "+3", "=HYPERLINK(\"x\")", "", "-.5"],
            "score" => [-2.5, 1.0, -0.25, 0.0, 3.0, -1.0, 2.0],
        )
        .unwrap();
        let safe = formula_safe(&table).unwrap();
        let text = |name: &str| -> Vec<String> {
            safe.column(name)
                .unwrap()
                .str()
                .unwrap()
                .iter()
                .map(|v| v.unwrap().to_string())
                .collect()
        };
        assert_eq!(
            text("customer_id"),
            [
                "'=1+1",
                "-2.5",
                "'+49 30 1234",
                "'@SUM(A1)",
                "007",
                "'-",
                "a=b"
            ]
        );
        assert_eq!(
            text("product_name"),
            [
                "'\tTAB",
                "'\rCR",
                "'-1+2",
                "+3",
                "'=HYPERLINK(\"x\")",
                "",
                "-.5"
            ]
        );
        // Numbers stay numbers, negative ones included.
        assert_eq!(
            safe.column("score").unwrap(),
            table.column("score").unwrap()
        );
        let mut bytes = Vec::new();
        to_writer(&mut safe.clone(), &mut bytes, Profile::Crm).unwrap();
        let csv = String::from_utf8(bytes).unwrap();
        assert!(csv.contains("\"'=1+1\",\"'\tTAB\",-2.5\r\n"), "{csv}");
    }

    #[test]
    fn excel_de_profile() {
        assert_eq!(
            text(Profile::ExcelDe),
            "\u{feff}\"customer_id\";\"churn_probability\";\"value_at_risk\";\"n\"\r\n\
             \"007\";0,1235;1234,57;3\r\n\
             \"a;b\";0;0;10\r\n"
        );
    }
}
