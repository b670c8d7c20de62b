//! A line reader with a cap on the line length, so a huge or binary file cannot make the review
//! hold more than one capped line in memory.

use std::io::{self, BufRead};

/// One line, without its `\n` (and a `\r` before it).
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Line<'a> {
    /// A line within the cap.
    Text(&'a [u8]),
    /// A line longer than the cap; its bytes were skipped.
    TooLong,
}

/// Reads lines of at most `max` bytes; a longer line is skipped to its end and reported as
/// [`Line::TooLong`].
#[derive(Debug)]
pub(crate) struct BoundedLines<R> {
    reader: R,
    max: usize,
    buf: Vec<u8>,
}

impl<R: BufRead> BoundedLines<R> {
    pub(crate) fn new(reader: R, max: usize) -> Self {
        BoundedLines {
            reader,
            max,
            buf: Vec::new(),
        }
    }

    /// The next line, or `None` at the end of the input.
    pub(crate) fn next_line(&mut self) -> io::Result<Option<Line<'_>>> {
        self.buf.clear();
        let mut too_long = false;
        let mut any = false;
        loop {
            let (used, done) = {
                let available = match self.reader.fill_buf() {
                    Ok(b) => b,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => return Err(e),
                };
                if available.is_empty() {
                    if !any {
                        return Ok(None);
                    }
                    break;
                }
                any = true;
                let (chunk, used, done) = match available.iter().position(|&b| b == b'\n') {
                    Some(i) => (&available[..i], i + 1, true),
                    None => (available, available.len(), false),
                };
                if !too_long {
                    if self.buf.len() + chunk.len() > self.max.saturating_add(1) {
                        too_long = true;
                        self.buf = Vec::new();
                    } else {
                        self.buf.extend_from_slice(chunk);
                    }
                }
                (used, done)
            };
            self.reader.consume(used);
            if done {
                break;
            }
        }
        if self.buf.last() == Some(&b'\r') {
            self.buf.pop();
        }
        if too_long || self.buf.len() > self.max {
            self.buf = Vec::new();
            return Ok(Some(Line::TooLong));
        }
        Ok(Some(Line::Text(&self.buf)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn collect(input: &[u8], max: usize) -> Vec<Option<Vec<u8>>> {
        let mut lines = BoundedLines::new(io::BufReader::with_capacity(4, input), max);
        let mut out = Vec::new();
        while let Some(line) = lines.next_line().unwrap() {
            out.push(match line {
                Line::Text(t) => Some(t.to_vec()),
                Line::TooLong => None,
            });
        }
        out
    }

    #[test]
    fn splits_caps_and_strips_carriage_returns() {
        let out = collect(b"ab\r\n0123456789\nxyz\n\nlast", 5);
        assert_eq!(
            out,
            vec![
                Some(b"ab".to_vec()),
                None,
                Some(b"xyz".to_vec()),
                Some(Vec::new()),
                Some(b"last".to_vec())
            ]
        );
        // Exactly at the cap, with and without a carriage return.
        assert_eq!(collect(b"12345\r\n12345\n", 5).len(), 2);
        assert!(collect(b"12345\r\n123456\n", 5)[1].is_none());
        assert!(collect(b"", 5).is_empty());
    }
}
