//! Frames and record payloads: the bytes of one spooled record (`docs/formats/log-spool.md`).
//!
//! A frame is `[u32 LE payload length][u32 LE CRC-32C of the payload][payload]`; the payload
//! holds the record's metadata and its ECS line. Pure functions, no I/O.

use biv_core::{Dataset, Level, LogRecord, RecordId, Timestamp};

/// Bytes before a frame's payload: the length and the checksum.
pub(crate) const FRAME_HEADER: usize = 8;

/// Bytes of a payload before the line: version, level, dataset, reserved, id, seconds, nanos.
pub(crate) const PAYLOAD_HEADER: usize = 32;

/// The payload layout version this code writes and reads.
const PAYLOAD_VERSION: u8 = 1;

/// The largest payload a frame may carry: a maximal log record plus the payload header.
pub(crate) const MAX_PAYLOAD: usize = biv_core::MAX_LOG_RECORD_BYTES + PAYLOAD_HEADER;

/// What decoding the bytes at one position found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Decoded<'a> {
    /// A whole frame whose checksum matches: its payload and its total length.
    Frame {
        /// The payload.
        payload: &'a [u8],
        /// Header plus payload.
        len: usize,
    },
    /// Fewer bytes than the frame announces: a write in progress, or a torn tail.
    Incomplete,
    /// The frame is whole but its checksum does not match, or its length is impossible.
    Corrupt,
}

/// Decodes the frame at the start of `bytes`.
pub(crate) fn decode_frame(bytes: &[u8]) -> Decoded<'_> {
    let (Some(len), Some(crc)) = (read_u32(bytes, 0), read_u32(bytes, 4)) else {
        return Decoded::Incomplete;
    };
    let len = len as usize;
    if !(PAYLOAD_HEADER..=MAX_PAYLOAD).contains(&len) {
        return Decoded::Corrupt;
    }
    let Some(payload) = bytes.get(FRAME_HEADER..FRAME_HEADER + len) else {
        return Decoded::Incomplete;
    };
    if crc32c::crc32c(payload) == crc {
        Decoded::Frame {
            payload,
            len: FRAME_HEADER + len,
        }
    } else {
        Decoded::Corrupt
    }
}

/// Appends the frame for `payload` to `out`.
pub(crate) fn encode_frame(payload: &[u8], out: &mut Vec<u8>) {
    // Payloads are bounded by MAX_PAYLOAD (about 1 MiB), so the length fits in a u32.
    let len = u32::try_from(payload.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&len.to_le_bytes());
    out.extend_from_slice(&crc32c::crc32c(payload).to_le_bytes());
    out.extend_from_slice(payload);
}

/// Appends the payload of `record` to `out`.
pub(crate) fn encode_payload(record: &LogRecord, out: &mut Vec<u8>) {
    out.push(PAYLOAD_VERSION);
    out.push(level_code(record.level()));
    out.push(dataset_code(record.dataset()));
    out.push(0);
    out.extend_from_slice(record.id().as_bytes());
    out.extend_from_slice(&record.time().unix_seconds().to_le_bytes());
    out.extend_from_slice(&record.time().subsec_nanos().to_le_bytes());
    out.extend_from_slice(record.line().as_bytes());
}

/// The frame of one record, as it is written to a segment.
pub(crate) fn frame_of(record: &LogRecord) -> Vec<u8> {
    let mut payload = Vec::with_capacity(PAYLOAD_HEADER + record.line().len());
    encode_payload(record, &mut payload);
    let mut frame = Vec::with_capacity(FRAME_HEADER + payload.len());
    encode_frame(&payload, &mut frame);
    frame
}

/// Decodes a payload whose checksum matched. `None` when it does not hold a valid record (an
/// unknown version or code, a line that is not one JSON object): such a frame is reported as
/// corrupt and never shipped.
pub(crate) fn decode_payload(payload: &[u8]) -> Option<LogRecord> {
    if *payload.first()? != PAYLOAD_VERSION {
        return None;
    }
    let level = level_from(*payload.get(1)?)?;
    let dataset = dataset_from(*payload.get(2)?)?;
    let id: [u8; 16] = payload.get(4..20)?.try_into().ok()?;
    let secs = i64::from_le_bytes(payload.get(20..28)?.try_into().ok()?);
    let nanos = u32::from_le_bytes(payload.get(28..32)?.try_into().ok()?);
    let time = Timestamp::from_unix_seconds(secs, nanos).ok()?;
    let line = std::str::from_utf8(payload.get(PAYLOAD_HEADER..)?).ok()?;
    LogRecord::new(RecordId::from_bytes(id), time, level, dataset, line).ok()
}

