//! A hand-written aligned-PER codec (ITU-T X.691 (02/2021), ALIGNED variant) for the
//! `H323-UserInformation` of a Setup (H.225.0 §7.3.10, the message that starts every
//! call), next to rasn's generic one, which stays the reference.
//!
//! It reads and writes the same generated types (`h323_asn1::h225`) as rasn, so what
//! it decodes is the value rasn decodes and what it encodes is the octets rasn encodes
//! (`tests/setup_per.rs` checks both over every message of the test corpus). It covers
//! the message through these types, each for every value:
//! `H323-UserInformation` (with `user-data`), `H323-UU-PDU` (`nonStandardData` and the
//! extension additions `h4501SupplementaryService`, `h245Tunnelling`, `h245Control`,
//! `nonStandardControl`, `provisionalRespToH245Tunnelling`), the `setup` alternative of
//! `h323-message-body`, `Setup-UUIE` (its root components but `callServices`, and the
//! extension additions `sourceCallSignalAddress`, `remoteExtensionAddress`,
//! `callIdentifier`, `fastStart`, `mediaWaitForConnect`, `canOverlapSend`,
//! `endpointIdentifier`, `multipleCalls`, `maintainConnection`,
//! `symmetricOperationRequired`, `parallelH245Control`, `hopCount`), `EndpointType`
//! (but `supportedTunnelledProtocols` and `GatewayInfo.protocol`), `VendorIdentifier`,
//! `H221NonStandard`, `NonStandardParameter`, `NonStandardIdentifier`,
//! `GatekeeperInfo`, `GatewayInfo`, `McuInfo` (but `protocol`), `TerminalInfo`,
//! `AliasAddress` (`dialledDigits`, `h323-ID`, `url-ID`, `transportID`, `email-ID`),
//! `TransportAddress` (but `ipSourceRoute`), `CallIdentifier`, `ConferenceIdentifier`,
//! `conferenceGoal`, `CallType`.
//!
//! Anything else gives `None` and the caller uses rasn for the whole message: another
//! message body, a component or alternative not listed, an extension bit-map of
//! another length than this module's (a peer with an older or newer H.225.0), a
//! constraint violation, an encoding that is not the canonical one (non-zero padding,
//! a length in a longer form than needed, a fragmented length), trailing octets. So
//! errors are always rasn's, and this codec only ever answers where it is sure to
//! agree with it.

use h323_asn1::h225 as asn;
use h323_asn1::rasn::types::{
    BitString, BmpString, FixedOctetString, Ia5String, ObjectIdentifier, OctetString,
};

// ---------------------------------------------------------------------------------
// Bit reader

/// Reads a complete aligned-PER encoding, most significant bit first.
struct Reader<'a> {
    buf: &'a [u8],
    /// Position in bits.
    pos: usize,
}

impl<'a> Reader<'a> {
    fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    fn bit(&mut self) -> Option<bool> {
        let byte = *self.buf.get(self.pos / 8)?;
        let b = byte & (0x80 >> (self.pos % 8)) != 0;
        self.pos += 1;
        Some(b)
    }

    /// `n` ≤ 32 bits as an unsigned number.
    fn bits(&mut self, n: usize) -> Option<u32> {
        let mut v = 0u32;
        for _ in 0..n {
            v = (v << 1) | u32::from(self.bit()?);
        }
        Some(v)
    }

    /// X.691 §11.1.5 octet alignment; the padding bits must be zero.
    fn align(&mut self) -> Option<()> {
        while self.pos % 8 != 0 {
            if self.bit()? {
                return None;
            }
        }
        Some(())
    }

    fn octets(&mut self, n: usize) -> Option<&'a [u8]> {
        self.align()?;
        let start = self.pos / 8;
        let s = self.buf.get(start..start.checked_add(n)?)?;
        self.pos += n * 8;
        Some(s)
    }

    /// X.691 §11.5.7: a constrained whole number with `range` values (2..=65536), as
    /// the offset from the lower bound.
    fn constrained(&mut self, range: u32) -> Option<u32> {
        let v = match range {
            0 | 1 => 0,
            2..=255 => self.bits(bits_for(range))?,
            256 => u32::from(self.octets(1)?[0]),
            257..=65536 => {
                let o = self.octets(2)?;
                u32::from(u16::from_be_bytes([o[0], o[1]]))
            }
            _ => return None,
        };
        (v < range).then_some(v)
    }

    /// X.691 §11.9.3.6-8: an unconstrained length below 16K, in its shortest form.
    fn length(&mut self) -> Option<usize> {
        let first = self.octets(1)?[0];
        if first & 0x80 == 0 {
            return Some(usize::from(first));
        }
        if first & 0xC0 == 0x80 {
            let n = usize::from(u16::from_be_bytes([first & 0x3F, self.octets(1)?[0]]));
            return (n >= 128).then_some(n);
        }
        None // fragmented (16K or more)
    }

    /// X.691 §11.6: a normally small non-negative whole number (below 64 only).
    fn normally_small(&mut self) -> Option<u32> {
        if self.bit()? {
            return None;
        }
        self.bits(6)
    }

    /// X.691 §11.2: an open type's contents, decoded by `f` as a complete encoding
    /// (§11.1.3-4): all of it used, zero padding, one zero octet for nothing.
    fn open<T>(&mut self, f: impl FnOnce(&mut Reader<'a>) -> Option<T>) -> Option<T> {
        let n = self.length()?;
        let contents = self.octets(n)?;
        let mut inner = Reader::new(contents);
        let v = f(&mut inner)?;
        inner.finish()?;
        Some(v)
    }

    /// The end of a complete encoding: only zero padding left, and at least one octet.
    fn finish(&mut self) -> Option<()> {
        if self.buf.is_empty() {
            return None;
        }
        if self.pos == 0 {
            // Nothing was encoded: X.691 §11.1.3 requires a single zero octet.
            return (self.buf == [0]).then_some(());
        }
        self.align()?;
        (self.pos == self.buf.len() * 8).then_some(())
    }

    /// The extension bit-map of a SEQUENCE (X.691 §19.7-8), if it has exactly `n` bits,
    /// names at least one addition (§19.7: the extension bit says some are present) and
    /// only additions in `covered` (the others are rasn's to decode).
    fn extension_bitmap(&mut self, n: usize, covered: u64) -> Option<u64> {
        if self.normally_small()? as usize + 1 != n {
            return None;
        }
        let mut map = 0u64;
        for i in 0..n {
            if self.bit()? {
                map |= 1 << i;
            }
        }
        (map != 0 && map & !covered == 0).then_some(map)
    }
}

