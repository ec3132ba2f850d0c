//! Logical time handed to every protocol machine by its host.

use core::fmt;
use core::ops::{Add, Sub};

use parity_scale_codec::{Decode, Encode, MaxEncodedLen};

/// Milliseconds since an arbitrary, host-chosen origin.
///
/// Protocol machines never read a clock: the host passes `now` into every call
/// (DESIGN.md section 2), so a simulator can run a thousand nodes on one virtual clock
/// and a test can replay a run exactly. Time only moves forward; arithmetic saturates
/// instead of wrapping.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode, MaxEncodedLen,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    /// The origin.
    pub const ZERO: Timestamp = Timestamp(0);
    /// The largest representable instant ("never").
    pub const MAX: Timestamp = Timestamp(u64::MAX);

    /// A timestamp `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Timestamp(ms)
    }

    /// A timestamp `s` seconds after the origin (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Timestamp(s.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + ms`, saturating at [`Timestamp::MAX`].
    pub const fn saturating_add_millis(self, ms: u64) -> Self {
        Timestamp(self.0.saturating_add(ms))
    }

    /// Milliseconds from `earlier` to `self`, or 0 if `earlier` is later.
    pub const fn millis_since(self, earlier: Timestamp) -> u64 {
        self.0.saturating_sub(earlier.0)
    }
}

impl Add<u64> for Timestamp {
    type Output = Timestamp;
    /// Adds milliseconds, saturating.
    fn add(self, ms: u64) -> Timestamp {
        self.saturating_add_millis(ms)
    }
}

impl Sub for Timestamp {
    type Output = u64;
    /// Milliseconds between two instants, saturating at zero.
    fn sub(self, rhs: Timestamp) -> u64 {
        self.millis_since(rhs)
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates() {
        assert_eq!(Timestamp::MAX + 1, Timestamp::MAX);
        assert_eq!(Timestamp(5) - Timestamp(9), 0);
        assert_eq!(Timestamp(9) - Timestamp(5), 4);
        assert_eq!(Timestamp::from_secs(2).as_millis(), 2000);
        assert_eq!(Timestamp(1234).to_string(), "1.234s");
    }
}
