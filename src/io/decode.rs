//! Decoding a byte stream to UTF-8 as it is read: the file's encoding (encoding_rs), classic
//! Mac line ends (CR alone) as LF, and the first malformed byte reported with its line and
//! offset after the text before it.

use std::io::{self, Read};

use encoding_rs::{Decoder, DecoderResult, Encoding};

use crate::config::TextEncoding;

/// The encoding_rs encoding read for a setting: ISO-8859-1 is read as windows-1252 (WHATWG).
pub(crate) fn decoding(encoding: TextEncoding) -> &'static Encoding {
    match encoding {
        TextEncoding::Utf8 => encoding_rs::UTF_8,
        TextEncoding::Windows1252 | TextEncoding::Latin1 => encoding_rs::WINDOWS_1252,
        TextEncoding::Utf16Le => encoding_rs::UTF_16LE,
        TextEncoding::Utf16Be => encoding_rs::UTF_16BE,
    }
}

/// A byte sequence that is not valid in the file's encoding.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("byte offset {offset}: {bytes:02x?} is not valid {encoding}")]
pub struct Malformed {
    /// Offset of its first byte in the decompressed bytes.
    pub offset: u64,
    /// 1-based line it is on.
    pub line: u64,
    /// The bytes, as far as they are still at hand (at most 4).
    pub bytes: Vec<u8>,
    pub encoding: TextEncoding,
}

/// Decodes a byte stream to UTF-8 (when a decoder is given) and reads a lone CR as LF (when the
/// form's line ends are CR). A CR that is followed by LF stays, so a CRLF line stays one line.
pub struct TextReader {
    inner: Box<dyn Read>,
    decoder: Option<Decoder>,
    encoding: TextEncoding,
    /// The byte that ends a line before CRs are translated (for line numbers in errors).
    line_end: u8,
    cr_as_lf: bool,
    raw: Vec<u8>,
    raw_len: usize,
    raw_eof: bool,
    /// Source bytes before `raw[0]`.
    consumed: u64,
    /// Line ends decoded so far.
    lines: u64,
    /// Decoded text; `text[0]` is kept free for a CR held back from the previous chunk.
    text: Vec<u8>,
    text_pos: usize,
    text_len: usize,
    held_cr: bool,
    /// An error met after the text before it, returned once that text is read.
    pending: Option<io::Error>,
    /// Every source byte is decoded.
    finished: bool,
    /// Nothing more to read once `text` is.
    done: bool,
}

const CHUNK: usize = 1 << 16;

impl TextReader {
    /// Reads `inner` through `decoder` (none: the bytes are UTF-8 already), for text in
    /// `encoding`; `cr_line_ends`: lines end with CR alone, read as LF.
    pub fn new(
        inner: Box<dyn Read>,
        decoder: Option<Decoder>,
        encoding: TextEncoding,
        cr_line_ends: bool,
    ) -> TextReader {
        TextReader {
            inner,
            decoder,
            encoding,
            line_end: if cr_line_ends { b'\r' } else { b'\n' },
            cr_as_lf: cr_line_ends,
            raw: vec![0; CHUNK],
            raw_len: 0,
            raw_eof: false,
            consumed: 0,
            lines: 0,
            // A decoder writes at most 3 bytes of UTF-8 per source byte (windows-1252) or per
            // UTF-16 unit, and needs room for one character more.
            text: vec![0; 1 + 3 * CHUNK + 16],
            text_pos: 0,
            text_len: 0,
            held_cr: false,
            pending: None,
            finished: false,
            done: false,
        }
    }

    /// Decodes the next chunk into `text[1..]`; returns how many bytes were written.
    fn decode_chunk(&mut self) -> io::Result<usize> {
        loop {
            if self.finished {
                return Ok(0);
            }
            if !self.raw_eof && self.raw_len < self.raw.len() {
                match self.inner.read(&mut self.raw[self.raw_len..]) {
                    Ok(0) => self.raw_eof = true,
                    Ok(n) => self.raw_len += n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                }
            }
            let src = &self.raw[..self.raw_len];
            let dst = &mut self.text[1..];
            let (result, read, written) = match &mut self.decoder {
                None => {
                    let n = src.len();
                    dst[..n].copy_from_slice(src);
                    (DecoderResult::InputEmpty, n, n)
                }
                Some(decoder) => decoder.decode_to_utf8_without_replacement(src, dst, self.raw_eof),
            };
            self.lines += dst[..written]
                .iter()
                .filter(|&&b| b == self.line_end)
                .count() as u64;
            if result == DecoderResult::InputEmpty && self.raw_eof {
                self.finished = true;
            }
            if let DecoderResult::Malformed(length, after) = result {
                let end = read - usize::from(after);
                let start = end.saturating_sub(usize::from(length));
                let error = Malformed {
                    offset: (self.consumed + end as u64).saturating_sub(u64::from(length)),
                    line: self.lines + 1,
                    bytes: self.raw[start..end].to_vec(),
                    encoding: self.encoding,
                };
                self.pending = Some(io::Error::new(io::ErrorKind::InvalidData, error));
            }
            self.raw.copy_within(read..self.raw_len, 0);
            self.raw_len -= read;
            self.consumed += read as u64;
            if written > 0 || self.pending.is_some() || self.finished {
                return Ok(written);
            }
        }
    }

