//! Pieces of the SIPp scenarios in which SIPp starts the dialog (the IP-PBX calling
//! through the daemon, a phone taking a call over, a UAC against our UAS), so that each
//! test writes only what its call does differently: the head, the requests SIPp sends
//! ([`Uac`], [`Request`]), the SDP offer ([`offer`]); [`invite`], [`pbx_in_dialog`] and
//! [`ack_2xx`] are the PBX phone's.

#![allow(dead_code)]

/// The XML head of a scenario named `name`; the scenario ends with `</scenario>`.
pub fn head(name: &str) -> String {
    format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\" ?>\n<scenario name=\"{name}\">\n")
}

/// The lines of SIPp's SDP offer from its own address: RTP on `port` (`[media_port]`:
/// SIPp's own) with the payload types `pts` in that order: 8 (PCMA), 0 (PCMU) or 101
/// (telephone-event, events 0–16, RFC 4733).
pub fn offer(port: &str, pts: &[u8]) -> String {
    let list: Vec<String> = pts.iter().map(u8::to_string).collect();
    let mut sdp = format!(
        "v=0\no=user1 53655765 2353687637 IN IP[local_ip_type] [local_ip]\ns=-\n\
         c=IN IP[media_ip_type] [media_ip]\nt=0 0\nm=audio {port} RTP/AVP {}\n",
        list.join(" ")
    );
    for pt in pts {
        match pt {
            8 => sdp += "a=rtpmap:8 PCMA/8000\n",
            0 => sdp += "a=rtpmap:0 PCMU/8000\n",
            101 => sdp += "a=rtpmap:101 telephone-event/8000\na=fmtp:101 0-16\n",
            other => panic!("no rtpmap written for payload type {other}"),
        }
    }
    sdp
}

/// A `<send>` (retransmitted from 500 ms on, RFC 3261 §17.1.1.2) of an INVITE from
/// `sip:1001` to the scenario's service ([`Uac::pbx`]) with the SDP [`offer`] of `port`
/// and `pts`.
pub fn invite(port: &str, pts: &[u8]) -> String {
    Uac::pbx().invite(1).sdp(&offer(port, pts)).send_retrans()
}

/// A `<send>` of SIPp as the UAS answering the request it received last with `status`
/// (e.g. `503 Service Unavailable`) and no body: its Via, From, Call-ID and CSeq, its To
/// with SIPp's tag.
pub fn reply(status: &str) -> String {
    format!(
        "  <send><![CDATA[\nSIP/2.0 {status}\n[last_Via:]\n[last_From:]\n\
         [last_To:];tag=[pid]SIPpTag01[call_number]\n[last_Call-ID:]\n[last_CSeq:]\n\
         Content-Length: 0\n\n]]></send>\n"
    )
}

/// A scenario named `name` in which SIPp (as its built-in `uac` names itself) calls
/// `[service]` with an INVITE without SDP, which must get the final response `status`,
/// and ACKs it (to the callee's URI, with the response's To tag).
pub fn refused(name: &str, status: u16) -> String {
    let uac = Uac::sipp("sipp", "[service]");
    format!(
        "{}{}  <recv response=\"{status}\"/>\n{}</scenario>\n",
        head(name),
        uac.invite(1).send_retrans(),
        uac.in_dialog("ACK", 1).direct(&uac).send()
    )
}

/// SIPp as the UA that starts the dialog: its From (tag included), its Contact, and the
/// user it calls (the INVITE's Request-URI and To, `sip:{callee}@[remote_ip]:[remote_port]`).
#[derive(Clone, Debug)]
pub struct Uac {
    from: String,
    contact: String,
    callee: String,
}

impl Uac {
    /// The IP-PBX's phone 1001 calling `[service]` (SIPp's `-s`), with SIPp's own tag.
    pub fn pbx() -> Uac {
        Uac {
            from: "<sip:1001@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]".into(),
            contact: "sip:1001@[local_ip]:[local_port]".into(),
            callee: "[service]".into(),
        }
    }

    /// SIPp as its built-in `uac` names itself (display name `sipp`, SIPp's own tag, a bare
    /// Contact URI), as user `user`, calling `callee`.
    pub fn sipp(user: &str, callee: &str) -> Uac {
        Uac {
            from: format!(
                "sipp <sip:{user}@[local_ip]:[local_port]>;tag=[pid]SIPpTag00[call_number]"
            ),
            contact: format!("sip:{user}@[local_ip]:[local_port]"),
            callee: callee.into(),
        }
    }

