//! A pcap writer for TCP segments over raw IPv4 (LINKTYPE_RAW = 101), with correct IPv4
//! and TCP checksums, so that tshark dissects what we emit as it would from the wire.

use std::net::SocketAddrV4;

pub struct PcapWriter {
    pub bytes: Vec<u8>,
    /// Next sequence number per direction (a→b, b→a).
    seq: [u32; 2],
    a: SocketAddrV4,
    b: SocketAddrV4,
    t: u32,
}

fn checksum(data: &[u8], mut sum: u32) -> u16 {
    let mut chunks = data.chunks_exact(2);
    for c in &mut chunks {
        sum += u16::from_be_bytes([c[0], c[1]]) as u32;
    }
    if let [last] = chunks.remainder() {
        sum += (*last as u32) << 8;
    }
    while sum >> 16 != 0 {
        sum = (sum & 0xFFFF) + (sum >> 16);
    }
    !(sum as u16)
}

impl PcapWriter {
    /// A TCP connection between `a` (the client) and `b`.
    pub fn new(a: SocketAddrV4, b: SocketAddrV4) -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&101u32.to_le_bytes()); // LINKTYPE_RAW
        let mut w = Self {
            bytes,
            seq: [1000, 5000],
            a,
            b,
            t: 0,
        };
        // Three-way handshake so that tshark sees a proper conversation.
        w.segment(true, 0x02, &[]);
        w.segment(false, 0x12, &[]);
        w.segment(true, 0x10, &[]);
        w
    }

    /// One TCP segment with PSH|ACK carrying `payload`.
    pub fn data(&mut self, from_a: bool, payload: &[u8]) {
        self.segment(from_a, 0x18, payload);
    }

    fn segment(&mut self, from_a: bool, flags: u8, payload: &[u8]) {
        let (src, dst, i) = if from_a {
            (self.a, self.b, 0)
        } else {
            (self.b, self.a, 1)
        };
        let seq = self.seq[i];
        let ack = if flags == 0x02 { 0 } else { self.seq[1 - i] };
        let syn = flags & 0x02 != 0;
        self.seq[i] = seq.wrapping_add(payload.len() as u32 + syn as u32);

        let mut tcp = Vec::with_capacity(20 + payload.len());
        tcp.extend_from_slice(&src.port().to_be_bytes());
        tcp.extend_from_slice(&dst.port().to_be_bytes());
        tcp.extend_from_slice(&seq.to_be_bytes());
        tcp.extend_from_slice(&ack.to_be_bytes());
        tcp.push(5 << 4);
        tcp.push(flags);
        tcp.extend_from_slice(&65535u16.to_be_bytes());
        tcp.extend_from_slice(&[0, 0, 0, 0]);
        tcp.extend_from_slice(payload);
        let mut pseudo = 0u32;
        for o in [src.ip().octets(), dst.ip().octets()] {
            pseudo +=
                u16::from_be_bytes([o[0], o[1]]) as u32 + u16::from_be_bytes([o[2], o[3]]) as u32;
        }
        pseudo += 6 + tcp.len() as u32;
        let c = checksum(&tcp, pseudo);
        tcp[16..18].copy_from_slice(&c.to_be_bytes());

        let total = 20 + tcp.len();
        let mut ip = Vec::with_capacity(total);
        ip.extend_from_slice(&[0x45, 0]);
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 6, 0, 0]);
        ip.extend_from_slice(&src.ip().octets());
        ip.extend_from_slice(&dst.ip().octets());
        let c = checksum(&ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&tcp);

        self.t += 1;
        self.bytes.extend_from_slice(&self.t.to_le_bytes());
        self.bytes.extend_from_slice(&0u32.to_le_bytes());
        self.bytes
            .extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&ip);
    }
}

/// A pcap of UDP datagrams over raw IPv4 (LINKTYPE_RAW), for RAS on port 1719.
pub struct UdpPcap {
    pub bytes: Vec<u8>,
    t: u32,
}

impl Default for UdpPcap {
    fn default() -> Self {
        Self::new()
    }
}

impl UdpPcap {
    pub fn new() -> Self {
        let mut bytes = Vec::new();
        bytes.extend_from_slice(&0xA1B2_C3D4u32.to_le_bytes());
        bytes.extend_from_slice(&2u16.to_le_bytes());
        bytes.extend_from_slice(&4u16.to_le_bytes());
        bytes.extend_from_slice(&0i32.to_le_bytes());
        bytes.extend_from_slice(&0u32.to_le_bytes());
        bytes.extend_from_slice(&65535u32.to_le_bytes());
        bytes.extend_from_slice(&101u32.to_le_bytes());
        Self { bytes, t: 0 }
    }

    pub fn datagram(&mut self, src: SocketAddrV4, dst: SocketAddrV4, payload: &[u8]) {
        let mut udp = Vec::with_capacity(8 + payload.len());
        udp.extend_from_slice(&src.port().to_be_bytes());
        udp.extend_from_slice(&dst.port().to_be_bytes());
        udp.extend_from_slice(&((8 + payload.len()) as u16).to_be_bytes());
        udp.extend_from_slice(&[0, 0]);
        udp.extend_from_slice(payload);
        let mut pseudo = 0u32;
        for o in [src.ip().octets(), dst.ip().octets()] {
            pseudo +=
                u16::from_be_bytes([o[0], o[1]]) as u32 + u16::from_be_bytes([o[2], o[3]]) as u32;
        }
        pseudo += 17 + udp.len() as u32;
        let mut c = checksum(&udp, pseudo);
        if c == 0 {
            c = 0xFFFF;
        }
        udp[6..8].copy_from_slice(&c.to_be_bytes());
        let total = 20 + udp.len();
        let mut ip = Vec::with_capacity(total);
        ip.extend_from_slice(&[0x45, 0]);
        ip.extend_from_slice(&(total as u16).to_be_bytes());
        ip.extend_from_slice(&[0, 0, 0x40, 0, 64, 17, 0, 0]);
        ip.extend_from_slice(&src.ip().octets());
        ip.extend_from_slice(&dst.ip().octets());
        let c = checksum(&ip, 0);
        ip[10..12].copy_from_slice(&c.to_be_bytes());
        ip.extend_from_slice(&udp);
        self.t += 1;
        self.bytes.extend_from_slice(&self.t.to_le_bytes());
        self.bytes.extend_from_slice(&0u32.to_le_bytes());
        self.bytes
            .extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.bytes
            .extend_from_slice(&(ip.len() as u32).to_le_bytes());
        self.bytes.extend_from_slice(&ip);
    }
}
