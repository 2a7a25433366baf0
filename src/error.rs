//! Typed errors of the library and the exit codes a scheduler sees.

use std::path::PathBuf;

/// Process exit codes. A scheduler tells failures apart by these; the README documents them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExitCode {
    Success = 0,
    /// Unexpected failure inside retain (a bug, or an environment problem such as a full disk).
    Internal = 1,
    /// Wrong command-line arguments or configuration file.
    Usage = 2,
    /// The input data cannot be read or is malformed.
    InputData = 3,
    /// The input is readable but holds too little data for the requested stage.
    InsufficientData = 4,
    /// A saved model does not fit this retain version or this input.
    ModelMismatch = 5,
    /// Output files could not be written.
    Output = 6,
    /// Another retain process is writing the same output or model directory.
    Busy = 7,
}

/// A position inside an input file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// 1-based line of a CSV file where the record starts, header included (quoted line breaks
    /// before it counted).
    Line(u64),
    /// 1-based row of a Parquet file.
    Row(u64),
}

impl std::fmt::Display for Position {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Position::Line(line) => write!(f, "line {line}"),
            Position::Row(row) => write!(f, "row {row}"),
        }
    }
}

/// Where in an input file a problem sits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Location {
    pub path: PathBuf,
    pub position: Option<Position>,
    /// The column as the user named it in the file.
    pub column: Option<String>,
}

impl std::fmt::Display for Location {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}", self.path.display())?;
        match self.position {
            Some(Position::Line(line)) => write!(f, ", line {line}")?,
            Some(Position::Row(row)) => write!(f, ", row {row}")?,
            None => {}
        }
        if let Some(column) = &self.column {
            write!(f, ", column '{column}'")?;
        }
        Ok(())
    }
}

/// Too many values of one column could not be parsed; the first one is shown.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[error(
    "{location}: cannot parse value '{value}' ({} cannot be parsed, {share_pct:.2}% of all); expected {expected}",
    count_of(*.count, "row")
)]
pub struct Unparseable {
    pub location: Location,
    pub value: String,
    pub expected: String,
    pub count: u64,
    pub share_pct: f64,
}

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Usage(String),

    #[error("invalid configuration in {path}: {message}")]
    Config { path: PathBuf, message: String },

    #[error("{location}: {message}")]
    InputData { location: Location, message: String },

    #[error("{0}")]
    Unparseable(Box<Unparseable>),

    #[error("insufficient data: {0}")]
    InsufficientData(String),

    #[error("model mismatch: {0}")]
    ModelMismatch(String),

    #[error("cannot write {path}: {source}")]
    Output {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    #[error("busy: {0}")]
    Busy(String),

    #[error("internal error: {0}")]
    Internal(String),

    #[error("internal error in the table engine: {0}")]
    Polars(#[from] polars::prelude::PolarsError),
}

impl Error {
    pub fn exit_code(&self) -> ExitCode {
        match self {
            Error::Usage(_) | Error::Config { .. } => ExitCode::Usage,
            Error::InputData { .. } | Error::Unparseable(_) => ExitCode::InputData,
            Error::InsufficientData(_) => ExitCode::InsufficientData,
            Error::ModelMismatch(_) => ExitCode::ModelMismatch,
            Error::Output { .. } => ExitCode::Output,
            Error::Busy(_) => ExitCode::Busy,
            Error::Internal(_) | Error::Polars(_) => ExitCode::Internal,
        }
    }

    /// An input-data error about a whole file.
    pub fn input(path: impl Into<PathBuf>, message: impl Into<String>) -> Self {
        Error::InputData {
            location: Location {
                path: path.into(),
                position: None,
                column: None,
            },
            message: message.into(),
        }
    }

    /// An input-data error about one place in a file: a line or row, and a column if known.
    pub fn input_at(
        path: impl Into<PathBuf>,
        position: Position,
        column: Option<&str>,
        message: impl Into<String>,
    ) -> Self {
        Error::InputData {
            location: Location {
                path: path.into(),
                position: Some(position),
                column: column.map(str::to_string),
            },
            message: message.into(),
        }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// "1 row", "3 rows".
pub fn count_of(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// The text a panic was raised with.
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("no message")
}