/// The positions of the bits set in an extension bit-map, lowest first (the order the
/// open types follow, X.691 §19).
fn set_bits(map: u64) -> impl Iterator<Item = usize> {
    (0..64).filter(move |i| map & (1 << i) != 0)
}

/// Bits of a constrained whole number with `range` values (X.691 §11.5.7.2 bit-field).
fn bits_for(range: u32) -> usize {
    (32 - (range - 1).leading_zeros()) as usize
}

// ---------------------------------------------------------------------------------
// Bit writer

/// Appends an aligned-PER encoding to a vector that may already hold other octets
/// (the Q.931 frame); alignment counts from where the encoding starts.
struct Writer<'a> {
    out: &'a mut Vec<u8>,
    /// Bits written (the last octet of `out` is partly used when this is not a
    /// multiple of 8).
    bits: usize,
}

impl<'a> Writer<'a> {
    fn new(out: &'a mut Vec<u8>) -> Self {
        Self { out, bits: 0 }
    }

    fn bit(&mut self, b: bool) {
        if self.bits % 8 == 0 {
            self.out.push(0);
        }
        if b {
            *self.out.last_mut().expect("pushed") |= 0x80 >> (self.bits % 8);
        }
        self.bits += 1;
    }

    fn bits(&mut self, v: u32, n: usize) {
        for i in (0..n).rev() {
            self.bit((v >> i) & 1 != 0);
        }
    }

    fn align(&mut self) {
        self.bits = self.bits.next_multiple_of(8);
    }

    fn octets(&mut self, o: &[u8]) {
        self.align();
        self.out.extend_from_slice(o);
        self.bits += o.len() * 8;
    }

    fn constrained(&mut self, v: u32, range: u32) -> Option<()> {
        if v >= range {
            return None;
        }
        match range {
            0 | 1 => {}
            2..=255 => self.bits(v, bits_for(range)),
            256 => self.octets(&[v as u8]),
            257..=65536 => self.octets(&(v as u16).to_be_bytes()),
            _ => return None,
        }
        Some(())
    }

    fn length(&mut self, n: usize) -> Option<()> {
        match n {
            0..=127 => self.octets(&[n as u8]),
            128..=16383 => self.octets(&(0x8000 | n as u16).to_be_bytes()),
            _ => return None,
        }
        Some(())
    }

    fn normally_small(&mut self, v: u32) -> Option<()> {
        if v > 63 {
            return None;
        }
        self.bit(false);
        self.bits(v, 6);
        Some(())
    }

    /// An open type (X.691 §11.2): the complete encoding of what `f` writes, behind
    /// its length.
    fn open(&mut self, f: impl FnOnce(&mut Self) -> Option<()>) -> Option<()> {
        self.align();
        let len_at = self.out.len();
        self.out.push(0);
        self.bits += 8;
        let start = self.out.len();
        f(self)?;
        self.align();
        if self.out.len() == start {
            self.out.push(0);
            self.bits += 8;
        }
        let n = self.out.len() - start;
        match n {
            0..=127 => self.out[len_at] = n as u8,
            128..=16383 => {
                let l = (0x8000 | n as u16).to_be_bytes();
                self.out[len_at] = l[0];
                self.out.insert(len_at + 1, l[1]);
                self.bits += 8;
            }
            _ => return None,
        }
        Some(())
    }

    fn extension_bitmap(&mut self, present: &[bool]) -> Option<()> {
        self.normally_small(present.len() as u32 - 1)?;
        for &p in present {
            self.bit(p);
        }
        Some(())
    }

    /// X.691 §11.1.3-4: the complete encoding (zero padding; one zero octet for none).
    fn finish(&mut self) {
        if self.bits == 0 {
            self.out.push(0);
            self.bits = 8;
        }
        self.align();
    }
}

// ---------------------------------------------------------------------------------
// Entry points

/// Decodes `data` if it is a Setup this codec covers, else `None` (use rasn).
pub fn decode(data: &[u8]) -> Option<asn::H323UserInformation> {
    let mut r = Reader::new(data);
    let v = dec_user_information(&mut r)?;
    r.finish()?;
    Some(v)
}

/// Appends the encoding of `v` to `out` if it is a Setup this codec covers, else
/// leaves `out` as it was and returns `None` (use rasn).
pub fn encode(v: &asn::H323UserInformation, out: &mut Vec<u8>) -> Option<()> {
    let before = out.len();
    let mut w = Writer::new(out);
    let done = enc_user_information(v, &mut w).map(|()| w.finish());
    if done.is_none() {
        out.truncate(before);
    }
    done
}

// ---------------------------------------------------------------------------------
// Leaf types

fn dec_bool(r: &mut Reader) -> Option<bool> {
    r.bit()
}

/// OCTET STRING without a PER-visible size constraint (X.691 §17.8).
fn dec_octet_string(r: &mut Reader) -> Option<OctetString> {
    let n = r.length()?;
    Some(OctetString::from_slice(r.octets(n)?))
}

fn enc_octet_string(o: &[u8], w: &mut Writer) -> Option<()> {
    w.length(o.len())?;
    w.octets(o);
    Some(())
}

/// OCTET STRING (SIZE (lb..ub)), ub < 64K, lb < ub (X.691 §17.8, constrained length).
fn dec_octet_string_sized(r: &mut Reader, lb: usize, ub: usize) -> Option<OctetString> {
    let n = lb + r.constrained((ub - lb + 1) as u32)? as usize;
    Some(OctetString::from_slice(r.octets(n)?))
}

fn enc_octet_string_sized(o: &[u8], lb: usize, ub: usize, w: &mut Writer) -> Option<()> {
    if o.len() < lb || o.len() > ub {
        return None;
    }
    w.constrained((o.len() - lb) as u32, (ub - lb + 1) as u32)?;
    w.octets(o);
    Some(())
}

/// OCTET STRING (SIZE (n)): octet-aligned when n > 2 (X.691 §17.6-7); only n > 2 here.
fn dec_octet_string_fixed(r: &mut Reader, n: usize) -> Option<OctetString> {
    Some(OctetString::from_slice(r.octets(n)?))
}

fn enc_octet_string_fixed(o: &[u8], n: usize, w: &mut Writer) -> Option<()> {
    if o.len() != n {
        return None;
    }
    w.octets(o);
    Some(())
}

/// SEQUENCE OF without a PER-visible size constraint (X.691 §20.6): the number of
/// components as an unconstrained length, then each component as `dec` reads it.
fn dec_sequence_of<'a, T>(
    r: &mut Reader<'a>,
    mut dec: impl FnMut(&mut Reader<'a>) -> Option<T>,
) -> Option<Vec<T>> {
    let n = r.length()?;
    let mut v = Vec::with_capacity(n);
    for _ in 0..n {
        v.push(dec(r)?);
    }
    Some(v)
}

