//! A stable, seeded stand-in for the `sdp` cargo-fuzz target: mutate real SDP bodies
//! (bytes flipped, lines dropped, duplicated, swapped, truncated, tokens spliced in)
//! and run every result through the parser and both sides of offer/answer. Nothing may
//! panic, and every SDP we produce must parse again.

use gateway::sdp::fuzzing::exercise;

const SEEDS: &[&str] = &[
    "v=0\r\no=root 702294668 702294668 IN IP4 192.168.0.158\r\ns=Asterisk PBX 1.8.32.6\r\nc=IN IP4 192.168.0.158\r\nt=0 0\r\nm=audio 10288 RTP/AVP 8 0 4 101\r\na=rtpmap:8 PCMA/8000\r\na=rtpmap:0 PCMU/8000\r\na=rtpmap:4 G723/8000\r\na=fmtp:4 annexa=no\r\na=rtpmap:101 telephone-event/8000\r\na=fmtp:101 0-16\r\na=ptime:20\r\na=sendrecv\r\n",
    "v=0\r\no=CiscoSystemsSIP-GW-UserAgent 3745 9509 IN IP4 10.0.0.2\r\ns=SIP Call\r\nc=IN IP4 10.0.0.2\r\nt=0 0\r\nm=image 17682 udptl t38\r\nc=IN IP4 10.0.0.2\r\na=T38FaxVersion:0\r\na=T38MaxBitRate:7200\r\na=T38FaxRateManagement:transferredTCF\r\na=T38FaxUdpEC:t38UDPRedundancy\r\n",
    "v=0\r\no=- 1 1 IN IP6 2001:db8::1\r\ns=-\r\nc=IN IP6 2001:db8::1\r\nt=0 0\r\na=sendonly\r\nm=audio 5004 RTP/AVP 0 8 96\r\na=rtpmap:96 telephone-event/8000\r\na=fmtp:96 0-11,16\r\na=rtcp:5005 IN IP6 2001:db8::2\r\na=maxptime:40\r\nm=video 0 RTP/AVP 31\r\nm=image 5006 udptl t38\r\n",
    "v=0\no=alice 2890844526 2890844526 IN IP4 host.atlanta.example.com\ns=\nc=IN IP4 0.0.0.0\nt=0 0\nm=audio 49170 RTP/SAVP 0 8 97\na=rtpmap:97 iLBC/8000\na=inactive\nm=audio 49172 RTP/AVP 8\n",
];

const TOKENS: &[&str] = &[
    "\r\n",
    "\n",
    "m=audio 0 RTP/AVP 8\r\n",
    "m=image 1 udptl t38\r\n",
    "c=IN IP4 0.0.0.0\r\n",
    "c=IN IP6 ::\r\n",
    "a=rtpmap:101 telephone-event/8000\r\n",
    "a=fmtp:101 0-255\r\n",
    "a=fmtp:101 16-0\r\n",
    "a=ptime:4294967296\r\n",
    "a=rtcp:\r\n",
    "a=sendonly\r\n",
    "a=inactive\r\n",
    "o=x 1 18446744073709551615 IN IP4 1.2.3.4\r\n",
    " ",
    "/",
    ":",
    "0",
    "65535",
    "65536",
    "-1",
    "\u{00e9}",
    "\0",
    "a=rtpmap:8 PCMA/0/0\r\n",
    "a=rtpmap:200 X/8000\r\n",
];

struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        // xorshift64*
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn mutate(rng: &mut Rng, input: &[u8]) -> Vec<u8> {
    let mut data = input.to_vec();
    for _ in 0..1 + rng.below(4) {
        match rng.below(7) {
            0 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] ^= 1 << rng.below(8);
            }
            1 if !data.is_empty() => {
                let i = rng.below(data.len());
                data[i] = rng.next() as u8;
            }
            2 => {
                let i = rng.below(data.len() + 1);
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                data.splice(i..i, t.iter().copied());
            }
            3 => {
                let i = rng.below(data.len() + 1);
                data.truncate(i);
            }
            _ => {
                // Line-level: drop, duplicate or swap lines.
                let mut lines: Vec<Vec<u8>> = data
                    .split_inclusive(|b| *b == b'\n')
                    .map(|l| l.to_vec())
                    .collect();
                if lines.len() > 1 {
                    let a = rng.below(lines.len());
                    let b = rng.below(lines.len());
                    match rng.below(3) {
                        0 => {
                            lines.remove(a);
                        }
                        1 => {
                            let l = lines[a].clone();
                            lines.insert(b, l);
                        }
                        _ => lines.swap(a, b),
                    }
                }
                data = lines.concat();
            }
        }
    }
    data
}

#[test]
fn mutated_real_bodies_never_panic() {
    let mut rng = Rng(0x5D9_2026);
    for seed in SEEDS {
        exercise(seed.as_bytes());
    }
    let mut parsed = 0;
    for i in 0..6_000 {
        let base = SEEDS[i % SEEDS.len()].as_bytes();
        let data = mutate(&mut rng, base);
        if gateway::sdp::SessionDescription::parse(&data).is_ok() {
            parsed += 1;
        }
        exercise(&data);
    }
    // The mutations must leave enough valid bodies to exercise offer/answer.
    assert!(parsed > 1_500, "only {parsed} mutated bodies parsed");
}

#[test]
fn corpus_files_never_panic() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/sdp_corpus");
    let mut n = 0;
    for e in std::fs::read_dir(dir).unwrap() {
        let data = std::fs::read(e.unwrap().path()).unwrap();
        exercise(&data);
        n += 1;
    }
    assert!(n >= 4);
}
