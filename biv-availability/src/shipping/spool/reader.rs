//! The reading side of a spool: records from a position on, and the durable acknowledgement
//! that lets fully shipped segments go.

use std::fs::File;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use biv_core::LogRecord;

use super::ack::{self, Position};
use super::frame::{Decoded, decode_frame, decode_payload, next_record_frame};
use super::segment::{self, HEADER_LEN};
use super::{READER_LOCK, SpoolOpenError, WRITER_LOCK, lock};
use crate::shipping::stats::SpoolStats;

/// One record read from the spool, with the position just after it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpooledRecord {
    /// The record, as it was appended.
    pub record: LogRecord,
    /// The position after this record: acknowledging it acknowledges this record and every one
    /// before it.
    pub end: Position,
}

/// A stretch of a segment the reader could not use and skipped; it is reported (counted in
/// [`SpoolStats`] and returned in [`ReadBatch::corrupt`]), never shipped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct CorruptRegion {
    /// The segment.
    pub segment: u64,
    /// Where the bad frame starts.
    pub offset: u64,
    /// Bytes skipped (from the bad frame to the next valid one, or to the end of the segment).
    pub bytes: u64,
    /// `true` for a frame cut short by a crash (torn), `false` for a whole frame failing its
    /// CRC-32C or holding no valid record.
    pub torn: bool,
}

/// What [`SpoolReader::read`] found.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct ReadBatch {
    /// Records in spool order.
    pub records: Vec<SpooledRecord>,
    /// Where the next read starts; acknowledging it after shipping every record also
    /// acknowledges any skipped [`ReadBatch::corrupt`] region.
    pub next: Position,
    /// Damaged regions skipped (or, in the segment being written, found and not passed).
    pub corrupt: Vec<CorruptRegion>,
    /// Bytes of the records' ECS lines.
    pub line_bytes: u64,
}

/// The reading side of a spool; at most one per spool directory.
///
/// The reader never changes segment files: it reads from a [`Position`], reports damaged
/// frames instead of returning them, and on [`SpoolReader::ack`] stores the position durably
/// (temp file, fsync, rename) **before** it deletes the segments wholly before it. A segment
/// that is missing (deleted after an acknowledgement the crash did not record) is skipped.
///
/// See [`Spool`](super::Spool) for an example.
pub struct SpoolReader {
    dir: PathBuf,
    stats: Arc<SpoolStats>,
    acked: Position,
    current: Option<(u64, File)>,
    /// Damaged positions already counted in the stats (a region is read again until the ack
    /// passes it); pruned on ack.
    counted: std::collections::BTreeSet<Position>,
    /// The damaged position the reader waits at in the segment being written, once reported.
    waiting: Option<Position>,
    /// The last resynchronisation: (damaged position, segment length scanned, result), so a
    /// reader polling a damaged segment that has not grown does not scan it again.
    last_resync: Option<(Position, u64, Option<u64>)>,
    _lock: File,
}

impl std::fmt::Debug for SpoolReader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SpoolReader")
            .field("dir", &self.dir)
            .field("acked", &self.acked)
            .finish_non_exhaustive()
    }
}

impl SpoolReader {
    /// Opens the spool in `dir` (creating the directory if needed) for reading, from the
    /// acknowledged position. An unreadable ack file restarts from the oldest segment and is
    /// counted ([`SpoolStats::invalid_ack_files`]): records are shipped again, and
    /// `create` with their ids keeps the index free of duplicates.
    ///
    /// # Errors
    /// [`SpoolOpenError::Locked`] when another reader has it open, [`SpoolOpenError::Io`].
    pub fn open(dir: impl AsRef<Path>) -> Result<Self, SpoolOpenError> {
        Self::open_with_stats(dir, Arc::new(SpoolStats::default()))
    }

    /// As [`SpoolReader::open`], counting into `stats`.
    ///
    /// # Errors
    /// As [`SpoolReader::open`].
    pub fn open_with_stats(
        dir: impl AsRef<Path>,
        stats: Arc<SpoolStats>,
    ) -> Result<Self, SpoolOpenError> {
        let dir = dir.as_ref().to_path_buf();
        let io_err = |source| SpoolOpenError::Io {
            dir: dir.clone(),
            source,
        };
        std::fs::create_dir_all(&dir).map_err(io_err)?;
        let lock =
            lock(&dir, READER_LOCK)
                .map_err(io_err)?
                .ok_or_else(|| SpoolOpenError::Locked {
                    dir: dir.clone(),
                    role: "reader",
                })?;
        let start = Position {
            segment: 0,
            offset: HEADER_LEN,
        };
        let acked = match ack::load(&dir).map_err(io_err)? {
            ack::Stored::At(pos) => pos,
            ack::Stored::Missing => start,
            ack::Stored::Invalid => {
                stats.add_invalid_ack();
                start
            }
        };
        Ok(SpoolReader {
            dir,
            stats,
            acked,
            current: None,
            counted: std::collections::BTreeSet::new(),
            waiting: None,
            last_resync: None,
            _lock: lock,
        })
    }

    /// The counters.
    pub fn stats(&self) -> Arc<SpoolStats> {
        Arc::clone(&self.stats)
    }