fn enc_sequence_of<T>(
    v: &[T],
    mut enc: impl FnMut(&T, &mut Writer) -> Option<()>,
    w: &mut Writer,
) -> Option<()> {
    w.length(v.len())?;
    for x in v {
        enc(x, w)?;
    }
    Some(())
}

/// SEQUENCE OF OCTET STRING (no size constraints).
fn dec_octet_strings(r: &mut Reader) -> Option<Vec<OctetString>> {
    dec_sequence_of(r, dec_octet_string)
}

fn enc_octet_strings(v: &[OctetString], w: &mut Writer) -> Option<()> {
    enc_sequence_of(v, |o, w| enc_octet_string(o, w), w)
}

/// OBJECT IDENTIFIER (X.691 §24: the X.690 contents octets behind an unconstrained
/// length). Only the minimal form of each arc, within u32.
fn dec_oid(r: &mut Reader) -> Option<ObjectIdentifier> {
    let n = r.length()?;
    let o = r.octets(n)?;
    if o.is_empty() {
        return None;
    }
    let mut arcs = Vec::with_capacity(o.len() + 1);
    let mut i = 0;
    while i < o.len() {
        if o[i] == 0x80 {
            return None; // a leading zero group
        }
        let mut v: u32 = 0;
        loop {
            let b = *o.get(i)?;
            i += 1;
            if v > (u32::MAX >> 7) {
                return None;
            }
            v = (v << 7) | u32::from(b & 0x7F);
            if b & 0x80 == 0 {
                break;
            }
        }
        if arcs.is_empty() {
            // X.690 §8.19.4: the first subidentifier is X*40 + Y.
            let (x, y) = if v >= 80 {
                (2, v - 80)
            } else {
                (v / 40, v % 40)
            };
            arcs.push(x);
            arcs.push(y);
        } else {
            arcs.push(v);
        }
    }
    ObjectIdentifier::new(arcs)
}

fn enc_oid(oid: &ObjectIdentifier, w: &mut Writer) -> Option<()> {
    let arcs: &[u32] = oid;
    let (&x, rest) = arcs.split_first()?;
    let (&y, rest) = rest.split_first()?;
    if x > 2 || (x < 2 && y > 39) {
        return None;
    }
    let mut buf = [0u8; 64];
    let mut n = 0;
    let first = x.checked_mul(40)?.checked_add(y)?;
    for arc in std::iter::once(first).chain(rest.iter().copied()) {
        let groups = (32 - arc.leading_zeros()).div_ceil(7).max(1) as usize;
        if n + groups > buf.len() {
            return None;
        }
        for g in (0..groups).rev() {
            let more = if g > 0 { 0x80 } else { 0 };
            buf[n] = more | ((arc >> (7 * g)) & 0x7F) as u8;
            n += 1;
        }
    }
    enc_octet_string(&buf[..n], w)
}

/// dialledDigits: IA5String (SIZE (1..128)) (FROM ("0123456789#*,")). Thirteen
/// characters: 4-bit indices into the sorted alphabet (X.691 §30.5.4-5), octet-aligned
/// (§30.5.7: 128 × 4 bits ≥ 16).
const DIALLED: &[u8; 13] = b"#*,0123456789";

fn dec_dialled(r: &mut Reader) -> Option<Ia5String> {
    let n = 1 + r.constrained(128)? as usize;
    r.align()?;
    let mut s = Vec::with_capacity(n);
    for _ in 0..n {
        s.push(*DIALLED.get(r.bits(4)? as usize)?);
    }
    Ia5String::from_iso646_bytes(&s).ok()
}

fn enc_dialled(s: &Ia5String, w: &mut Writer) -> Option<()> {
    let b = s.as_iso646_bytes();
    if b.is_empty() || b.len() > 128 {
        return None;
    }
    w.constrained(b.len() as u32 - 1, 128)?;
    w.align();
    for c in b {
        let i = DIALLED.iter().position(|d| d == c)?;
        w.bits(i as u32, 4);
    }
    Some(())
}

/// IA5String (SIZE (1..512)) (url-ID, email-ID): 8-bit characters in the aligned
/// variant (X.691 §30.5.3), their own values (§30.5.4), length 2 octets aligned.
fn dec_ia5_512(r: &mut Reader) -> Option<Ia5String> {
    let n = 1 + r.constrained(512)? as usize;
    let o = r.octets(n)?;
    if o.iter().any(|&c| c > 0x7F) {
        return None;
    }
    Ia5String::from_iso646_bytes(o).ok()
}

fn enc_ia5_512(s: &Ia5String, w: &mut Writer) -> Option<()> {
    let b = s.as_iso646_bytes();
    if b.is_empty() || b.len() > 512 || b.iter().any(|&c| c > 0x7F) {
        return None;
    }
    w.constrained(b.len() as u32 - 1, 512)?;
    w.octets(b);
    Some(())
}

/// BMPString (SIZE (1..ub)): 16-bit characters (X.691 §30.5.3), rasn's alphabet
/// 0..=0xFFFD.
fn dec_bmp(r: &mut Reader, ub: usize) -> Option<BmpString> {
    let n = 1 + r.constrained(ub as u32)? as usize;
    let o = r.octets(n * 2)?;
    if o.chunks_exact(2).any(|c| c[0] == 0xFF && c[1] >= 0xFE) {
        return None;
    }
    BmpString::try_from(o).ok()
}

fn enc_bmp(s: &BmpString, ub: usize, w: &mut Writer) -> Option<()> {
    let chars: &Vec<u16> = s;
    if chars.is_empty() || chars.len() > ub || chars.iter().any(|&c| c >= 0xFFFE) {
        return None;
    }
    w.constrained(chars.len() as u32 - 1, ub as u32)?;
    w.align();
    for &c in chars {
        w.out.extend_from_slice(&c.to_be_bytes());
        w.bits += 16;
    }
    Some(())
}

fn dec_u16(r: &mut Reader) -> Option<u16> {
    Some(r.constrained(65536)? as u16)
}

fn enc_u16(v: u16, w: &mut Writer) -> Option<()> {
    w.constrained(u32::from(v), 65536)
}

fn dec_u8(r: &mut Reader) -> Option<u8> {
    Some(r.constrained(256)? as u8)
}

fn enc_u8(v: u8, w: &mut Writer) -> Option<()> {
    w.constrained(u32::from(v), 256)
}