/// The offset (at least 1) of the first whole frame in `bytes` after a damaged one at offset 0
/// whose checksum holds and whose payload is a record: where reading can resume. A false match
/// needs a plausible length, a matching CRC-32C and a well-formed payload header and record.
pub(crate) fn next_record_frame(bytes: &[u8]) -> Option<usize> {
    (1..bytes.len()).find(|&at| {
        matches!(
            decode_frame(bytes.get(at..).unwrap_or_default()),
            Decoded::Frame { payload, .. } if decode_payload(payload).is_some()
        )
    })
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(bytes.get(at..at + 4)?.try_into().ok()?))
}

fn level_code(level: Level) -> u8 {
    match level {
        Level::Trace => 0,
        Level::Debug => 1,
        Level::Info => 2,
        Level::Warn => 3,
        // `Level` is non-exhaustive; a future level is spooled as the most severe one.
        _ => 4,
    }
}

fn level_from(code: u8) -> Option<Level> {
    Some(match code {
        0 => Level::Trace,
        1 => Level::Debug,
        2 => Level::Info,
        3 => Level::Warn,
        4 => Level::Error,
        _ => return None,
    })
}

fn dataset_code(dataset: Dataset) -> u8 {
    match dataset {
        Dataset::Access => 0,
        Dataset::System => 1,
        Dataset::Audit => 3,
        // `Dataset` is non-exhaustive; a future dataset is spooled as the application's.
        _ => 2,
    }
}

fn dataset_from(code: u8) -> Option<Dataset> {
    Some(match code {
        0 => Dataset::Access,
        1 => Dataset::System,
        2 => Dataset::Application,
        3 => Dataset::Audit,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn record(id: u8, line: &str) -> LogRecord {
        LogRecord::new(
            RecordId::from_bytes([id; 16]),
            Timestamp::from_unix_seconds(1_764_150_000, 123_000_000).unwrap(),
            Level::Warn,
            Dataset::Access,
            line,
        )
        .unwrap()
    }

    #[test]
    fn a_frame_round_trips_and_its_bytes_are_as_documented() {
        let rec = record(7, r#"{"message":"hi"}"#);
        let frame = frame_of(&rec);
        let payload_len = PAYLOAD_HEADER + rec.line().len();
        assert_eq!(frame.len(), FRAME_HEADER + payload_len);
        assert_eq!(&frame[0..4], &(payload_len as u32).to_le_bytes());
        assert_eq!(
            &frame[4..8],
            &crc32c::crc32c(&frame[FRAME_HEADER..]).to_le_bytes()
        );
        // version 1, level warn = 3, dataset access = 0, reserved 0, then the id.
        assert_eq!(&frame[8..12], &[1, 3, 0, 0]);
        assert_eq!(&frame[12..28], &[7; 16]);
        match decode_frame(&frame) {
            Decoded::Frame { payload, len } => {
                assert_eq!(len, frame.len());
                assert_eq!(decode_payload(payload), Some(rec));
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn short_and_flipped_frames_are_told_apart() {
        let frame = frame_of(&record(1, "{}"));
        for cut in 0..frame.len() {
            assert_eq!(decode_frame(&frame[..cut]), Decoded::Incomplete, "{cut}");
        }
        let mut bad = frame.clone();
        let last = bad.len() - 1;
        bad[last] ^= 0x01;
        assert_eq!(decode_frame(&bad), Decoded::Corrupt);
        let mut huge = frame;
        huge[0..4].copy_from_slice(&u32::MAX.to_le_bytes());
        assert_eq!(decode_frame(&huge), Decoded::Corrupt);
    }

    proptest! {
        #[test]
        fn any_record_round_trips_and_any_single_bit_flip_is_caught(
            id in any::<[u8; 16]>(),
            secs in 0i64..4_000_000_000,
            nanos in 0u32..1_000_000_000,
            text in "[a-zA-Z0-9 äöü€]{0,200}",
            flip in any::<prop::sample::Index>(),
            bit in 0u8..8,
        ) {
            let line = serde_json::json!({ "message": text }).to_string();
            let rec = LogRecord::new(
                RecordId::from_bytes(id),
                Timestamp::from_unix_seconds(secs, nanos).unwrap(),
                Level::Info,
                Dataset::Application,
                line,
            ).unwrap();
            let mut stream = frame_of(&rec);
            let first = stream.len();
            stream.extend_from_slice(&frame_of(&rec));
            match decode_frame(&stream) {
                Decoded::Frame { payload, len } => {
                    prop_assert_eq!(len, first);
                    prop_assert_eq!(decode_payload(payload), Some(rec.clone()));
                }
                other => prop_assert!(false, "{:?}", other),
            }
            let mut flipped = frame_of(&rec);
            let at = flip.index(flipped.len());
            flipped[at] ^= 1 << bit;
            // A flipped bit never yields the original record as a valid frame.
            match decode_frame(&flipped) {
                Decoded::Frame { payload, .. } => prop_assert_ne!(decode_payload(payload), Some(rec)),
                Decoded::Incomplete | Decoded::Corrupt => {}
            }
        }
    }
}