    /// Fills `text` with the next stretch of text, CRs translated.
    fn fill(&mut self) -> io::Result<()> {
        let written = self.decode_chunk()?;
        let at_end = self.pending.is_some() || self.finished;
        let mut end = 1 + written;
        let mut start = 1;
        if self.cr_as_lf {
            let text = &mut self.text[..end];
            // The CR held back from the last chunk stays a CR before an LF.
            if self.held_cr {
                text[0] = if end > 1 && text[1] == b'\n' {
                    b'\r'
                } else {
                    b'\n'
                };
                start = 0;
                self.held_cr = false;
            }
            for i in 1..end.saturating_sub(1) {
                if text[i] == b'\r' && text[i + 1] != b'\n' {
                    text[i] = b'\n';
                }
            }
            if end > 1 && text[end - 1] == b'\r' {
                if at_end {
                    text[end - 1] = b'\n';
                } else {
                    end -= 1;
                    self.held_cr = true;
                }
            }
        }
        self.text_pos = start;
        self.text_len = end;
        self.done = at_end;
        Ok(())
    }
}

impl Read for TextReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.text_pos >= self.text_len {
            if let Some(error) = self.pending.take() {
                return Err(error);
            }
            if self.done {
                return Ok(0);
            }
            self.fill()?;
        }
        let n = buf.len().min(self.text_len - self.text_pos);
        buf[..n].copy_from_slice(&self.text[self.text_pos..self.text_pos + n]);
        self.text_pos += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Hands out its bytes `step` at a time, so that every chunk boundary is tried.
    struct Trickle {
        bytes: Vec<u8>,
        at: usize,
        step: usize,
    }

    impl Read for Trickle {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let n = self.step.min(buf.len()).min(self.bytes.len() - self.at);
            buf[..n].copy_from_slice(&self.bytes[self.at..self.at + n]);
            self.at += n;
            Ok(n)
        }
    }

    /// What `bytes` in `encoding` with CR line ends read as, handed out `step` bytes at a time.
    fn read_through(bytes: &[u8], encoding: TextEncoding, step: usize) -> io::Result<Vec<u8>> {
        let inner = Box::new(Trickle {
            bytes: bytes.to_vec(),
            at: 0,
            step,
        });
        let decoder = (encoding != TextEncoding::Utf8)
            .then(|| decoding(encoding).new_decoder_with_bom_removal());
        let mut out = Vec::new();
        TextReader::new(inner, decoder, encoding, true).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn lone_crs_become_lfs_and_crlf_stays_at_every_chunk_boundary() {
        let text = b"a,b\rc,d\r\re,\"f\rg\"\r\nh,i\r";
        let expected = b"a,b\nc,d\n\ne,\"f\ng\"\r\nh,i\n";
        for step in [1, 2, 3, 5, 64] {
            let out = read_through(text, TextEncoding::Utf8, step).unwrap();
            assert_eq!(out, expected, "step {step}");
        }
    }

    #[test]
    fn utf16_and_windows_1252_decode_at_every_chunk_boundary() {
        let text = "Kunde,Artikel\r1,Müller-Becher €\r";
        let mut le = vec![0xff, 0xfe];
        le.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let cp1252: Vec<u8> = text
            .chars()
            .map(|c| match c {
                'ü' => 0xfc,
                '€' => 0x80,
                c => c as u8,
            })
            .collect();
        let expected = text.replace('\r', "\n");
        for step in [1, 2, 3, 7] {
            let out = read_through(&le, TextEncoding::Utf16Le, step).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "step {step}");
            let out = read_through(&cp1252, TextEncoding::Windows1252, step).unwrap();
            assert_eq!(String::from_utf8(out).unwrap(), expected, "step {step}");
        }
    }

    #[test]
    fn a_malformed_byte_comes_after_the_text_before_it_with_its_line_and_offset() {
        let bytes = b"a,b\nc,d\nM\xfcller\n";
        for step in [1, 4, 64] {
            let inner = Box::new(Trickle {
                bytes: bytes.to_vec(),
                at: 0,
                step,
            });
            let decoder = Some(encoding_rs::UTF_8.new_decoder_with_bom_removal());
            let mut reader = TextReader::new(inner, decoder, TextEncoding::Utf8, false);
            let mut text = Vec::new();
            let mut buffer = [0u8; 3];
            let error = loop {
                match reader.read(&mut buffer) {
                    Ok(0) => panic!("no error"),
                    Ok(n) => text.extend_from_slice(&buffer[..n]),
                    Err(e) => break e,
                }
            };
            assert_eq!(text, b"a,b\nc,d\nM", "step {step}");
            let bad = error
                .get_ref()
                .unwrap()
                .downcast_ref::<Malformed>()
                .unwrap();
            assert_eq!(
                (bad.offset, bad.line, bad.bytes.as_slice()),
                (9, 3, &[0xfc][..]),
                "step {step}"
            );
        }
    }
}