fn dec_guid(r: &mut Reader) -> Option<asn::GloballyUniqueID> {
    let o: [u8; 16] = r.octets(16)?.try_into().ok()?;
    Some(asn::GloballyUniqueID(FixedOctetString::new(o)))
}

fn enc_guid(g: &asn::GloballyUniqueID, w: &mut Writer) -> Option<()> {
    w.octets(&g.0[..]);
    Some(())
}

// ---------------------------------------------------------------------------------
// Constructed types. A SEQUENCE: extension bit if extensible, one bit per OPTIONAL
// root component, the root components, then (extension bit set) the bit-map and each
// present addition as an open type (X.691 §19).

/// H221NonStandard ::= SEQUENCE { t35CountryCode INTEGER(0..255), t35Extension
/// INTEGER(0..255), manufacturerCode INTEGER(0..65535), ... }
fn dec_h221(r: &mut Reader) -> Option<asn::H221NonStandard> {
    if r.bit()? {
        return None;
    }
    Some(asn::H221NonStandard::new(
        dec_u8(r)?,
        dec_u8(r)?,
        dec_u16(r)?,
    ))
}

fn enc_h221(v: &asn::H221NonStandard, w: &mut Writer) -> Option<()> {
    w.bit(false);
    enc_u8(v.t35_country_code, w)?;
    enc_u8(v.t35_extension, w)?;
    enc_u16(v.manufacturer_code, w)
}

/// NonStandardParameter ::= SEQUENCE { nonStandardIdentifier CHOICE { object OBJECT
/// IDENTIFIER, h221NonStandard H221NonStandard, ... }, data OCTET STRING }
fn dec_non_standard(r: &mut Reader) -> Option<asn::NonStandardParameter> {
    if r.bit()? {
        return None; // an extension alternative of NonStandardIdentifier
    }
    let id = match r.constrained(2)? {
        0 => asn::NonStandardIdentifier::object(dec_oid(r)?),
        _ => asn::NonStandardIdentifier::h221NonStandard(dec_h221(r)?),
    };
    Some(asn::NonStandardParameter::new(id, dec_octet_string(r)?))
}

fn enc_non_standard(v: &asn::NonStandardParameter, w: &mut Writer) -> Option<()> {
    w.bit(false);
    match &v.non_standard_identifier {
        asn::NonStandardIdentifier::object(o) => {
            w.constrained(0, 2)?;
            enc_oid(o, w)?;
        }
        asn::NonStandardIdentifier::h221NonStandard(h) => {
            w.constrained(1, 2)?;
            enc_h221(h, w)?;
        }
        #[allow(unreachable_patterns)]
        _ => return None,
    }
    enc_octet_string(&v.data, w)
}

/// GatekeeperInfo, TerminalInfo: SEQUENCE { nonStandardData NonStandardParameter
/// OPTIONAL, ... } without extension additions.
fn dec_non_standard_only(r: &mut Reader) -> Option<Option<asn::NonStandardParameter>> {
    if r.bit()? {
        return None;
    }
    let present = r.bit()?;
    present
        .then(|| dec_non_standard(r))
        .map_or(Some(None), |v| v.map(Some))
}

fn enc_non_standard_only(v: Option<&asn::NonStandardParameter>, w: &mut Writer) -> Option<()> {
    w.bit(false);
    w.bit(v.is_some());
    v.map_or(Some(()), |v| enc_non_standard(v, w))
}

/// Decodes an optional component whose presence bit was read.
fn opt<T>(present: bool, f: impl FnOnce() -> Option<T>) -> Option<Option<T>> {
    if present {
        f().map(Some)
    } else {
        Some(None)
    }
}

/// VendorIdentifier ::= SEQUENCE { vendor H221NonStandard, productId OCTET
/// STRING(SIZE (1..256)) OPTIONAL, versionId OCTET STRING(SIZE (1..256)) OPTIONAL, ...,
/// enterpriseNumber OBJECT IDENTIFIER OPTIONAL }
fn dec_vendor(r: &mut Reader) -> Option<asn::VendorIdentifier> {
    let ext = r.bit()?;
    let (p_product, p_version) = (r.bit()?, r.bit()?);
    let vendor = dec_h221(r)?;
    let product = opt(p_product, || dec_octet_string_sized(r, 1, 256))?;
    let version = opt(p_version, || dec_octet_string_sized(r, 1, 256))?;
    let mut enterprise = None;
    if ext {
        r.extension_bitmap(1, 0b1)?;
        enterprise = Some(r.open(dec_oid)?);
    }
    Some(asn::VendorIdentifier::new(
        vendor, product, version, enterprise,
    ))
}

fn enc_vendor(v: &asn::VendorIdentifier, w: &mut Writer) -> Option<()> {
    w.bit(v.enterprise_number.is_some());
    w.bit(v.product_id.is_some());
    w.bit(v.version_id.is_some());
    enc_h221(&v.vendor, w)?;
    if let Some(p) = &v.product_id {
        enc_octet_string_sized(p, 1, 256, w)?;
    }
    if let Some(p) = &v.version_id {
        enc_octet_string_sized(p, 1, 256, w)?;
    }
    if let Some(e) = &v.enterprise_number {
        w.extension_bitmap(&[true])?;
        w.open(|w| enc_oid(e, w))?;
    }
    Some(())
}

/// TransportAddress (H.225.0 §7.6): every root alternative but ipSourceRoute.
fn dec_transport(r: &mut Reader) -> Option<asn::TransportAddress> {
    use asn::TransportAddress as T;
    if r.bit()? {
        return None;
    }
    Some(match r.constrained(7)? {
        0 => {
            let ip = dec_octet_string_fixed(r, 4)?;
            T::ipAddress(asn::TransportAddressIpAddress::new(ip, dec_u16(r)?))
        }
        2 => {
            let node = dec_octet_string_fixed(r, 6)?;
            let netnum = dec_octet_string_fixed(r, 4)?;
            // OCTET STRING (SIZE (2)): not octet-aligned (X.691 §17.6).
            let port = [r.bits(8)? as u8, r.bits(8)? as u8];
            T::ipxAddress(asn::TransportAddressIpxAddress::new(
                node,
                netnum,
                OctetString::from_slice(&port),
            ))
        }
        3 => {
            if r.bit()? {
                return None;
            }
            let ip = dec_octet_string_fixed(r, 16)?;
            T::ip6Address(asn::TransportAddressIp6Address::new(ip, dec_u16(r)?))
        }
        4 => T::netBios(dec_octet_string_fixed(r, 16)?),
        5 => T::nsap(dec_octet_string_sized(r, 1, 20)?),
        6 => T::nonStandardAddress(dec_non_standard(r)?),
        _ => return None,
    })
}

