//! A reload (`gatewayd ctl reload`, same as SIGHUP) that moves a SIP trunk to another
//! listener and adds one: the call in progress on the old listener goes on to its BYE, new
//! calls there get 503, and new calls on the new listeners are carried — no restart.

use std::time::Duration;

use crate::daemon_support::{free_udp_port, Daemon, Options, DISPOSITION};
use crate::sipp_scenario::refused;

/// SIPp `uac` from a fresh port to `port`; true when its call succeeded.
fn call_to(d: &Daemon, port: u16, args: &[&str]) -> bool {
    std::process::Command::new("sipp")
        .args(args)
        .args([
            "-p",
            &free_udp_port().to_string(),
            "-i",
            "127.0.0.1",
            "-m",
            "1",
            "-timeout",
            "30",
            "-timeout_error",
            "-nostdin",
            &format!("127.0.0.1:{port}"),
        ])
        .current_dir(&d.dir)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .expect("sipp runs")
        .success()
}

#[test]
fn reload_moves_and_adds_sip_trunks_without_dropping_the_call_in_progress() {
    let d = Daemon::start("reload-sip", Options::default());
    let old_port = d.sip_port;
    // A call in progress on the trunk's first listener: answered after 1 s, held 5 s.
    let mut held = d.held_call(5000);
    assert_eq!(d.ctl("show calls").lines().count(), 1);
    // Move the trunk to a new port and add a second trunk with a route of its own.
    let (new_port, extra_port) = (free_udp_port(), free_udp_port());
    let path = d.dir.join("gatewayd.toml");
    let text = std::fs::read_to_string(&path).unwrap();
    let text = text.replace(
        &format!("listen = \"127.0.0.1:{old_port}\""),
        &format!("listen = \"127.0.0.1:{new_port}\""),
    ) + &format!(
        "\n[[sip_trunk]]\nname = \"pbx2\"\nlisten = \"127.0.0.1:{extra_port}\"\n\
         peers = [\"127.0.0.1:5999\"]\nallow = [\"127.0.0.0/8\"]\n\n\
         [[route]]\npattern = \"_9X.\"\nfrom = [\"pbx2\"]\nto = [\"pstn\"]\nstrip = 1\n"
    );
    std::fs::write(&path, text).unwrap();
    assert_eq!(d.ctl("reload"), "ok\n");
    std::thread::sleep(Duration::from_millis(200));
    // The old listener refuses new calls.
    let sf = d.scenario("expect503.xml", &refused("expect 503", 503));
    assert!(
        call_to(&d, old_port, &["-sf", &sf, "-s", "0301234"]),
        "503 on the removed listener"
    );
    // The moved trunk and the added one carry calls.
    assert!(call_to(
        &d,
        new_port,
        &["-sn", "uac", "-s", "0301234", "-d", "200"]
    ));
    assert!(call_to(
        &d,
        extra_port,
        &["-sn", "uac", "-s", "90305555", "-d", "200"]
    ));
    assert!(
        held.wait().unwrap().success(),
        "the call in progress ended normally with its BYE"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 3, "{cdrs:?}");
    assert!(
        cdrs.iter().all(|r| r[DISPOSITION] == "ANSWERED"),
        "{cdrs:?}"
    );
    let trunks: Vec<&str> = cdrs.iter().map(|r| r[8].as_str()).collect();
    assert!(trunks.contains(&"pbx2"), "{trunks:?}");
}

/// The 1-based line of the first line of `text` that starts with `prefix`.
fn line_of(text: &str, prefix: &str) -> usize {
    text.lines()
        .position(|l| l.trim_start().starts_with(prefix))
        .expect("line present")
        + 1
}

