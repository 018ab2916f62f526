//! The engine's clock: milliseconds in a `u32` that wraps at 2^32.
//!
//! All arithmetic wraps. Two readings compare through their signed
//! difference, so any two instants less than 2^31 ms (24.8 days) apart
//! compare correctly across the wrap. The engine must therefore see the
//! clock (any call taking `now`) at least once every 24 days; `read()`
//! does this.

/// A reading of the caller's millisecond tick counter.
///
/// ```
/// use mpcoap::engine::Instant;
/// let before_wrap = Instant(u32::MAX - 10);
/// let after_wrap = before_wrap.add_ms(20);
/// assert_eq!(after_wrap, Instant(9));
/// assert_eq!(after_wrap.ms_since(before_wrap), 20);
/// assert!(after_wrap.is_reached_by(Instant(9)));
/// assert!(!after_wrap.is_reached_by(before_wrap));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Instant(pub u32);

impl Instant {
    /// This instant plus `ms`, wrapping.
    pub const fn add_ms(self, ms: u32) -> Instant {
        Instant(self.0.wrapping_add(ms))
    }

    /// Signed milliseconds from `self` to `later` (negative if `later` is
    /// before `self`).
    pub const fn ms_until(self, later: Instant) -> i32 {
        later.0.wrapping_sub(self.0) as i32
    }

    /// Milliseconds elapsed since `earlier`, 0 if `earlier` is in the future.
    pub const fn ms_since(self, earlier: Instant) -> u32 {
        let d = earlier.ms_until(self);
        if d < 0 {
            0
        } else {
            d as u32
        }
    }

    /// True once `now` is at or past this deadline.
    pub const fn is_reached_by(self, now: Instant) -> bool {
        self.ms_until(now) >= 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wraps() {
        let t = Instant(u32::MAX);
        assert_eq!(t.add_ms(1), Instant(0));
        assert_eq!(t.ms_until(Instant(1)), 2);
        assert_eq!(Instant(1).ms_until(t), -2);
        assert_eq!(Instant(1).ms_since(t), 2);
        assert_eq!(t.ms_since(Instant(1)), 0);
        assert!(Instant(5).is_reached_by(Instant(5)));
        assert!(!Instant(6).is_reached_by(Instant(5)));
        // Deadline set just before the wrap, reached just after it.
        let deadline = Instant(u32::MAX - 100).add_ms(2000);
        assert!(!deadline.is_reached_by(Instant(u32::MAX)));
        assert!(deadline.is_reached_by(Instant(1899)));
        assert!(!deadline.is_reached_by(Instant(1898)));
    }
}