fn enc_transport(v: &asn::TransportAddress, w: &mut Writer) -> Option<()> {
    use asn::TransportAddress as T;
    w.bit(false);
    match v {
        T::ipAddress(a) => {
            w.constrained(0, 7)?;
            enc_octet_string_fixed(&a.ip, 4, w)?;
            enc_u16(a.port, w)
        }
        T::ipxAddress(a) => {
            w.constrained(2, 7)?;
            enc_octet_string_fixed(&a.node, 6, w)?;
            enc_octet_string_fixed(&a.netnum, 4, w)?;
            if a.port.len() != 2 {
                return None;
            }
            w.bits(u32::from(a.port[0]), 8);
            w.bits(u32::from(a.port[1]), 8);
            Some(())
        }
        T::ip6Address(a) => {
            w.constrained(3, 7)?;
            w.bit(false);
            enc_octet_string_fixed(&a.ip, 16, w)?;
            enc_u16(a.port, w)
        }
        T::netBios(o) => {
            w.constrained(4, 7)?;
            enc_octet_string_fixed(o, 16, w)
        }
        T::nsap(o) => {
            w.constrained(5, 7)?;
            enc_octet_string_sized(o, 1, 20, w)
        }
        T::nonStandardAddress(n) => {
            w.constrained(6, 7)?;
            enc_non_standard(n, w)
        }
        _ => None,
    }
}

/// AliasAddress (H.225.0 §7.6): dialledDigits and h323-ID in the root; url-ID,
/// transportID and email-ID, the first extension alternatives, as open types.
fn dec_alias(r: &mut Reader) -> Option<asn::AliasAddress> {
    use asn::AliasAddress as A;
    if !r.bit()? {
        return Some(match r.constrained(2)? {
            0 => A::dialledDigits(dec_dialled(r)?),
            _ => A::h323_ID(dec_bmp(r, 256)?),
        });
    }
    match r.normally_small()? {
        0 => Some(A::url_ID(r.open(dec_ia5_512)?)),
        1 => Some(A::transportID(r.open(dec_transport)?)),
        2 => Some(A::email_ID(r.open(dec_ia5_512)?)),
        _ => None,
    }
}

fn enc_alias(v: &asn::AliasAddress, w: &mut Writer) -> Option<()> {
    use asn::AliasAddress as A;
    match v {
        A::dialledDigits(s) => {
            w.bit(false);
            w.constrained(0, 2)?;
            enc_dialled(s, w)
        }
        A::h323_ID(s) => {
            w.bit(false);
            w.constrained(1, 2)?;
            enc_bmp(s, 256, w)
        }
        A::url_ID(s) => {
            w.bit(true);
            w.normally_small(0)?;
            w.open(|w| enc_ia5_512(s, w))
        }
        A::transportID(t) => {
            w.bit(true);
            w.normally_small(1)?;
            w.open(|w| enc_transport(t, w))
        }
        A::email_ID(s) => {
            w.bit(true);
            w.normally_small(2)?;
            w.open(|w| enc_ia5_512(s, w))
        }
        _ => None,
    }
}

/// SEQUENCE OF AliasAddress.
fn dec_aliases(r: &mut Reader) -> Option<Vec<asn::AliasAddress>> {
    dec_sequence_of(r, dec_alias)
}

fn enc_aliases(v: &[asn::AliasAddress], w: &mut Writer) -> Option<()> {
    enc_sequence_of(v, enc_alias, w)
}

/// EndpointType (H.225.0 §7.6): all of it but supportedTunnelledProtocols and the
/// protocol lists of GatewayInfo and McuInfo.
fn dec_endpoint(r: &mut Reader) -> Option<asn::EndpointType> {
    let ext = r.bit()?;
    let mut p = [false; 6];
    for b in &mut p {
        *b = r.bit()?;
    }
    let non_standard = opt(p[0], || dec_non_standard(r))?;
    let vendor = opt(p[1], || dec_vendor(r))?;
    let gatekeeper = opt(p[2], || {
        dec_non_standard_only(r).map(asn::GatekeeperInfo::new)
    })?;
    let gateway = opt(p[3], || {
        // GatewayInfo ::= SEQUENCE { protocol ... OPTIONAL, nonStandardData ... OPTIONAL, ... }
        if r.bit()? || r.bit()? {
            return None;
        }
        let ns = opt(r.bit()?, || dec_non_standard(r))?;
        Some(asn::GatewayInfo::new(None, ns))
    })?;
    let mcu = opt(p[4], || {
        // McuInfo ::= SEQUENCE { nonStandardData ... OPTIONAL, ..., protocol ... OPTIONAL }
        dec_non_standard_only(r).map(|ns| asn::McuInfo::new(ns, None))
    })?;
    let terminal = opt(p[5], || {
        dec_non_standard_only(r).map(asn::TerminalInfo::new)
    })?;
    let mc = dec_bool(r)?;
    let undefined_node = dec_bool(r)?;
    let mut set = None;
    if ext {
        // Only `set` is covered.
        r.extension_bitmap(2, 0b01)?;
        set = Some(r.open(|r| {
            // BIT STRING (SIZE (32)): fixed, octet-aligned (X.691 §16.10).
            Some(BitString::from_slice(r.octets(4)?))
        })?);
    }
    Some(asn::EndpointType::new(
        non_standard,
        vendor,
        gatekeeper,
        gateway,
        mcu,
        terminal,
        mc,
        undefined_node,
        set,
        None,
    ))
}

fn enc_endpoint(v: &asn::EndpointType, w: &mut Writer) -> Option<()> {
    if v.supported_tunnelled_protocols.is_some()
        || v.gateway.as_ref().is_some_and(|g| g.protocol.is_some())
        || v.mcu.as_ref().is_some_and(|m| m.protocol.is_some())
    {
        return None;
    }
    w.bit(v.set.is_some());
    w.bit(v.non_standard_data.is_some());
    w.bit(v.vendor.is_some());
    w.bit(v.gatekeeper.is_some());
    w.bit(v.gateway.is_some());
    w.bit(v.mcu.is_some());
    w.bit(v.terminal.is_some());
    if let Some(n) = &v.non_standard_data {
        enc_non_standard(n, w)?;
    }
    if let Some(x) = &v.vendor {
        enc_vendor(x, w)?;
    }
    if let Some(x) = &v.gatekeeper {
        enc_non_standard_only(x.non_standard_data.as_ref(), w)?;
    }
    if let Some(x) = &v.gateway {
        w.bit(false);
        w.bit(false);
        w.bit(x.non_standard_data.is_some());
        if let Some(n) = &x.non_standard_data {
            enc_non_standard(n, w)?;
        }
    }
    if let Some(x) = &v.mcu {
        enc_non_standard_only(x.non_standard_data.as_ref(), w)?;
    }
    if let Some(x) = &v.terminal {
        enc_non_standard_only(x.non_standard_data.as_ref(), w)?;
    }
    w.bit(v.mc);
    w.bit(v.undefined_node);
    if let Some(set) = &v.set {
        if set.len() != 32 {
            return None;
        }
        w.extension_bitmap(&[true, false])?;
        w.open(|w| {
            w.align();
            for b in set.iter().by_vals() {
                w.bit(b);
            }
            Some(())
        })?;
    }
    Some(())
}