/// A reload (`ctl reload`, then SIGHUP) that would change a running span's signalling, or remove the span that carries
/// the call in progress, is refused as a whole: the ctl answer names file, line and field,
/// nothing of the file is applied, and the call goes on. Once the span is idle, removing it
/// is accepted.
#[test]
fn reload_refuses_span_changes_that_need_a_restart() {
    let d = Daemon::start("reload-span-refused", Options::default());
    let mut held = d.held_call(3000);
    assert_eq!(d.ctl("show calls").lines().count(), 1);
    let path = d.dir.join("gatewayd.toml");
    let original = std::fs::read_to_string(&path).unwrap();

    // Span 1 to the network side, and a span 2 added in the same file.
    let changed = original.replace("signalling = \"pri_cpe\"", "signalling = \"pri_net\"")
        + "\n[[span]]\nid = 2\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n";
    std::fs::write(&path, &changed).unwrap();
    let answer = d.ctl("reload");
    let expect = format!(
        "error: {}:{}: field `span[0].signalling`: span 1: `signalling` changed",
        path.display(),
        line_of(&changed, "signalling = \"pri_net\"")
    );
    assert!(answer.starts_with(&expect), "{answer}");
    assert!(answer.contains("spans change only at restart"), "{answer}");
    // SIGHUP runs the same reload: refused, and the log says why.
    // SAFETY: kill(2) on the daemon's own pid.
    assert_eq!(unsafe { libc::kill(d.pid() as i32, libc::SIGHUP) }, 0);
    let deadline = std::time::Instant::now() + Duration::from_secs(5);
    while !d.log().contains("reload refused") {
        assert!(std::time::Instant::now() < deadline, "{}", d.log());
        std::thread::sleep(Duration::from_millis(50));
    }
    let log = d.log();
    let refused = log.lines().find(|l| l.contains("reload refused")).unwrap();
    assert!(refused.contains("span[0].signalling"), "{refused}");
    assert!(
        refused.contains("spans change only at restart"),
        "{refused}"
    );
    // Nothing applied: span 2 is unknown, span 1 still up.
    let spans = d.ctl("show spans");
    assert_eq!(spans.lines().count(), 2, "{spans}");
    assert!(spans.lines().nth(1).unwrap().starts_with("1 "), "{spans}");
    assert!(spans.contains(" up "), "{spans}");
    // The simulated span times the device and counts its slips (none on a clean line),
    // unlike a DAHDI span (`-`): read from the device every second.
    assert!(
        spans
            .lines()
            .nth(1)
            .unwrap()
            .split_whitespace()
            .eq(["1", "ok", "up", "source", "0"]),
        "{spans}"
    );

    // Span 1 replaced by span 2 while span 1 carries the call.
    let moved = original
        .replace("id = 1\n", "id = 2\n")
        .replace("{ span = 1 }", "{ span = 2 }");
    std::fs::write(&path, &moved).unwrap();
    let answer = d.ctl("reload");
    assert!(
        answer.starts_with(&format!(
            "error: {}: span 1 removed while 1 call(s) use it",
            path.display()
        )),
        "{answer}"
    );
    assert_eq!(d.ctl("show calls").lines().count(), 1, "the call goes on");
    assert!(
        held.wait().unwrap().success(),
        "the call ended with its BYE"
    );
    d.assert_no_busy_channel();
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 1, "{cdrs:?}");
    assert_eq!(cdrs[0][DISPOSITION], "ANSWERED", "{cdrs:?}");

    // Idle now: the same file is accepted; span 1 is closed, span 2 opened and up.
    assert_eq!(d.ctl("reload"), "ok\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let spans = d.ctl("show spans");
        assert!(!spans.lines().any(|l| l.starts_with("1 ")), "{spans}");
        if spans
            .lines()
            .any(|l| l.starts_with("2 ") && l.contains(" up "))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "span 2 not up:\n{spans}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(d.sipp(&["-sn", "uac", "-s", "0301234", "-m", "1", "-d", "200"]));
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    assert_eq!(
        (cdrs[1][10].as_str(), cdrs[1][DISPOSITION].as_str()),
        ("2", "ANSWERED")
    );
}

/// A reload adds span 2 (a simulated E1 whose switch answers with a 1500 Hz tone), a trunk
/// group on it and a route to it while a call is up on span 1: span 2's D-channel comes
/// up, a SIPp call routed there is answered by its switch, the tone crosses to SIPp and
/// back (SIPp echoes RTP), and the first call goes on to its BYE.
#[test]
fn reload_adds_a_span_live_while_a_call_is_up_on_another() {
    let d = Daemon::start("reload-span-added", Options::default());
    let mut held = d.held_call(6000);
    assert_eq!(d.ctl("show calls").lines().count(), 1);
    let path = d.dir.join("gatewayd.toml");
    let text = std::fs::read_to_string(&path).unwrap()
        + "\n[[span]]\nid = 2\ntype = \"e1\"\nsignalling = \"pri_cpe\"\n\
           device = { kind = \"sim\", tone_hz = 1500, answer_after_ms = 200 }\n\n\
           [[trunk_group]]\nname = \"pstn2\"\nmembers = [{ span = 2 }]\nhunting = \"ascending\"\n\n\
           [[route]]\npattern = \"_9X.\"\nfrom = [\"pbx\"]\nto = [\"pstn2\"]\nstrip = 1\n";
    std::fs::write(&path, text).unwrap();
    assert_eq!(d.ctl("reload"), "ok\n");
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let spans = d.ctl("show spans");
        if spans
            .lines()
            .any(|l| l.starts_with("2 ") && l.contains(" up "))
        {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "span 2 not up:\n{spans}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    let mp = free_udp_port().to_string();
    let ok = d
        .sipp_command(
            "127.0.0.1",
            free_udp_port(),
            &[
                "-sn",
                "uac",
                "-s",
                "90305555",
                "-m",
                "1",
                "-d",
                "2000",
                "-rtp_echo",
                "-mp",
                &mp,
            ],
        )
        .status()
        .unwrap()
        .success();
    assert!(ok, "the call routed to span 2 was answered");
    assert_eq!(
        d.ctl("show calls").lines().count(),
        1,
        "the first call is still up"
    );
    assert!(
        held.wait().unwrap().success(),
        "the first call ended with its BYE"
    );
    d.assert_no_busy_channel();
    let sim = d.ctl("show sim-calls");
    let on2: Vec<&str> = sim.lines().filter(|l| l.starts_with("2 ")).collect();
    assert_eq!(on2.len(), 1, "{sim}");
    assert!(on2[0].contains("from-gateway 0305555"), "{sim}");
    assert!(
        on2[0].contains("1500Hz/"),
        "its tone came back through SIPp: {sim}"
    );
    let cdrs = d.cdrs();
    assert_eq!(cdrs.len(), 2, "{cdrs:?}");
    assert!(
        cdrs.iter().all(|r| r[DISPOSITION] == "ANSWERED"),
        "{cdrs:?}"
    );
    let spans: Vec<(&str, &str)> = cdrs
        .iter()
        .map(|r| (r[9].as_str(), r[10].as_str()))
        .collect();
    assert!(spans.contains(&("pstn", "1")), "{spans:?}");
    assert!(spans.contains(&("pstn2", "2")), "{spans:?}");
}