    /// A phone `user` whose From tag is `tag` (a tag of its own, so that another party
    /// can name the dialog, RFC 3891), calling `callee`; Contact `<sip:{user}@…>`.
    pub fn phone(user: &str, tag: &str, callee: &str) -> Uac {
        Uac {
            from: format!("<sip:{user}@[local_ip]:[local_port]>;tag={tag}"),
            contact: format!("<sip:{user}@[local_ip]:[local_port]>"),
            callee: callee.into(),
        }
    }

    /// The callee's URI: the INVITE's Request-URI.
    fn uri(&self) -> String {
        format!("sip:{}@[remote_ip]:[remote_port]", self.callee)
    }

    /// A request `method` with CSeq `cseq` and the fields every request of the dialog has.
    fn request(&self, method: &str, cseq: u32, uri: String, to: String) -> Request {
        Request {
            method: method.into(),
            uri,
            via: FRESH_VIA.into(),
            from: format!("From: {}", self.from),
            to,
            routes: false,
            cseq,
            contact: None,
            headers: Vec::new(),
            body: None,
        }
    }

    /// A request `method` with CSeq `cseq` outside a dialog (RFC 3261 §8.1.1): to the
    /// callee's URI, To without a tag; no Contact.
    pub fn outside(&self, method: &str, cseq: u32) -> Request {
        self.request(
            method,
            cseq,
            self.uri(),
            format!("To: <sip:{}@[remote_ip]:[remote_port]>", self.callee),
        )
    }

    /// The INVITE with CSeq `cseq` that starts the dialog (each INVITE of overlap
    /// dialling too, RFC 3578): [`Uac::outside`] with SIPp's Contact.
    pub fn invite(&self, cseq: u32) -> Request {
        self.outside("INVITE", cseq).contact(self)
    }

    /// A request `method` with CSeq `cseq` within the dialog the INVITE set up (RFC 3261
    /// §12.2.1.1): to the remote target the 2xx gave (`[next_url]`), To with the peer's
    /// tag (`[peer_tag_param]`); no Contact and no route set unless asked.
    pub fn in_dialog(&self, method: &str, cseq: u32) -> Request {
        self.request(
            method,
            cseq,
            "[next_url]".into(),
            format!(
                "To: <sip:{}@[remote_ip]:[remote_port]>[peer_tag_param]",
                self.callee
            ),
        )
    }

    /// The CANCEL of the INVITE with CSeq `cseq` (RFC 3261 §9.1): that INVITE's
    /// Request-URI, To and Via (`[last_Via:]`, echoed by its provisional response).
    pub fn cancel(&self, cseq: u32) -> Request {
        let mut r = self.outside("CANCEL", cseq);
        r.via = "[last_Via:]".into();
        r
    }

    /// The ACK of a non-2xx final response to the INVITE with CSeq `cseq` (RFC 3261
    /// §17.1.1.3): the INVITE's Request-URI and Via (`[last_Via:]`), the response's To
    /// (`[last_To:]`, with its tag).
    pub fn ack_failure(&self, cseq: u32) -> Request {
        let mut r = self.cancel(cseq);
        r.method = "ACK".into();
        r.to = "[last_To:]".into();
        r
    }
}

/// A Via with the branch SIPp makes for each message it sends.
const FRESH_VIA: &str = "Via: SIP/2.0/[transport] [local_ip]:[local_port];branch=[branch]";

/// A request SIPp sends (made by [`Uac`]), written as a `<send>` by [`Request::send`] or
/// [`Request::send_retrans`]. Its lines: request line, Via, From, To, the route set if
/// asked, Call-ID, CSeq, Contact if any, the extra header lines, Max-Forwards,
/// Content-Type and Content-Length, the body. The header lines are whole (`From: …`), or
/// a SIPp keyword that writes one (`[last_To:]`).
#[must_use]
#[derive(Clone, Debug)]
pub struct Request {
    method: String,
    uri: String,
    via: String,
    from: String,
    to: String,
    routes: bool,
    cseq: u32,
    contact: Option<String>,
    headers: Vec<String>,
    body: Option<String>,
}

impl Request {
    /// Sent to the callee's URI rather than the remote target (`[next_url]`).
    pub fn direct(mut self, uac: &Uac) -> Request {
        self.uri = uac.uri();
        self
    }