/// CallIdentifier ::= SEQUENCE { guid GloballyUniqueID, ... }
fn dec_call_identifier(r: &mut Reader) -> Option<asn::CallIdentifier> {
    if r.bit()? {
        return None;
    }
    Some(asn::CallIdentifier::new(dec_guid(r)?))
}

fn enc_call_identifier(v: &asn::CallIdentifier, w: &mut Writer) -> Option<()> {
    w.bit(false);
    enc_guid(&v.guid, w)
}

/// The extension additions of Setup-UUIE, in the module's order (28).
const SETUP_ADDITIONS: usize = 28;
// Indices of the covered ones.
const S_SOURCE_CALL_SIGNAL_ADDRESS: usize = 0;
const S_REMOTE_EXTENSION_ADDRESS: usize = 1;
const S_CALL_IDENTIFIER: usize = 2;
const S_FAST_START: usize = 6;
const S_MEDIA_WAIT_FOR_CONNECT: usize = 7;
const S_CAN_OVERLAP_SEND: usize = 8;
const S_ENDPOINT_IDENTIFIER: usize = 9;
const S_MULTIPLE_CALLS: usize = 10;
const S_MAINTAIN_CONNECTION: usize = 11;
const S_SYMMETRIC_OPERATION_REQUIRED: usize = 17;
const S_PARALLEL_H245_CONTROL: usize = 24;
const S_HOP_COUNT: usize = 26;
const SETUP_COVERED: u64 = 1 << S_SOURCE_CALL_SIGNAL_ADDRESS
    | 1 << S_REMOTE_EXTENSION_ADDRESS
    | 1 << S_CALL_IDENTIFIER
    | 1 << S_FAST_START
    | 1 << S_MEDIA_WAIT_FOR_CONNECT
    | 1 << S_CAN_OVERLAP_SEND
    | 1 << S_ENDPOINT_IDENTIFIER
    | 1 << S_MULTIPLE_CALLS
    | 1 << S_MAINTAIN_CONNECTION
    | 1 << S_SYMMETRIC_OPERATION_REQUIRED
    | 1 << S_PARALLEL_H245_CONTROL
    | 1 << S_HOP_COUNT;

/// A BOOLEAN extension addition (an open type, X.691 §19.9).
fn dec_open_bool(r: &mut Reader) -> Option<bool> {
    r.open(dec_bool)
}

fn enc_open_bool(b: bool, w: &mut Writer) -> Option<()> {
    w.open(|w| {
        w.bit(b);
        Some(())
    })
}

/// A NULL extension addition or extension alternative: an open type whose contents
/// encode nothing, so the single zero octet of X.691 §11.1.3.
fn dec_open_null(r: &mut Reader) -> Option<()> {
    r.open(|_| Some(()))
}

fn enc_open_null(w: &mut Writer) -> Option<()> {
    w.open(|_| Some(()))
}

/// Setup-UUIE (H.225.0 §7.3.10).
fn dec_setup(r: &mut Reader) -> Option<asn::SetupUUIE> {
    let ext = r.bit()?;
    // OPTIONAL root components: h245Address, sourceAddress, destinationAddress,
    // destCallSignalAddress, destExtraCallInfo, destExtraCRV, callServices.
    let mut p = [false; 7];
    for b in &mut p {
        *b = r.bit()?;
    }
    if p[6] {
        return None; // callServices
    }
    let protocol_identifier = asn::ProtocolIdentifier(dec_oid(r)?);
    let h245_address = opt(p[0], || dec_transport(r))?;
    let source_address = opt(p[1], || dec_aliases(r))?;
    let source_info = dec_endpoint(r)?;
    let destination_address = opt(p[2], || dec_aliases(r))?;
    let dest_call_signal_address = opt(p[3], || dec_transport(r))?;
    let dest_extra_call_info = opt(p[4], || dec_aliases(r))?;
    let dest_extra_crv = opt(p[5], || {
        dec_sequence_of(r, |r| dec_u16(r).map(asn::CallReferenceValue))
    })?;
    let active_mc = dec_bool(r)?;
    let conference_id = asn::ConferenceIdentifier(dec_guid(r)?);
    // conferenceGoal: CHOICE { create, join, invite, ..., capability-negotiation,
    // callIndependentSupplementaryService } of NULLs.
    use asn::SetupUUIEConferenceGoal as G;
    let conference_goal = if r.bit()? {
        match r.normally_small()? {
            0 => G::capability_negotiation(dec_open_null(r)?),
            1 => G::callIndependentSupplementaryService(dec_open_null(r)?),
            _ => return None,
        }
    } else {
        match r.constrained(3)? {
            0 => G::create(()),
            1 => G::join(()),
            _ => G::invite(()),
        }
    };
    // callType: CHOICE { pointToPoint, oneToN, nToOne, nToN, ... } of NULLs.
    if r.bit()? {
        return None;
    }
    let call_type = match r.constrained(4)? {
        0 => asn::CallType::pointToPoint(()),
        1 => asn::CallType::oneToN(()),
        2 => asn::CallType::nToOne(()),
        _ => asn::CallType::nToN(()),
    };

    let mut source_call_signal_address = None;
    let mut remote_extension_address = None;
    let mut call_identifier = None;
    let mut fast_start = None;
    let mut media_wait_for_connect = None;
    let mut can_overlap_send = None;
    let mut endpoint_identifier = None;
    let mut multiple_calls = None;
    let mut maintain_connection = None;
    let mut symmetric_operation_required = None;
    let mut parallel_h245_control = None;
    let mut hop_count = None;
    if ext {
        let map = r.extension_bitmap(SETUP_ADDITIONS, SETUP_COVERED)?;
        for i in set_bits(map) {
            match i {
                S_SOURCE_CALL_SIGNAL_ADDRESS => {
                    source_call_signal_address = Some(r.open(dec_transport)?)
                }
                S_REMOTE_EXTENSION_ADDRESS => remote_extension_address = Some(r.open(dec_alias)?),
                S_CALL_IDENTIFIER => call_identifier = Some(r.open(dec_call_identifier)?),
                S_FAST_START => fast_start = Some(r.open(dec_octet_strings)?),
                S_MEDIA_WAIT_FOR_CONNECT => media_wait_for_connect = Some(dec_open_bool(r)?),
                S_CAN_OVERLAP_SEND => can_overlap_send = Some(dec_open_bool(r)?),
                S_ENDPOINT_IDENTIFIER => {
                    endpoint_identifier =
                        Some(asn::EndpointIdentifier(r.open(|r| dec_bmp(r, 128))?))
                }
                S_MULTIPLE_CALLS => multiple_calls = Some(dec_open_bool(r)?),
                S_MAINTAIN_CONNECTION => maintain_connection = Some(dec_open_bool(r)?),
                S_SYMMETRIC_OPERATION_REQUIRED => {
                    symmetric_operation_required = Some(dec_open_null(r)?)
                }
                S_PARALLEL_H245_CONTROL => parallel_h245_control = Some(r.open(dec_octet_strings)?),
                S_HOP_COUNT => {
                    // INTEGER (1..31): 5 bits.
                    hop_count = Some(r.open(|r| Some(1 + r.constrained(31)? as u8))?)
                }
                _ => return None,
            }
        }
    }
    Some(asn::SetupUUIE::new(
        protocol_identifier,
        h245_address,
        source_address,
        source_info,
        destination_address,
        dest_call_signal_address,
        dest_extra_call_info,
        dest_extra_crv,
        active_mc,
        conference_id,
        conference_goal,
        None,
        call_type,
        source_call_signal_address,
        remote_extension_address,
        call_identifier,
        None,
        None,
        None,
        fast_start,
        media_wait_for_connect,
        can_overlap_send,
        endpoint_identifier,
        multiple_calls,
        maintain_connection,
        None,
        None,
        None,
        None,
        None,
        symmetric_operation_required,
        None,
        None,
        None,
        None,
        None,
        None,
        parallel_h245_control,
        None,
        hop_count,
        None,
    ))
}

