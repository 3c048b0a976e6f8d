//! Call detail records: one CSV line per call, appended and `fsync`ed before the call's
//! end is acknowledged to anyone, so a crash never loses a finished call's record.
//!
//! A [`CdrWriter`] in batch mode ([`CdrWriter::batched`], the daemon's) keeps records in
//! memory and writes + `fdatasync`s them all at once in [`CdrWriter::flush`]. The daemon
//! group-commits over turns of its signalling loop (`daemon::signalling::cdr_commit`): it
//! flushes at most every few milliseconds, and until a flush has made every record
//! written so far durable it holds *all* its output, so no SIP response, no Q.931 message
//! and no new call on a freed channel leaves the daemon before the records of the calls it
//! concerns are on disk. A crash before the flush loses only calls whose end nobody was
//! told of yet (their peers retransmit BYE / DISCONNECT and learn the call is gone),
//! exactly as a crash just before a per-record `fsync` would. [`CdrDurability`] is the
//! writer's count of records queued and synced, which the signalling task reads to
//! decide whether what it holds may go.

use std::fs::{File, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

/// The columns, in file order (the header line of a new file).
pub const HEADER: &str = "call_id,setup_time,answer_time,end_time,duration_s,billsec_s,\
calling,called,in_trunk,out_trunk,span,channel,isdn_cause,sip_status,release_side,codec,\
disposition,transfer";

/// What one call was.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Cdr {
    pub call_id: String,
    pub setup: Option<SystemTime>,
    pub answer: Option<SystemTime>,
    pub end: Option<SystemTime>,
    pub calling: String,
    pub called: String,
    /// Trunk the call came in on (SIP trunk or trunk group name).
    pub in_trunk: String,
    /// Trunk it went out on, if it got that far.
    pub out_trunk: String,
    pub span: Option<u16>,
    pub channel: Option<u8>,
    /// Q.850 cause on the ISDN/H.323 side.
    pub isdn_cause: Option<u8>,
    /// Final SIP status (or 200 for a BYE after answer).
    pub sip_status: Option<u16>,
    /// Which side released first: `sip`, `isdn`, `h323`, `gateway`.
    pub release_side: String,
    pub codec: String,
    /// `ANSWERED`, `BUSY`, `NO ANSWER`, `FAILED`, `CANCELLED`.
    pub disposition: String,
    /// Free text for transfers (`blind to 123`, `attended`), empty otherwise.
    pub transfer: String,
}

fn secs(t: Option<SystemTime>) -> Option<f64> {
    t.and_then(|t| t.duration_since(UNIX_EPOCH).ok())
        .map(|d| d.as_secs_f64())
}

