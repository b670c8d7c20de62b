//! Entry frames in a segment file: `u32be len ‖ u32be crc32c(entry) ‖ entry`.

use std::ops::Range;

/// Bytes of the frame header.
pub(crate) const HEADER_BYTES: usize = 8;

/// Appends one framed entry to `out`.
pub(crate) fn encode_frame(entry: &[u8], out: &mut Vec<u8>) {
    // Entries are at most 65,535 bytes (checked before framing), so the length fits a u32.
    let len = u32::try_from(entry.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(&crc32c::crc32c(entry).to_be_bytes());
    out.extend_from_slice(entry);
}

/// What a scan of a segment's bytes found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan {
    /// The byte range of each valid entry (without its header), in order.
    pub(crate) entries: Vec<Range<usize>>,
    /// The offset just past the last valid frame.
    pub(crate) valid_len: usize,
    /// Why scanning stopped before the end of the bytes, if it did.
    pub(crate) stopped: Option<Stop>,
}

/// Why a scan stopped before the end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Stop {
    /// Fewer than eight bytes left for a header.
    ShortHeader,
    /// The header announces more bytes than are left.
    ShortEntry,
    /// The length is zero or above the limit.
    BadLength,
    /// The entry's checksum does not match.
    BadChecksum,
}

impl Stop {
    pub(crate) fn describe(self) -> &'static str {
        match self {
            Stop::ShortHeader => "incomplete frame header",
            Stop::ShortEntry => "frame shorter than its length field",
            Stop::BadLength => "frame length zero or over the entry limit",
            Stop::BadChecksum => "frame checksum mismatch",
        }
    }
}

/// Reads frames from the start of `bytes` until the end or the first invalid frame.
pub(crate) fn scan(bytes: &[u8], max_entry: usize) -> Scan {
    let mut entries = Vec::new();
    let mut pos = 0;
    let stopped = loop {
        if pos == bytes.len() {
            break None;
        }
        let Some(header) = bytes.get(pos..pos + HEADER_BYTES) else {
            break Some(Stop::ShortHeader);
        };
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > max_entry {
            break Some(Stop::BadLength);
        }
        let start = pos + HEADER_BYTES;
        let Some(entry) = bytes.get(start..start + len) else {
            break Some(Stop::ShortEntry);
        };
        if crc32c::crc32c(entry) != crc {
            break Some(Stop::BadChecksum);
        }
        entries.push(start..start + len);
        pos = start + len;
    };
    Scan {
        entries,
        valid_len: pos,
        stopped,
    }
}

/// How far into a cut tail [`whole_frames_within`] looks: a commit that never finished is
/// rarely larger, and the search stays cheap on a large damaged tail.
pub(crate) const SEARCH_LIMIT: usize = 8 << 20;

/// How many whole frames (length in range, all bytes present, the entry starting with
/// `prefix`, matching checksum) can be found in `bytes` (its first [`SEARCH_LIMIT`] bytes) when
/// each damaged position is skipped a byte at a time: what a cut tail still holds after the
/// damage that ended a scan. The prefix is checked before the checksum, so a crafted tail
/// cannot make every position cost a 64 KiB checksum.
pub(crate) fn whole_frames_within(bytes: &[u8], max_entry: usize, prefix: &[u8]) -> u64 {
    let bytes = &bytes[..bytes.len().min(SEARCH_LIMIT)];
    let whole_at = |pos: usize| -> Option<usize> {
        let header = bytes.get(pos..pos + HEADER_BYTES)?;
        let len = u32::from_be_bytes([header[0], header[1], header[2], header[3]]) as usize;
        let crc = u32::from_be_bytes([header[4], header[5], header[6], header[7]]);
        if len == 0 || len > max_entry {
            return None;
        }
        let entry = bytes.get(pos + HEADER_BYTES..pos + HEADER_BYTES + len)?;
        (entry.starts_with(prefix) && crc32c::crc32c(entry) == crc).then_some(HEADER_BYTES + len)
    };
    let mut found = 0;
    let mut pos = 0;
    while pos + HEADER_BYTES < bytes.len() {
        match whole_at(pos) {
            Some(len) => {
                found += 1;
                pos += len;
            }
            None => pos += 1,
        }
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framed(entries: &[&[u8]]) -> Vec<u8> {
        let mut out = Vec::new();
        for e in entries {
            encode_frame(e, &mut out);
        }
        out
    }

    #[test]
    fn whole_frames_are_found_behind_damage() {
        let mut bytes = framed(&[b"one", b"two"]);
        bytes[9] ^= 1; // the first entry's checksum no longer matches
        bytes.extend_from_slice(&[0; 37]); // zeros: no frame
        bytes.extend(framed(&[b"three", b"four"]));
        bytes.extend_from_slice(&[0, 0, 0, 9, 1]); // a torn header
        assert_eq!(scan(&bytes, 100).entries.len(), 0);
        assert_eq!(whole_frames_within(&bytes, 100, b""), 3);
        assert_eq!(whole_frames_within(&bytes, 100, b"t"), 2, "three and two");
        assert_eq!(whole_frames_within(&[0; 100], 100, b""), 0);
        assert_eq!(whole_frames_within(&[], 100, b""), 0);
    }

    #[test]
    fn round_trip() {
        let bytes = framed(&[b"one", b"two", b"three"]);
        let s = scan(&bytes, 100);
        assert_eq!(s.stopped, None);
        assert_eq!(s.valid_len, bytes.len());
        let got: Vec<&[u8]> = s.entries.iter().map(|r| &bytes[r.clone()]).collect();
        assert_eq!(got, [&b"one"[..], b"two", b"three"]);
    }

    #[test]
    fn every_truncation_stops_at_the_last_whole_frame() {
        let bytes = framed(&[b"alpha", b"beta"]);
        let first_end = HEADER_BYTES + 5;
        for cut in 0..bytes.len() {
            let s = scan(&bytes[..cut], 100);
            let whole = if cut >= first_end { 1 } else { 0 };
            assert_eq!(s.entries.len(), whole, "cut {cut}");
            assert_eq!(s.valid_len, if whole == 1 { first_end } else { 0 });
            if cut != 0 && cut != first_end {
                assert!(s.stopped.is_some(), "cut {cut}");
            }
        }
    }

    #[test]
    fn every_flipped_bit_is_caught() {
        let bytes = framed(&[b"entry-bytes"]);
        for i in 0..bytes.len() {
            for bit in 0..8 {
                let mut b = bytes.clone();
                b[i] ^= 1 << bit;
                let s = scan(&b, 100);
                assert!(
                    s.entries.is_empty(),
                    "a corrupted frame was accepted (byte {i} bit {bit})"
                );
            }
        }
    }

    #[test]
    fn lengths_are_bounded() {
        let bytes = framed(&[b"abc"]);
        assert_eq!(scan(&bytes, 2).stopped, Some(Stop::BadLength));
        assert_eq!(
            scan(&[0, 0, 0, 0, 0, 0, 0, 0], 10).stopped,
            Some(Stop::BadLength)
        );
    }
}