fn enc_setup(v: &asn::SetupUUIE, w: &mut Writer) -> Option<()> {
    if v.call_services.is_some()
        || v.h245_security_capability.is_some()
        || v.tokens.is_some()
        || v.crypto_tokens.is_some()
        || v.connection_parameters.is_some()
        || v.language.is_some()
        || v.presentation_indicator.is_some()
        || v.screening_indicator.is_some()
        || v.service_control.is_some()
        || v.capacity.is_some()
        || v.circuit_info.is_some()
        || v.desired_protocols.is_some()
        || v.needed_features.is_some()
        || v.desired_features.is_some()
        || v.supported_features.is_some()
        || v.additional_source_addresses.is_some()
        || v.display_name.is_some()
    {
        return None;
    }
    let mut present = [false; SETUP_ADDITIONS];
    present[S_SOURCE_CALL_SIGNAL_ADDRESS] = v.source_call_signal_address.is_some();
    present[S_REMOTE_EXTENSION_ADDRESS] = v.remote_extension_address.is_some();
    present[S_CALL_IDENTIFIER] = v.call_identifier.is_some();
    present[S_FAST_START] = v.fast_start.is_some();
    present[S_MEDIA_WAIT_FOR_CONNECT] = v.media_wait_for_connect.is_some();
    present[S_CAN_OVERLAP_SEND] = v.can_overlap_send.is_some();
    present[S_ENDPOINT_IDENTIFIER] = v.endpoint_identifier.is_some();
    present[S_MULTIPLE_CALLS] = v.multiple_calls.is_some();
    present[S_MAINTAIN_CONNECTION] = v.maintain_connection.is_some();
    present[S_SYMMETRIC_OPERATION_REQUIRED] = v.symmetric_operation_required.is_some();
    present[S_PARALLEL_H245_CONTROL] = v.parallel_h245_control.is_some();
    present[S_HOP_COUNT] = v.hop_count.is_some();
    let ext = present.iter().any(|&p| p);

    w.bit(ext);
    w.bit(v.h245_address.is_some());
    w.bit(v.source_address.is_some());
    w.bit(v.destination_address.is_some());
    w.bit(v.dest_call_signal_address.is_some());
    w.bit(v.dest_extra_call_info.is_some());
    w.bit(v.dest_extra_crv.is_some());
    w.bit(false); // callServices
    enc_oid(&v.protocol_identifier.0, w)?;
    if let Some(t) = &v.h245_address {
        enc_transport(t, w)?;
    }
    if let Some(a) = &v.source_address {
        enc_aliases(a, w)?;
    }
    enc_endpoint(&v.source_info, w)?;
    if let Some(a) = &v.destination_address {
        enc_aliases(a, w)?;
    }
    if let Some(t) = &v.dest_call_signal_address {
        enc_transport(t, w)?;
    }
    if let Some(a) = &v.dest_extra_call_info {
        enc_aliases(a, w)?;
    }
    if let Some(crvs) = &v.dest_extra_crv {
        enc_sequence_of(crvs, |c, w| enc_u16(c.0, w), w)?;
    }
    w.bit(v.active_mc);
    enc_guid(&v.conference_id.0, w)?;
    use asn::SetupUUIEConferenceGoal as G;
    match &v.conference_goal {
        G::create(()) => {
            w.bit(false);
            w.constrained(0, 3)?;
        }
        G::join(()) => {
            w.bit(false);
            w.constrained(1, 3)?;
        }
        G::invite(()) => {
            w.bit(false);
            w.constrained(2, 3)?;
        }
        G::capability_negotiation(()) => {
            w.bit(true);
            w.normally_small(0)?;
            enc_open_null(w)?;
        }
        G::callIndependentSupplementaryService(()) => {
            w.bit(true);
            w.normally_small(1)?;
            enc_open_null(w)?;
        }
        #[allow(unreachable_patterns)]
        _ => return None,
    }
    w.bit(false);
    let call_type = match &v.call_type {
        asn::CallType::pointToPoint(()) => 0,
        asn::CallType::oneToN(()) => 1,
        asn::CallType::nToOne(()) => 2,
        asn::CallType::nToN(()) => 3,
        #[allow(unreachable_patterns)]
        _ => return None,
    };
    w.constrained(call_type, 4)?;
    if !ext {
        return Some(());
    }
    w.extension_bitmap(&present)?;
    if let Some(t) = &v.source_call_signal_address {
        w.open(|w| enc_transport(t, w))?;
    }
    if let Some(a) = &v.remote_extension_address {
        w.open(|w| enc_alias(a, w))?;
    }
    if let Some(c) = &v.call_identifier {
        w.open(|w| enc_call_identifier(c, w))?;
    }
    if let Some(f) = &v.fast_start {
        w.open(|w| enc_octet_strings(f, w))?;
    }
    for b in [v.media_wait_for_connect, v.can_overlap_send]
        .into_iter()
        .flatten()
    {
        enc_open_bool(b, w)?;
    }
    if let Some(e) = &v.endpoint_identifier {
        w.open(|w| enc_bmp(&e.0, 128, w))?;
    }
    for b in [v.multiple_calls, v.maintain_connection]
        .into_iter()
        .flatten()
    {
        enc_open_bool(b, w)?;
    }
    if v.symmetric_operation_required.is_some() {
        enc_open_null(w)?;
    }
    if let Some(p) = &v.parallel_h245_control {
        w.open(|w| enc_octet_strings(p, w))?;
    }
    if let Some(h) = v.hop_count {
        if !(1..=31).contains(&h) {
            return None;
        }
        w.open(|w| w.constrained(u32::from(h - 1), 31))?;
    }
    Some(())
}

