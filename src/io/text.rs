//! The text inside a CSV file: decompressed (gzip, zlib, zstd), decoded to UTF-8 from its
//! encoding, and with classic Mac line ends (CR alone) read as line feeds.
//!
//! polars reads UTF-8 with LF or CRLF line ends itself, from the file as it is. Any other file
//! is streamed through a [`TextReader`] into a UTF-8 copy for polars, and the record scanner
//! ([`crate::io::source`]) reads it through a [`TextReader`] again, so line numbers in messages
//! are the file's own. Translating a lone CR to LF keeps every byte where it was.

use std::fs::File;
use std::io::{self, Read, Write};
use std::path::Path;

use crate::config::TextEncoding;
use crate::error::{Error, Position, Result};
use crate::io::decode::{Malformed, TextReader, decoding};

/// How many decompressed bytes are looked at before polars reads a file: far more than a
/// header line, and little enough to be read at once from a gzip bomb.
pub const PROBE_BYTES: usize = 64 * 1024;

/// How a CSV file is compressed, told by its first bytes as polars tells it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Compression {
    #[default]
    None,
    Gzip,
    Zlib,
    Zstd,
}

/// The line ends of a CSV file.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum LineEnds {
    /// LF or CRLF, which polars reads.
    #[default]
    Lf,
    /// CR alone (classic Mac OS): read as LF.
    Cr,
}

/// How the bytes of a CSV file become the text that is read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct TextForm {
    pub compression: Compression,
    /// The encoding read: a byte-order mark's, else the setting's.
    pub encoding: TextEncoding,
    /// Whether the file starts with a byte-order mark.
    pub bom: bool,
    pub line_ends: LineEnds,
}

impl TextForm {
    /// Whether polars can read the file as it is: UTF-8 with LF or CRLF line ends.
    pub fn is_native(&self) -> bool {
        self.encoding == TextEncoding::Utf8 && self.line_ends == LineEnds::Lf
    }

    /// "the file" or "the decompressed text", for messages that give a byte offset.
    pub fn bytes_name(&self) -> &'static str {
        match self.compression {
            Compression::None => "the file",
            _ => "the decompressed text",
        }
    }
}

fn compression(path: &Path) -> io::Result<Compression> {
    let mut magic = [0u8; 4];
    let n = read_full(&mut File::open(path)?, &mut magic)?;
    Ok(match (n, magic) {
        (2.., [0x1f, 0x8b, ..]) => Compression::Gzip,
        (2.., [0x78, 0x01 | 0x5e | 0x9c | 0xda, ..]) => Compression::Zlib,
        (4, [0x28, 0xb5, 0x2f, 0xfd]) => Compression::Zstd,
        _ => Compression::None,
    })
}

/// Counts the bytes read through it.
struct Counting<R> {
    inner: R,
    read: std::sync::Arc<std::sync::atomic::AtomicU64>,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.read
            .fetch_add(n as u64, std::sync::atomic::Ordering::Relaxed);
        Ok(n)
    }
}

/// As [`open_text`], with the count of the file's own (compressed) bytes read so far: how much
/// of the file a stretch of text took, to estimate the rows of the rest.
pub fn open_text_counted(
    path: &Path,
    form: TextForm,
) -> io::Result<(Box<dyn Read>, std::sync::Arc<std::sync::atomic::AtomicU64>)> {
    let read = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
    let file = Counting {
        inner: File::open(path)?,
        read: read.clone(),
    };
    Ok((text_of(bytes_of(file, form.compression)?, form), read))
}

fn bytes_of(file: impl Read + 'static, compression: Compression) -> io::Result<Box<dyn Read>> {
    Ok(match compression {
        Compression::None => Box::new(file),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(file)),
        Compression::Zlib => Box::new(flate2::read::ZlibDecoder::new(file)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(file)?),
    })
}

fn text_of(bytes: Box<dyn Read>, form: TextForm) -> Box<dyn Read> {
    if form.is_native() {
        bytes
    } else {
        let decoder = (form.encoding != TextEncoding::Utf8)
            .then(|| decoding(form.encoding).new_decoder_with_bom_removal());
        Box::new(TextReader::new(
            bytes,
            decoder,
            form.encoding,
            form.line_ends == LineEnds::Cr,
        ))
    }
}

/// The file's bytes, decompressed.
fn open_bytes(path: &Path, compression: Compression) -> io::Result<Box<dyn Read>> {
    bytes_of(File::open(path)?, compression)
}

