//! A small PRNG for message IDs and back-off jitter. Not cryptographic:
//! RFC 7252 only asks that the first Message ID and the jitter be hard to
//! guess for a blind attacker, which a seed from the platform gives.

/// xorshift32 (Marsaglia 2003). The state is never 0.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rng {
    state: u32,
}

impl Rng {
    /// Seeds from `seed` and the clock reading, so two boards with the same
    /// seed still diverge.
    pub(crate) fn new(seed: u32, now: u32) -> Rng {
        // Spread the bits (a multiplicative hash) so similar seeds diverge.
        let mixed = (seed ^ now.rotate_left(16)).wrapping_mul(0x9E37_79B9) ^ 0x5A5A_5A5A;
        let mut rng = Rng { state: if mixed == 0 { 0x2545_F491 } else { mixed } };
        for _ in 0..4 {
            rng.next_u32();
        }
        rng
    }

    /// The state (see `snapshot.rs`).
    #[cfg(any(test, feature = "std"))]
    pub(crate) fn state(&self) -> u32 {
        self.state
    }

    pub(crate) fn next_u32(&mut self) -> u32 {
        let mut x = self.state;
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        self.state = x;
        x
    }

    /// A number in `0..=max`, slightly biased for a large `max` (fine for
    /// jitter).
    pub(crate) fn below_or_eq(&mut self, max: u32) -> u32 {
        match max.checked_add(1) {
            Some(n) => self.next_u32() % n,
            None => self.next_u32(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_stuck_and_seed_dependent() {
        let mut a = Rng::new(0, 0);
        let mut b = Rng::new(1, 0);
        let xs: Vec<u32> = (0..100).map(|_| a.next_u32()).collect();
        let ys: Vec<u32> = (0..100).map(|_| b.next_u32()).collect();
        assert!(xs.iter().all(|x| *x != 0));
        assert_ne!(xs, ys);
        let mut c = Rng::new(7, 0);
        for _ in 0..1000 {
            assert!(c.below_or_eq(1000) <= 1000);
        }
        assert!((0..1000).any(|_| c.below_or_eq(1) == 1));
    }
}