fn csv_field(out: &mut String, s: &str) {
    if s.contains([',', '"', '\n', '\r']) {
        out.push('"');
        out.push_str(&s.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(s);
    }
}

impl Cdr {
    /// The record as one CSV line (RFC 4180 quoting), with its newline.
    pub fn to_csv(&self) -> String {
        let mut line = String::with_capacity(256);
        self.write_csv(&mut line);
        line
    }

    /// [`Cdr::to_csv`] appended to `line`, without a string per field.
    pub fn write_csv(&self, line: &mut String) {
        use std::fmt::Write as _;
        let time = |line: &mut String, t| {
            if let Some(s) = secs(t) {
                let _ = write!(line, "{s:.3}");
            }
        };
        let opt = |line: &mut String, v: Option<u32>| {
            if let Some(v) = v {
                let _ = write!(line, "{v}");
            }
        };
        csv_field(line, &self.call_id);
        line.push(',');
        time(line, self.setup);
        line.push(',');
        time(line, self.answer);
        line.push(',');
        time(line, self.end);
        line.push(',');
        if let (Some(a), Some(b)) = (secs(self.setup), secs(self.end)) {
            let _ = write!(line, "{:.3}", (b - a).max(0.0));
        }
        line.push(',');
        match (secs(self.answer), secs(self.end)) {
            (Some(a), Some(b)) => {
                let _ = write!(line, "{:.3}", (b - a).max(0.0));
            }
            _ => line.push_str("0.000"),
        }
        for f in [&self.calling, &self.called, &self.in_trunk, &self.out_trunk] {
            line.push(',');
            csv_field(line, f);
        }
        line.push(',');
        opt(line, self.span.map(u32::from));
        line.push(',');
        opt(line, self.channel.map(u32::from));
        line.push(',');
        opt(line, self.isdn_cause.map(u32::from));
        line.push(',');
        opt(line, self.sip_status.map(u32::from));
        for f in [
            &self.release_side,
            &self.codec,
            &self.disposition,
            &self.transfer,
        ] {
            line.push(',');
            csv_field(line, f);
        }
        line.push('\n');
    }
}

/// Errors writing CDRs.
#[derive(Debug, thiserror::Error)]
pub enum CdrError {
    #[error("CDR file {path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// How many records a batched [`CdrWriter`] was given and how many of them are durable:
/// a shared view (cheap to clone) for whoever holds output that must wait for the sync.
#[derive(Debug, Clone, Default)]
pub struct CdrDurability(Arc<Counts>);

#[derive(Debug, Default)]
struct Counts {
    queued: AtomicU64,
    synced: AtomicU64,
}

impl CdrDurability {
    /// Records written to the writer so far (queued or synced).
    pub fn queued(&self) -> u64 {
        self.0.queued.load(Ordering::Acquire)
    }

    /// Records appended and `fdatasync`ed so far.
    pub fn synced(&self) -> u64 {
        self.0.synced.load(Ordering::Acquire)
    }

    /// Records written but not yet durable.
    pub fn unsynced(&self) -> u64 {
        self.queued().saturating_sub(self.synced())
    }
}

/// An append-only CDR file.
#[derive(Debug)]
pub struct CdrWriter {
    path: PathBuf,
    file: File,
    /// Batch mode: records written since the last flush.
    pending: Option<String>,
    durability: CdrDurability,
}

impl CdrWriter {
    /// Open (or create, with its header line) the CDR file.
    pub fn open(path: &Path) -> Result<Self, CdrError> {
        let io = |source| CdrError::Io {
            path: path.to_path_buf(),
            source,
        };
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(io)?;
        }
        let mut file = OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(io)?;
        if file.metadata().map_err(io)?.len() == 0 {
            file.write_all(format!("{HEADER}\n").as_bytes())
                .map_err(io)?;
            file.sync_data().map_err(io)?;
        }
        Ok(CdrWriter {
            path: path.to_path_buf(),
            file,
            pending: None,
            durability: CdrDurability::default(),
        })
    }

    /// The highest call number (`call-N`, transfer parts `call-N.M` included) among the
    /// last records of the file, so that a daemon started again on the same file goes on
    /// from there instead of writing `call-1` a second time. Reads the last 64 KiB only:
    /// records are appended in call order, and a file of millions of records costs no
    /// more to open.
    pub fn last_call_number(&self) -> Option<u64> {
        use std::io::{Read, Seek, SeekFrom};
        let mut f = File::open(&self.path).ok()?;
        let len = f.metadata().ok()?.len();
        let from = len.saturating_sub(64 * 1024);
        f.seek(SeekFrom::Start(from)).ok()?;
        let mut tail = Vec::new();
        f.read_to_end(&mut tail).ok()?;
        String::from_utf8_lossy(&tail)
            .lines()
            .filter_map(|l| {
                let digits: String = l
                    .strip_prefix("call-")?
                    .chars()
                    .take_while(char::is_ascii_digit)
                    .collect();
                digits.parse().ok()
            })
            .max()
    }

    /// The writer's counts of records queued and durable, shared.
    pub fn durability(&self) -> CdrDurability {
        self.durability.clone()
    }

    /// Batch mode: [`CdrWriter::write`] only queues the record; [`CdrWriter::flush`] appends
    /// and syncs everything queued, once (see the module docs for when it must run).
    pub fn batched(mut self) -> Self {
        self.pending = Some(String::with_capacity(64 * 1024));
        self
    }

    /// Appends and `fdatasync`s the queued records (batch mode), and syncs again whatever
    /// an earlier sync left undone. On an error the records stay queued (or written but
    /// unsynced) for the next flush.
    pub fn flush(&mut self) -> Result<(), CdrError> {
        let queued_text = self.pending.as_ref().is_some_and(|p| !p.is_empty());
        if !queued_text && self.durability.unsynced() == 0 {
            return Ok(());
        }
        let io = |source| CdrError::Io {
            path: self.path.clone(),
            source,
        };
        // Counted before the write: a record is durable when the sync below returns.
        let queued = self.durability.queued();
        if let Some(pending) = self.pending.as_mut().filter(|p| !p.is_empty()) {
            self.file.write_all(pending.as_bytes()).map_err(io)?;
            pending.clear();
        }
        self.file.sync_data().map_err(io)?;
        self.durability.0.synced.store(queued, Ordering::Release);
        Ok(())
    }

    /// Append one record and make it durable before returning (`fdatasync`): the caller
    /// frees the call only after this.
    pub fn write(&mut self, cdr: &Cdr) -> Result<(), CdrError> {
        let io = |source| CdrError::Io {
            path: self.path.clone(),
            source,
        };
        // One write() of the whole line: O_APPEND keeps lines whole even if two writers
        // share the file.
        let counts = &self.durability.0;
        counts.queued.fetch_add(1, Ordering::AcqRel);
        if let Some(p) = self.pending.as_mut() {
            cdr.write_csv(p);
            return Ok(());
        }
        self.file.write_all(cdr.to_csv().as_bytes()).map_err(io)?;
        self.file.sync_data().map_err(io)?;
        counts
            .synced
            .store(counts.queued.load(Ordering::Acquire), Ordering::Release);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn csv_line_quotes_and_computes_durations() {
        let t0 = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let cdr = Cdr {
            call_id: "c1".into(),
            setup: Some(t0),
            answer: Some(t0 + Duration::from_secs(2)),
            end: Some(t0 + Duration::from_millis(12_500)),
            calling: "\"Bob, Jr\" <100>".into(),
            called: "0301234".into(),
            span: Some(1),
            channel: Some(5),
            isdn_cause: Some(16),
            sip_status: Some(200),
            disposition: "ANSWERED".into(),
            ..Default::default()
        };
        let line = cdr.to_csv();
        assert!(line.starts_with("c1,1700000000.000,1700000002.000,1700000012.500,12.500,10.500,"));
        assert!(
            line.contains(",\"\"\"Bob, Jr\"\" <100>\",0301234,"),
            "{line}"
        );
        assert!(line.ends_with(",ANSWERED,\n"));
        assert_eq!(
            line.matches(',').count() - 1,
            HEADER.matches(',').count(),
            "one comma is quoted"
        );
        // Nothing known: empty fields, no billable time.
        assert_eq!(
            Cdr::default().to_csv(),
            format!(",,,,,0.000{}\n", ",".repeat(12))
        );
        // Appended to what is queued, as the batched writer does.
        let mut queued = String::from("x\n");
        cdr.write_csv(&mut queued);
        assert_eq!(queued, format!("x\n{line}"));
    }

    #[test]
    fn writer_appends_after_header() {
        let dir = std::env::temp_dir().join(format!("cdr-test-{}", std::process::id()));
        let path = dir.join("cdr.csv");
        let _ = std::fs::remove_file(&path);
        let mut w = CdrWriter::open(&path).unwrap();
        w.write(&Cdr {
            call_id: "a".into(),
            ..Default::default()
        })
        .unwrap();
        drop(w);
        let mut w = CdrWriter::open(&path).unwrap();
        w.write(&Cdr {
            call_id: "b".into(),
            ..Default::default()
        })
        .unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        let lines: Vec<_> = text.lines().collect();
        assert_eq!(lines.len(), 3, "{text}");
        assert_eq!(lines[0], HEADER);
        assert!(lines[1].starts_with("a,") && lines[2].starts_with("b,"));
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn batched_writer_appends_only_on_flush() {
        let dir = std::env::temp_dir().join(format!("cdr-batch-{}", std::process::id()));
        let path = dir.join("cdr.csv");
        let _ = std::fs::remove_file(&path);
        let mut w = CdrWriter::open(&path).unwrap().batched();
        for id in ["a", "b"] {
            w.write(&Cdr {
                call_id: id.into(),
                ..Default::default()
            })
            .unwrap();
        }
        let lines = || std::fs::read_to_string(&path).unwrap().lines().count();
        assert_eq!(lines(), 1, "only the header before the flush");
        w.flush().unwrap();
        assert_eq!(lines(), 3);
        w.flush().unwrap();
        assert_eq!(lines(), 3, "a flush with nothing queued writes nothing");
        std::fs::remove_dir_all(dir).unwrap();
    }

    #[test]
    fn durability_counts_records_queued_and_synced() {
        let dir = std::env::temp_dir().join(format!("cdr-durable-{}", std::process::id()));
        let path = dir.join("cdr.csv");
        let _ = std::fs::remove_file(&path);
        let record = |id: &str| Cdr {
            call_id: id.into(),
            ..Default::default()
        };
        let mut w = CdrWriter::open(&path).unwrap().batched();
        let d = w.durability();
        assert_eq!((d.queued(), d.synced(), d.unsynced()), (0, 0, 0));
        w.write(&record("a")).unwrap();
        w.write(&record("b")).unwrap();
        assert_eq!((d.queued(), d.synced(), d.unsynced()), (2, 0, 2));
        w.flush().unwrap();
        assert_eq!((d.queued(), d.synced(), d.unsynced()), (2, 2, 0));
        drop(w);
        // Unbatched, each write is durable when it returns.
        let mut w = CdrWriter::open(&path).unwrap();
        let d = w.durability();
        w.write(&record("c")).unwrap();
        assert_eq!((d.queued(), d.synced(), d.unsynced()), (1, 1, 0));
        std::fs::remove_dir_all(dir).unwrap();
    }
}