/// The text of a CSV file as it is read: decompressed, decoded to UTF-8 unless it is UTF-8
/// already (polars checks that), CR line ends as LF.
pub fn open_text(path: &Path, form: TextForm) -> io::Result<Box<dyn Read>> {
    Ok(text_of(open_bytes(path, form.compression)?, form))
}

/// As [`open_text`], but UTF-8 is checked too: reading stops with a [`Malformed`] error at the
/// first byte that is not UTF-8, after the text before it.
pub fn open_checked_text(path: &Path, form: TextForm) -> io::Result<Box<dyn Read>> {
    let bytes = open_bytes(path, form.compression)?;
    let decoder = decoding(form.encoding).new_decoder_with_bom_removal();
    Ok(Box::new(TextReader::new(
        bytes,
        Some(decoder),
        form.encoding,
        form.line_ends == LineEnds::Cr,
    )))
}

/// Reads as much of `reader` as fills `buffer`; fewer bytes only at the end.
fn read_full(reader: &mut dyn Read, buffer: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buffer.len() {
        match reader.read(&mut buffer[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

/// The first byte offset in `bytes` of the ASCII character `c` as `encoding` writes it (for
/// UTF-16 a 2-byte unit at an even offset).
fn find_ascii(bytes: &[u8], encoding: TextEncoding, c: u8) -> Option<usize> {
    match encoding {
        TextEncoding::Utf16Le => bytes
            .chunks_exact(2)
            .position(|u| u == [c, 0])
            .map(|i| 2 * i),
        TextEncoding::Utf16Be => bytes
            .chunks_exact(2)
            .position(|u| u == [0, c])
            .map(|i| 2 * i),
        _ => bytes.iter().position(|&b| b == c),
    }
}

/// How often the ASCII character `c` occurs in `bytes` as `encoding` writes it.
fn count_ascii(bytes: &[u8], encoding: TextEncoding, c: u8) -> u64 {
    match encoding {
        TextEncoding::Utf16Le => bytes.chunks_exact(2).filter(|u| *u == [c, 0]).count() as u64,
        TextEncoding::Utf16Be => bytes.chunks_exact(2).filter(|u| *u == [0, c]).count() as u64,
        _ => bytes.iter().filter(|&&b| b == c).count() as u64,
    }
}

/// UTF-16 without a byte-order mark, by where its NUL bytes are: ASCII text in UTF-16LE has a
/// NUL at every odd offset, in UTF-16BE at every even one.
fn looks_like_utf16(bytes: &[u8]) -> Option<TextEncoding> {
    let sample = &bytes[..bytes.len().min(4096) & !1];
    let pairs = sample.len() / 2;
    let odd = sample
        .chunks_exact(2)
        .filter(|u| u[1] == 0 && u[0] != 0)
        .count();
    let even = sample
        .chunks_exact(2)
        .filter(|u| u[0] == 0 && u[1] != 0)
        .count();
    match () {
        _ if pairs > 0 && odd * 10 >= pairs * 9 => Some(TextEncoding::Utf16Le),
        _ if pairs > 0 && even * 10 >= pairs * 9 => Some(TextEncoding::Utf16Be),
        _ => None,
    }
}

/// Looks at the first [`PROBE_BYTES`] of the decompressed text: a byte-order mark decides the
/// encoding (over `setting`), which line ends are used, and whether it is text at all. A NUL
/// (never in CSV text; in UTF-16 a NUL character) or a first line longer than the probe is
/// refused there, so that a gzip bomb or a binary file is not read to its end.
pub fn probe(path: &Path, setting: TextEncoding) -> Result<TextForm> {
    let io_error = |e: io::Error| match e.kind() {
        io::ErrorKind::NotFound => Error::input(path, "no such file"),
        io::ErrorKind::PermissionDenied => Error::input(path, "permission denied"),
        _ => Error::input(
            path,
            format!("cannot decompress (truncated or corrupt archive?): {e}"),
        ),
    };
    let compression = compression(path).map_err(io_error)?;
    let mut head = vec![0u8; PROBE_BYTES];
    let n = read_full(
        &mut *open_bytes(path, compression).map_err(io_error)?,
        &mut head,
    )
    .map_err(io_error)?;
    head.truncate(n);
    let (encoding, bom) = match head.as_slice() {
        [0xef, 0xbb, 0xbf, ..] => (TextEncoding::Utf8, true),
        [0xff, 0xfe, ..] => (TextEncoding::Utf16Le, true),
        [0xfe, 0xff, ..] => (TextEncoding::Utf16Be, true),
        _ => (setting, false),
    };
    let has_lf = find_ascii(&head, encoding, b'\n').is_some();
    let line_ends = if !has_lf && find_ascii(&head, encoding, b'\r').is_some() {
        LineEnds::Cr
    } else {
        LineEnds::Lf
    };
    let form = TextForm {
        compression,
        encoding,
        bom,
        line_ends,
    };
    let nul = if encoding.is_utf16() {
        find_ascii(&head, encoding, 0)
    } else {
        head.iter().position(|&b| b == 0)
    };
    if let Some(at) = nul {
        let line_end = match line_ends {
            LineEnds::Lf => b'\n',
            LineEnds::Cr => b'\r',
        };
        let line = 1 + count_ascii(&head[..at], encoding, line_end);
        let what = match compression {
            Compression::None => "holds binary data (a NUL byte)",
            _ => "decompresses to binary data (NUL bytes)",
        };
        let hint = match (encoding.is_utf16(), looks_like_utf16(&head)) {
            (false, Some(utf16)) => format!(
                "; every other byte is NUL, as in UTF-16 text without a byte-order mark: pass --encoding {utf16} (input.encoding)"
            ),
            _ => String::new(),
        };
        return Err(Error::input_at(
            path,
            Position::Line(line),
            None,
            format!("{what} at byte {at}; expected CSV text{hint}"),
        ));
    }
    if n == PROBE_BYTES && !has_lf && line_ends == LineEnds::Lf {
        return Err(Error::input_at(
            path,
            Position::Line(1),
            None,
            format!(
                "no line break in the first {} KiB{}; expected CSV text: a header line of column names, then one purchase per line",
                PROBE_BYTES / 1024,
                match compression {
                    Compression::None => "",
                    _ => " after decompression",
                }
            ),
        ));
    }
    Ok(form)
}

/// Writes the text of `path` (see [`open_text`]) to `dest` as UTF-8 with LF or CRLF line ends,
/// for polars. A byte that is not valid in the file's encoding is refused with its line.
pub fn transcode(path: &Path, form: TextForm, dest: &Path) -> Result<()> {
    let mut reader = open_text(path, form).map_err(|e| Error::input(path, e.to_string()))?;
    let mut out = io::BufWriter::new(File::create(dest).map_err(|e| copy_failed(path, dest, &e))?);
    let mut buffer = vec![0u8; 1 << 16];
    loop {
        let n = match reader.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(text_error(path, form, e)),
        };
        out.write_all(&buffer[..n])
            .map_err(|e| copy_failed(path, dest, &e))?;
    }
    out.flush().map_err(|e| copy_failed(path, dest, &e))
}

fn copy_failed(path: &Path, dest: &Path, e: &io::Error) -> Error {
    Error::Internal(format!(
        "cannot write the UTF-8 copy of {} to {}: {e} (TMPDIR chooses the directory)",
        path.display(),
        dest.parent().unwrap_or(dest).display()
    ))
}

/// An error met while reading the text of `path`: a malformed byte (with its line) or a damaged
/// archive.
pub fn text_error(path: &Path, form: TextForm, e: io::Error) -> Error {
    match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<Malformed>())
    {
        Some(bad) => Error::input_at(
            path,
            Position::Line(bad.line),
            None,
            format!(
                "{} at byte offset {} of {} {} not valid {}{}",
                hex_bytes(&bad.bytes),
                bad.offset,
                form.bytes_name(),
                if bad.bytes.len() == 1 { "is" } else { "are" },
                bad.encoding,
                if bad.encoding.is_utf16() {
                    " (half of a surrogate pair, or a last character cut off); check --encoding (input.encoding)"
                } else {
                    ""
                }
            ),
        ),
        None => Error::input(
            path,
            format!("cannot decompress (truncated or corrupt archive?): {e}"),
        ),
    }
}

/// `0xfc` or `0xd8 0x00`.
pub fn hex_bytes(bytes: &[u8]) -> String {
    let text: Vec<String> = bytes.iter().map(|b| format!("0x{b:02x}")).collect();
    match text.len() {
        0 => "a byte".into(),
        1 => format!("byte {}", text[0]),
        _ => format!("bytes {}", text.join(" ")),
    }
}
