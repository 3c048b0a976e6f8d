//! Deterministic pseudo-random numbers for reproducible impairments.

/// SplitMix64 (Steele, Lea, Flood 2014): small, fast, and the same sequence for a seed on
/// every platform.
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1].
    pub fn next_unit(&mut self) -> f64 {
        ((self.next_u64() >> 11) as f64 + 1.0) / (1u64 << 53) as f64
    }
}

/// Independent bit errors at a fixed rate: the gaps between errored bits are drawn from the
/// geometric distribution, so error-free bits cost nothing.
#[derive(Debug, Clone)]
pub struct BitErrors {
    rng: SplitMix64,
    ln_keep: f64,
    /// Bits still to pass before the next error.
    gap: u64,
}

impl BitErrors {
    /// `rate` in (0, 1): probability that any one bit is inverted.
    pub fn new(rate: f64, seed: u64) -> Self {
        let mut b = BitErrors {
            rng: SplitMix64::new(seed),
            ln_keep: (1.0 - rate).ln(),
            gap: 0,
        };
        b.gap = b.draw_gap();
        b
    }

    fn draw_gap(&mut self) -> u64 {
        let g = self.rng.next_unit().ln() / self.ln_keep;
        if g.is_finite() && g < u64::MAX as f64 {
            g as u64
        } else {
            u64::MAX
        }
    }

    /// Calls `flip(bit_index)` for each errored bit among the next `nbits` bits.
    #[inline]
    pub fn run(&mut self, nbits: u64, mut flip: impl FnMut(u64)) {
        let mut pos = 0u64;
        while self.gap < nbits - pos {
            pos += self.gap;
            flip(pos);
            pos += 1;
            self.gap = self.draw_gap();
            if pos >= nbits {
                return;
            }
        }
        self.gap -= nbits - pos;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_is_close() {
        let mut b = BitErrors::new(1e-3, 7);
        let mut n = 0u64;
        for _ in 0..1000 {
            b.run(2048, |_| n += 1);
        }
        // 2,048,000 bits at 1e-3: about 2048 errors.
        assert!((1800..2300).contains(&n), "{n}");
    }

    #[test]
    fn same_seed_same_errors() {
        let mut a = BitErrors::new(1e-2, 42);
        let mut b = BitErrors::new(1e-2, 42);
        let mut va = Vec::new();
        let mut vb = Vec::new();
        for _ in 0..50 {
            a.run(256, |p| va.push(p));
            b.run(256, |p| vb.push(p));
        }
        assert_eq!(va, vb);
        assert!(!va.is_empty());
    }
}
