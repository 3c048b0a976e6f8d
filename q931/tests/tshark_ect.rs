//! tshark's Q.932 / ROSE dissectors (Wireshark, written independently of this crate)
//! decode the call transfer FACILITY messages we encode: ETSI ECT (EctLinkIdRequest,
//! ExplicitEctExecute with its LinkId, the LinkId result) and NI-2 2BCT
//! (InitiateTransfer), in LAPD I-frames of a pcap (link type 203).
//!
//! Needs `tshark` (Debian package `tshark`).

#[path = "common/pcap.rs"]
mod pcap;

use std::process::Command;

use q931::supplementary::ect::{self, LinkId};
use q931::supplementary::two_bct::{self, TransferCallRef};
use q931::supplementary::{Component, FacilityApdus, InvokeId};
use q931::{CallRef, CallRefFlag, Message};

fn facility(cr: u16, c: Component) -> Message {
    Message::facility(
        CallRef::two_octet(cr, CallRefFlag::FromOriginator),
        FacilityApdus::rose(vec![c]).to_facility(),
    )
}

fn tshark(args: &[&str]) -> String {
    let out = Command::new("tshark")
        .args(args)
        .output()
        .expect("tshark must be installed (Debian package tshark)");
    assert!(
        out.status.success(),
        "tshark failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn tshark_decodes_our_transfer_invokes() {
    let msgs = [
        facility(1, ect::link_id_request(InvokeId(5))),
        facility(1, ect::link_id_result(InvokeId(5), LinkId(300))),
        facility(2, ect::explicit_ect_execute(InvokeId(6), LinkId(300))),
        facility(
            1,
            two_bct::initiate_transfer(
                InvokeId(7),
                TransferCallRef {
                    value: 2,
                    sender_originated: true,
                },
            ),
        ),
    ];
    let mut pcap = pcap::PcapWriter::new(pcap::LINKTYPE_LAPD);
    for (i, m) in msgs.iter().enumerate() {
        let l3 = m.to_bytes().unwrap();
        let frame = pcap::lapd_i_frame(0, false, 0, i as u8, 0, false, &l3);
        pcap.packet(1_000_000 + i as u64 * 1000, &frame);
    }
    let path = pcap::temp_path("q931-tshark-ect");
    pcap.write_to(&path).unwrap();
    let p = path.to_str().unwrap();
    let verbose = tshark(&["-r", p, "-V"]);
    // tshark decodes the ROSE framing but has no table for these operations (an
    // "Undecoded" warning, not an error); nothing is malformed.
    for bad in ["Malformed", "Expert Info (Error", "Invalid"] {
        assert!(!verbose.contains(bad), "tshark reports {bad:?}:\n{verbose}");
    }
    let out = tshark(&[
        "-r",
        p,
        "-T",
        "fields",
        "-E",
        "separator=|",
        "-e",
        "q931.message_type",
        "-e",
        "q932.ros.present",
        "-e",
        "q932.ros.global",
        "-e",
        "q932.ros.invoke_element",
        "-e",
        "q932.ros.returnResult_element",
    ]);
    let rows: Vec<Vec<&str>> = out.lines().map(|l| l.split('|').collect()).collect();
    assert_eq!(rows.len(), msgs.len(), "{out}");
    let want = [
        ("5", "0.4.0.369.1.4", true),
        ("5", "0.4.0.369.1.4", false),
        ("6", "0.4.0.369.1.1", true),
        ("7", "1.2.840.10005.0.8", true),
    ];
    for (row, (id, oid, invoke)) in rows.iter().zip(want) {
        assert_eq!(row[0], "0x62", "FACILITY: {row:?}");
        assert_eq!(row[1], id, "invokeId: {row:?}");
        assert_eq!(row[2], oid, "operation: {row:?}");
        assert_eq!(!row[3].is_empty(), invoke, "invoke component: {row:?}");
        assert_eq!(
            !row[4].is_empty(),
            !invoke,
            "returnResult component: {row:?}"
        );
    }
    // The arguments as tshark shows them: LinkId 300 (INTEGER 0x012c), and 2BCT's
    // SEQUENCE { callReference 2 }.
    assert!(verbose.contains("argument: 0202012c"), "{verbose}");
    assert!(verbose.contains("result: 0202012c"), "{verbose}");
    assert!(verbose.contains("argument: 3003020102"), "{verbose}");
}