    /// With the To of the last response (`[last_To:]`, the peer's tag in it) for the
    /// dialog's To.
    pub fn last_to(mut self) -> Request {
        self.to = "[last_To:]".into();
        self
    }

    /// With the From of the last response (`[last_From:]`, our own From echoed).
    pub fn last_from(mut self) -> Request {
        self.from = "[last_From:]".into();
        self
    }

    /// With the route set the 2xx recorded (`[routes]`, RFC 3261 §12.2.1.1; the `<recv>`
    /// of the 2xx has `rrs="true"`).
    pub fn routes(mut self) -> Request {
        self.routes = true;
        self
    }

    /// With SIPp's Contact (a target refresh, or a REFER, carries it: RFC 3261 §12.2.1.1,
    /// RFC 3515 §2.4.1).
    pub fn contact(mut self, uac: &Uac) -> Request {
        self.contact = Some(uac.contact.clone());
        self
    }

    /// With the header line `line` (after Contact, before Max-Forwards), or a SIPp
    /// keyword that writes one (`[authentication …]`).
    pub fn header(mut self, line: &str) -> Request {
        self.headers.push(line.into());
        self
    }

    /// With the SDP `sdp` as body (`Content-Type: application/sdp`, `Content-Length:
    /// [len]`); each of its lines is written at the message's indentation.
    pub fn sdp(mut self, sdp: &str) -> Request {
        self.body = Some(sdp.into());
        self
    }

    /// A `<send>` of the request, sent once (an ACK is never retransmitted by itself,
    /// RFC 3261 §17.1.1.3, §13.2.2.4).
    pub fn send(&self) -> String {
        self.element("")
    }

    /// A `<send>` of the request retransmitted from 500 ms on until a response comes
    /// (RFC 3261 §17.1.1.2 Timer A for an INVITE, §17.1.2.2 Timer E for the others).
    pub fn send_retrans(&self) -> String {
        self.element(r#" retrans="500""#)
    }

    fn element(&self, attrs: &str) -> String {
        let Request {
            method,
            uri,
            via,
            from,
            to,
            cseq,
            ..
        } = self;
        let mut lines = vec![
            format!("{method} {uri} SIP/2.0"),
            via.clone(),
            from.clone(),
            to.clone(),
        ];
        if self.routes {
            lines.push("[routes]".into());
        }
        lines.push("Call-ID: [call_id]".into());
        lines.push(format!("CSeq: {cseq} {method}"));
        if let Some(c) = &self.contact {
            lines.push(format!("Contact: {c}"));
        }
        lines.extend(self.headers.iter().cloned());
        lines.push("Max-Forwards: 70".into());
        match &self.body {
            Some(_) => {
                lines.push("Content-Type: application/sdp".into());
                lines.push("Content-Length: [len]".into());
            }
            None => lines.push("Content-Length: 0".into()),
        }
        if let Some(body) = &self.body {
            lines.push(String::new());
            lines.extend(body.lines().map(|l| l.trim_start().to_string()));
        }
        let mut text = String::new();
        for l in lines {
            if l.is_empty() {
                text.push('\n');
            } else {
                text += &format!("      {l}\n");
            }
        }
        format!("  <send{attrs}>\n    <![CDATA[\n{text}\n    ]]>\n  </send>\n")
    }
}

/// A request `method` with CSeq `cseq` within the dialog [`invite`] set up: the phone's
/// [`Uac::in_dialog`] with the route set the 2xx recorded and the phone's Contact.
pub fn pbx_in_dialog(method: &str, cseq: u32) -> Request {
    let pbx = Uac::pbx();
    pbx.in_dialog(method, cseq).routes().contact(&pbx)
}

/// The phone hangs up: a BYE with CSeq `cseq` that says why (`Reason: Q.850;cause=16`,
/// RFC 3326), resent until answered.
pub fn bye(cseq: u32) -> String {
    pbx_in_dialog("BYE", cseq)
        .header("Reason: Q.850;cause=16")
        .send_retrans()
}

/// SIPp as the caller acknowledging the 200 OK of its INVITE (RFC 3261 §13.2.2.4), with
/// the route set the 200 recorded (`rrs="true"`).
pub fn ack_2xx() -> String {
    pbx_in_dialog("ACK", 1).send()
}
