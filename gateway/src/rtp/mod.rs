//! RTP and RTCP (RFC 3550), jitter buffer, RFC 4733 telephone events.
