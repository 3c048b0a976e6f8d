//! CDRs survive the daemon's death: SIPp places calls through the daemon, which is killed
//! with SIGKILL while calls are being set up and cleared. Every call SIPp saw end (its BYE
//! answered 200) has its CDR, because the daemon sends nothing a call's end depends on
//! before that call's record is written and synced (group commit, DAEMON.md "CDRs");
//! every line of the file is whole; the daemon starts again on the same file, goes on
//! with the call numbers after the last one written, and carries calls. (A process kill
//! keeps what reached the page cache: what the sync adds, surviving a power loss, this
//! test cannot show.)

use std::time::Duration;

use crate::daemon_support::{sipp_stat_counts, Daemon, Options, DISPOSITION};

#[test]
fn every_call_sipp_saw_cleared_has_its_cdr_after_a_sigkill() {
    let mut d = Daemon::start("crash-cdr", Options::default());
    // 20 calls/s, each answered by the simulated switch after 1 s and cleared by SIPp
    // 200 ms later: after 2.5 s about 25 have ended and 25 more are in progress.
    let mut sipp = d
        .sipp_command(
            "127.0.0.1",
            d.pbx_port,
            &[
                "-sn",
                "uac",
                "-s",
                "0301234",
                "-r",
                "20",
                "-m",
                "80",
                "-d",
                "200",
                "-recv_timeout",
                "3000",
                "-trace_stat",
                "-fd",
                "1",
            ],
        )
        .spawn()
        .expect("sipp runs");
    std::thread::sleep(Duration::from_millis(2500));
    d.crash();
    // The calls in flight fail at SIPp (no answer within 3 s); then it ends. Nothing
    // answers after the kill, so SIPp's count is of calls ended before it.
    let _ = sipp.wait();
    let (ok, failed) = sipp_stat_counts(&d.dir, "uac_");
    let text = std::fs::read_to_string(d.dir.join("cdr.csv")).unwrap();
    let header = text.lines().next().unwrap().split(',').count();
    let records: Vec<&str> = text.lines().skip(1).collect();
    eprintln!(
        "SIPp: {ok} calls ended, {failed} failed; {} CDRs",
        records.len()
    );
    assert!(
        ok >= 10 && failed >= 1,
        "the kill came mid-run: {ok} ok, {failed} failed"
    );
    assert!(
        records.len() as u64 >= ok,
        "{ok} calls ended at SIPp but only {} CDRs",
        records.len()
    );
    for r in &records {
        assert_eq!(r.split(',').count(), header, "a torn CDR line: {r}");
    }
    // Started again on the same file: it appends, with call ids after the last one.
    d.restart();
    assert!(d.sipp(&["-sn", "uac", "-s", "0301234", "-m", "1", "-d", "200"]));
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), records.len() + 1);
    assert_eq!(cdrs.last().unwrap()[DISPOSITION], "ANSWERED", "{cdrs:?}");
    let mut ids: Vec<&str> = cdrs.iter().map(|r| r[0].as_str()).collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(
        ids.len(),
        cdrs.len(),
        "call ids repeat after the restart: {cdrs:?}"
    );
}
