//! Pieces of the SIPp scenarios in which SIPp is the IP-PBX calling through the daemon,
//! so that each test writes only what its call does differently: the head, the INVITE
//! with its SDP offer, the ACK of the 200, the requests within the dialog.

#![allow(dead_code)]

/// The XML head of a scenario named `name`; the scenario ends with `</scenario>`.
pub fn head(name: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n")
}

/// A `<send>` (retransmitted from 500 ms on, RFC 3261 §17.1.1.2) of an INVITE from
/// `sip:1001` to the scenario's service, offering RTP on `port` (`[media_port]`: SIPp's
/// own) with the payload types `pts` in that order: 8 (PCMA), 0 (PCMU) or 101
/// (telephone-event, events 0–16, RFC 4733).
pub fn invite(port: &str, pts: &[u8]) -> String {
    let list: Vec<String> = pts.iter().map(u8::to_string).collect();
    let mut attrs = String::new();
    for pt in pts {
        match pt {
            8 => attrs += "      a=rtpmap:8 PCMA/8000\n",
            0 => attrs += "      a=rtpmap:0 PCMU/8000\n",
            101 => {
                attrs += "      a=rtpmap:101 telephone-event/8000\n";
                attrs += "      a=fmtp:101 0-16\n";
            }
            other => panic!("no rtpmap written for payload type {other}"),
        }
    }
    format!(
        r#"  <send retrans="500">
    <![CDATA[
      INVITE sip:[service]@[remote_ip]:[remote_port] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>
      Call-ID: [call_id]
      CSeq: 1 INVITE
      Contact: sip:1001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Type: application/sdp
      Content-Length: [len]

      v=0
      o=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]
      s=-
      c=IN IP[media_ip_type] [media_ip]
      t=0 0
      m=audio {port} RTP/AVP {}
{attrs}
    ]]>
  </send>
"#,
        list.join(" ")
    )
}

/// A `<send>` of an in-dialog request `method` of the dialog [`invite`] set up, with CSeq
/// `cseq` (resent until answered, but an ACK); `tail`: its lines after `Max-Forwards`,
/// body included.
pub fn in_dialog(method: &str, cseq: u32, tail: &str) -> String {
    let retrans = if method == "ACK" {
        ""
    } else {
        r#" retrans="500""#
    };
    format!(
        r#"  <send{retrans}>
    <![CDATA[
      {method} [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: {cseq} {method}
      Contact: sip:1001@[local_ip]:[local_port]
      Max-Forwards: 70
{tail}
    ]]>
  </send>
"#
    )
}

/// SIPp as the caller acknowledging the 200 OK of its INVITE (RFC 3261 §13.2.2.4), with
/// the route set the 200 recorded (`rrs="true"`).
pub const ACK_2XX: &str = r#"  <send>
    <![CDATA[
      ACK [next_url] SIP/2.0
      Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]
      From: <sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]
      To: <sip:[service]@[remote_ip]:[remote_port]>[peer_tag_param]
      [routes]
      Call-ID: [call_id]
      CSeq: 1 ACK
      Contact: sip:1001@[local_ip]:[local_port]
      Max-Forwards: 70
      Content-Length: 0

    ]]>
  </send>
"#;