    /// The spool directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The acknowledged position: everything before it has been shipped.
    pub fn acked(&self) -> Position {
        self.acked
    }

    /// Whether no writer holds the spool (checked now). Only then is the newest segment
    /// known to be finished.
    fn writer_gone(&self) -> bool {
        matches!(lock(&self.dir, WRITER_LOCK), Ok(Some(_)))
    }

    /// The open file of segment `id` (kept between reads), or `None` when it is gone.
    fn take_file(&mut self, id: u64) -> io::Result<Option<File>> {
        if let Some((cur, f)) = self.current.take()
            && cur == id
        {
            return Ok(Some(f));
        }
        match File::open(segment::path(&self.dir, id)) {
            Ok(f) => Ok(Some(f)),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Reads records from `from` on: at most `max_records`, and lines of about `max_bytes`
    /// (at least one record when one is there). Returns fewer (or none) at the end of what the
    /// writer has appended. Damaged frames are skipped and reported in
    /// [`ReadBatch::corrupt`], never returned.
    ///
    /// # Errors
    /// The I/O error of listing or reading segments.
    pub fn read(
        &mut self,
        from: Position,
        max_bytes: usize,
        max_records: usize,
    ) -> io::Result<ReadBatch> {
        let mut pos = Position {
            segment: from.segment,
            offset: from.offset.max(HEADER_LEN),
        };
        let mut batch = ReadBatch {
            next: pos,
            ..ReadBatch::default()
        };
        let limits = Limits {
            max_bytes,
            max_records: max_records.max(1),
        };
        // List first, then look at the writer's lock: a writer starting after the listing
        // only creates newer segments, so the listed ones stay finished.
        let ids = segment::list(&self.dir)?;
        let mut writer_gone: Option<bool> = None;
        while let Some(&id) = ids.iter().find(|&&id| id >= pos.segment) {
            if id != pos.segment {
                pos = Position {
                    segment: id,
                    offset: HEADER_LEN,
                };
                batch.next = pos;
            }
            let newest = ids.last() == Some(&id);
            let Some(file) = self.take_file(id)? else {
                // Deleted under us: the next listed segment follows.
                pos.segment = id.saturating_add(1);
                continue;
            };
            let end = read_segment(&file, &mut pos, &mut batch, limits);
            self.current = Some((id, file));
            let finished = !newest || *writer_gone.get_or_insert_with(|| self.writer_gone());
            match end? {
                SegmentEnd::Full => break,
                SegmentEnd::End if !finished => break,
                SegmentEnd::End => {
                    pos = Position {
                        segment: id.saturating_add(1),
                        offset: HEADER_LEN,
                    };
                    // Finished: the next read starts in the next segment, even if it is not
                    // there yet.
                    batch.next = pos;
                }
                SegmentEnd::Damaged { torn, file_len } => {
                    // Whole, valid frames may follow the damage: a frame that fails its check,
                    // or one cut short in a finished segment (a flipped length bit looks like a
                    // torn tail). In the segment being written, a short frame is a write in
                    // progress.
                    let resume = match (&self.current, self.last_resync) {
                        (_, Some((at, len, found))) if at == pos && len == file_len => found,
                        (Some((_, file)), _) if !torn || finished => {
                            let found = resync(file, pos.offset, file_len)?;
                            self.last_resync = Some((pos, file_len, found));
                            found
                        }
                        _ => None,
                    };
                    // A "short" frame with whole frames after it is damage, not a torn tail.
                    let torn = torn && resume.is_none();
                    let region = CorruptRegion {
                        segment: id,
                        offset: pos.offset,
                        bytes: resume.unwrap_or(file_len).saturating_sub(pos.offset),
                        torn,
                    };
                    let passed = resume.is_some() || finished;
                    // Counted once per position; a short frame only once it is known to be
                    // torn (in a finished segment).
                    if (!torn || finished) && self.counted.insert(pos) {
                        if torn {
                            self.stats.add_torn(region.bytes);
                        } else {
                            self.stats.add_corrupt(region.bytes);
                        }
                    }
                    if passed {
                        // Reported with every batch that moves past it: the shipper may drop
                        // a batch unshipped (it lingers for more) and read again; it
                        // dead-letters each region once.
                        batch.corrupt.push(region);
                    } else if !torn && self.waiting != Some(pos) {
                        // A corrupt frame with nothing valid after it in the segment being
                        // written: reported once while the reader waits there.
                        self.waiting = Some(pos);
                        batch.corrupt.push(region);
                    }
                    if let Some(next) = resume {
                        // Whole, valid frames follow the damage (in a finished segment or the
                        // one being written): only the damaged bytes are skipped.
                        pos.offset = next;
                        batch.next = pos;
                        continue;
                    }
                    if !finished {
                        // In the segment being written: a torn frame is a write in progress;
                        // a corrupt one stays until the segment is finished.
                        break;
                    }
                    pos = Position {
                        segment: id.saturating_add(1),
                        offset: HEADER_LEN,
                    };
                    batch.next = pos;
                }
            }
        }
        Ok(batch)
    }

    /// Acknowledges everything before `pos`: stores it durably (temp file, fsync, rename,
    /// directory fsync), then deletes the segments wholly before it. A position at or before
    /// the acknowledged one changes nothing.
    ///
    /// # Errors
    /// The I/O error of storing the position; deleting a segment that is already gone is not
    /// an error.
    pub fn ack(&mut self, pos: Position) -> io::Result<()> {
        if pos <= self.acked {
            return Ok(());
        }
        ack::store(&self.dir, pos)?;
        self.acked = pos;
        self.counted.retain(|damaged| *damaged >= pos);
        for id in segment::list(&self.dir)? {
            if id >= pos.segment {
                break;
            }
            if self.current.as_ref().is_some_and(|(cur, _)| *cur == id) {
                self.current = None;
            }
            match std::fs::remove_file(segment::path(&self.dir, id)) {
                Ok(()) => {}
                Err(e) if e.kind() == io::ErrorKind::NotFound => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Bytes of segments not yet acknowledged (an estimate of the backlog).
    ///
    /// # Errors
    /// The I/O error of listing the segments.
    pub fn backlog_bytes(&self) -> io::Result<u64> {
        let mut total = 0u64;
        for id in segment::list(&self.dir)? {
            if id < self.acked.segment {
                continue;
            }
            let len = match std::fs::metadata(segment::path(&self.dir, id)) {
                Ok(m) => m.len(),
                Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
                Err(e) => return Err(e),
            };
            let from = if id == self.acked.segment {
                self.acked.offset.max(HEADER_LEN)
            } else {
                HEADER_LEN
            };
            total = total.saturating_add(len.saturating_sub(from));
        }
        Ok(total)
    }
}

#[derive(Debug, Clone, Copy)]
struct Limits {
    max_bytes: usize,
    max_records: usize,
}

/// Why reading one segment stopped.
enum SegmentEnd {
    /// The batch is full.
    Full,
    /// At the end of the segment's bytes.
    End,
    /// At a frame that is cut short (`torn`) or fails its check.
    Damaged { torn: bool, file_len: u64 },
}

/// Reads frames of one segment from `pos` into `batch`, advancing `pos` and `batch.next`.
fn read_segment(
    file: &File,
    pos: &mut Position,
    batch: &mut ReadBatch,
    limits: Limits,
) -> io::Result<SegmentEnd> {
    let file_len = file.metadata()?.len();
    let full = |b: &ReadBatch| {
        b.records.len() >= limits.max_records
            || (!b.records.is_empty() && b.line_bytes as usize >= limits.max_bytes)
    };
    loop {
        if full(batch) {
            return Ok(SegmentEnd::Full);
        }
        let left = file_len.saturating_sub(pos.offset);
        if left == 0 {
            return Ok(SegmentEnd::End);
        }
        let budget = limits
            .max_bytes
            .saturating_sub(batch.line_bytes as usize)
            .max(64 << 10);
        let want = usize::try_from(left).unwrap_or(usize::MAX).min(budget);
        let mut chunk = segment::read_at(file, pos.offset, want)?;
        let mut at = 0usize;
        loop {
            if full(batch) {
                return Ok(SegmentEnd::Full);
            }
            let Some(rest) = chunk.get(at..).filter(|r| !r.is_empty()) else {
                break;
            };
            match decode_frame(rest) {
                Decoded::Frame { payload, len } => {
                    let Some(record) = decode_payload(payload) else {
                        return Ok(SegmentEnd::Damaged {
                            torn: false,
                            file_len,
                        });
                    };
                    at += len;
                    pos.offset += len as u64;
                    batch.line_bytes += record.line().len() as u64;
                    batch.records.push(SpooledRecord { record, end: *pos });
                    batch.next = *pos;
                }
                Decoded::Incomplete => {
                    let announced = segment::announced_len(rest).unwrap_or(usize::MAX);
                    let whole_on_disk = (announced as u64) <= file_len - pos.offset;
                    if !whole_on_disk {
                        return Ok(SegmentEnd::Damaged {
                            torn: true,
                            file_len,
                        });
                    }
                    if at > 0 {
                        // Read the next chunk from this frame on.
                        break;
                    }
                    // One frame larger than the chunk: read exactly it.
                    chunk = segment::read_at(file, pos.offset, announced)?;
                    if chunk.len() < announced {
                        return Ok(SegmentEnd::Damaged {
                            torn: true,
                            file_len,
                        });
                    }
                }
                Decoded::Corrupt => {
                    return Ok(SegmentEnd::Damaged {
                        torn: false,
                        file_len,
                    });
                }
            }
        }
    }
}

/// The offset of the first whole frame after the damaged one at `from` whose checksum holds and
/// whose payload is a record, if the segment's bytes hold one: reading resumes there, so one
/// damaged frame costs its own bytes, not the rest of the segment.
fn resync(file: &File, from: u64, file_len: u64) -> io::Result<Option<u64>> {
    let want = usize::try_from(file_len.saturating_sub(from)).unwrap_or(usize::MAX);
    let bytes = segment::read_at(file, from, want)?;
    Ok(next_record_frame(&bytes).map(|at| from + at as u64))
}