/// The extension additions of H323-UU-PDU (9).
const PDU_ADDITIONS: usize = 9;
const P_H4501: usize = 0;
const P_H245_TUNNELLING: usize = 1;
const P_H245_CONTROL: usize = 2;
const P_NON_STANDARD_CONTROL: usize = 3;
const P_PROVISIONAL_RESP: usize = 6;
const PDU_COVERED: u64 = 1 << P_H4501
    | 1 << P_H245_TUNNELLING
    | 1 << P_H245_CONTROL
    | 1 << P_NON_STANDARD_CONTROL
    | 1 << P_PROVISIONAL_RESP;

/// H323-UU-PDU with the `setup` body.
fn dec_pdu(r: &mut Reader) -> Option<asn::H323UUPDU> {
    let ext = r.bit()?;
    let p_non_standard = r.bit()?;
    // h323-message-body: the root alternative `setup` (index 0 of 7) only.
    if r.bit()? || r.constrained(7)? != 0 {
        return None;
    }
    let body = asn::H323UUPDUH323MessageBody::setup(Box::new(dec_setup(r)?));
    let non_standard = opt(p_non_standard, || dec_non_standard(r))?;
    let mut h4501 = None;
    let mut tunnelling = None;
    let mut control = None;
    let mut non_standard_control = None;
    let mut provisional = None;
    if ext {
        let map = r.extension_bitmap(PDU_ADDITIONS, PDU_COVERED)?;
        for i in set_bits(map) {
            match i {
                P_H4501 => h4501 = Some(r.open(dec_octet_strings)?),
                P_H245_TUNNELLING => tunnelling = Some(dec_open_bool(r)?),
                P_H245_CONTROL => control = Some(r.open(dec_octet_strings)?),
                P_NON_STANDARD_CONTROL => {
                    non_standard_control = Some(r.open(|r| dec_sequence_of(r, dec_non_standard))?)
                }
                P_PROVISIONAL_RESP => provisional = Some(dec_open_null(r)?),
                _ => return None,
            }
        }
    }
    Some(asn::H323UUPDU::new(
        body,
        non_standard,
        h4501,
        tunnelling,
        control,
        non_standard_control,
        None,
        None,
        provisional,
        None,
        None,
    ))
}

fn enc_pdu(v: &asn::H323UUPDU, w: &mut Writer) -> Option<()> {
    let asn::H323UUPDUH323MessageBody::setup(setup) = &v.h323_message_body else {
        return None;
    };
    if v.call_linkage.is_some()
        || v.tunnelled_signalling_message.is_some()
        || v.stimulus_control.is_some()
        || v.generic_data.is_some()
    {
        return None;
    }
    let mut present = [false; PDU_ADDITIONS];
    present[P_H4501] = v.h4501_supplementary_service.is_some();
    present[P_H245_TUNNELLING] = v.h245_tunnelling.is_some();
    present[P_H245_CONTROL] = v.h245_control.is_some();
    present[P_NON_STANDARD_CONTROL] = v.non_standard_control.is_some();
    present[P_PROVISIONAL_RESP] = v.provisional_resp_to_h245_tunnelling.is_some();
    let ext = present.iter().any(|&p| p);
    w.bit(ext);
    w.bit(v.non_standard_data.is_some());
    w.bit(false);
    w.constrained(0, 7)?;
    enc_setup(setup, w)?;
    if let Some(n) = &v.non_standard_data {
        enc_non_standard(n, w)?;
    }
    if !ext {
        return Some(());
    }
    w.extension_bitmap(&present)?;
    if let Some(s) = &v.h4501_supplementary_service {
        w.open(|w| enc_octet_strings(s, w))?;
    }
    if let Some(t) = v.h245_tunnelling {
        enc_open_bool(t, w)?;
    }
    if let Some(c) = &v.h245_control {
        w.open(|w| enc_octet_strings(c, w))?;
    }
    if let Some(c) = &v.non_standard_control {
        w.open(|w| enc_sequence_of(c, enc_non_standard, w))?;
    }
    if v.provisional_resp_to_h245_tunnelling.is_some() {
        enc_open_null(w)?;
    }
    Some(())
}

/// H323-UserInformation ::= SEQUENCE { h323-uu-pdu H323-UU-PDU, user-data SEQUENCE {
/// protocol-discriminator INTEGER(0..255), user-information OCTET STRING(SIZE
/// (1..131)), ...} OPTIONAL, ... }
fn dec_user_information(r: &mut Reader) -> Option<asn::H323UserInformation> {
    if r.bit()? {
        return None;
    }
    let p_user_data = r.bit()?;
    let pdu = dec_pdu(r)?;
    let user_data = opt(p_user_data, || {
        if r.bit()? {
            return None;
        }
        let pd = dec_u8(r)?;
        Some(asn::H323UserInformationUserData::new(
            pd,
            dec_octet_string_sized(r, 1, 131)?,
        ))
    })?;
    Some(asn::H323UserInformation::new(pdu, user_data))
}

fn enc_user_information(v: &asn::H323UserInformation, w: &mut Writer) -> Option<()> {
    w.bit(false);
    w.bit(v.user_data.is_some());
    enc_pdu(&v.h323_uu_pdu, w)?;
    if let Some(u) = &v.user_data {
        w.bit(false);
        enc_u8(u.protocol_discriminator, w)?;
        enc_octet_string_sized(&u.user_information, 1, 131, w)?;
    }
    Some(())
}
