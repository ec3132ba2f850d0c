//! Exact expected values and win probabilities from a target EV.
//!
//! A ticket wins with probability `winProb / (2^256 − 1)` (TicketBroker: a win hash
//! uniform over `[0, 2^256)` must be `< winProb`; go-livepeer uses the denominator
//! `2^256 − 1`, the largest `winProb`, and so does this crate). Its expected value
//! `faceValue · winProb / (2^256 − 1)` is kept as an exact rational with a 512-bit
//! numerator over the fixed denominator, so no rounding ever happens until the caller
//! asks for [`ExpectedValue::floor`] or [`ExpectedValue::ceil`].

use parity_scale_codec::{Decode, Encode};
use primitive_types::U512;
use primitives::U256;

use crate::Error;

/// `2^256 − 1` as a 512-bit integer: the denominator of every expected value.
fn denominator() -> U512 {
    U512::from(U256::MAX)
}

/// An exact expected value `numerator / (2^256 − 1)` in base units. SCALE-encoded as
/// its 512-bit numerator (64 bytes, little-endian), e.g. inside a [`crate::SenderState`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Encode, Decode)]
pub struct ExpectedValue {
    numerator: U512,
}

impl ExpectedValue {
    /// Zero.
    pub const ZERO: ExpectedValue = ExpectedValue { numerator: U512([0; 8]) };

    /// The EV of one ticket: `faceValue · winProb / (2^256 − 1)`. The 512-bit product
    /// cannot overflow.
    pub fn of(face_value: U256, win_prob: U256) -> Self {
        ExpectedValue { numerator: face_value.full_mul(win_prob) }
    }

    /// An amount of base units as an exact EV (`amount · (2^256 − 1)` over the
    /// denominator).
    pub fn from_amount(amount: U256) -> Self {
        ExpectedValue { numerator: amount.full_mul(U256::MAX) }
    }

    /// The numerator over `2^256 − 1`.
    pub fn numerator(&self) -> U512 {
        self.numerator
    }

    /// The largest whole amount not above the EV.
    pub fn floor(&self) -> U256 {
        let q = self.numerator / denominator();
        // numerator < 2^512 and the denominator is 2^256 − 1, so q < 2^256 + 2: the only
        // values that do not fit are unreachable from `of` (q ≤ faceValue) and from sums,
        // which are checked; saturate rather than panic.
        U256::try_from(q).unwrap_or(U256::MAX)
    }

    /// The smallest whole amount not below the EV.
    pub fn ceil(&self) -> U256 {
        let (q, r) = self.numerator.div_mod(denominator());
        let q = if r.is_zero() { q } else { q + U512::one() };
        U256::try_from(q).unwrap_or(U256::MAX)
    }

    /// Whether the EV is at least `amount` base units, exactly.
    pub fn covers(&self, amount: U256) -> bool {
        *self >= Self::from_amount(amount)
    }

    /// `self + other`, or [`Error::Overflow`].
    pub fn checked_add(self, other: Self) -> Result<Self, Error> {
        self.numerator
            .checked_add(other.numerator)
            .map(|numerator| ExpectedValue { numerator })
            .ok_or(Error::Overflow)
    }

    /// `self − other`, or `None` if `other > self`.
    pub fn checked_sub(self, other: Self) -> Option<Self> {
        self.numerator.checked_sub(other.numerator).map(|numerator| ExpectedValue { numerator })
    }

    /// `n · self`, or [`Error::Overflow`].
    pub fn checked_mul(self, n: u64) -> Result<Self, Error> {
        self.numerator
            .checked_mul(U512::from(n))
            .map(|numerator| ExpectedValue { numerator })
            .ok_or(Error::Overflow)
    }

    /// How many tickets of EV `self` cover `shortfall`: `ceil(shortfall / self)`.
    /// `None` if `self` is zero and the shortfall is not.
    pub fn tickets_for(&self, shortfall: ExpectedValue) -> Option<U512> {
        if shortfall.numerator.is_zero() {
            return Some(U512::zero());
        }
        if self.numerator.is_zero() {
            return None;
        }
        let (q, r) = shortfall.numerator.div_mod(self.numerator);
        Some(if r.is_zero() { q } else { q + U512::one() })
    }

    /// Whether the EV is zero.
    pub fn is_zero(&self) -> bool {
        self.numerator.is_zero()
    }
}

/// The smallest `winProb` whose ticket EV is at least `ev` with face value
/// `face_value`: `ceil(ev · (2^256 − 1) / faceValue)`.
///
/// Guarantees `ExpectedValue::of(face_value, w) >= ev` and that `w − 1` would fall
/// below it (when `w > 0`). A zero `ev` gives `0`. `ev > faceValue` is an error: not
/// even a certain win pays that much.
///
/// go-livepeer (`recipient.winProb`) computes `ev · ceil((2^256 − 1) / faceValue)`,
/// which also never undershoots but may overshoot by up to `ev − 1` in the numerator;
/// this crate's value is never larger than go-livepeer's.
///
/// ```
/// use pm_tickets::{ExpectedValue, win_prob_for_ev};
/// use primitives::U256;
/// let face = U256::from(1_000_000u64);
/// let w = win_prob_for_ev(face, U256::from(7u64))?;
/// assert!(ExpectedValue::of(face, w).covers(U256::from(7u64)));
/// assert!(!ExpectedValue::of(face, w - 1).covers(U256::from(7u64)));
/// # Ok::<(), pm_tickets::Error>(())
/// ```
pub fn win_prob_for_ev(face_value: U256, ev: U256) -> Result<U256, Error> {
    if ev.is_zero() {
        return Ok(U256::zero());
    }
    if ev > face_value {
        return Err(Error::EvAboveFaceValue { ev, face_value });
    }
    let target = ev.full_mul(U256::MAX);
    let (q, r) = target.div_mod(U512::from(face_value));
    let w = if r.is_zero() { q } else { q + U512::one() };
    // ev ≤ faceValue implies w ≤ 2^256 − 1.
    U256::try_from(w).map_err(|_| Error::Overflow)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn floor_and_ceil() {
        let ev = ExpectedValue::of(U256::from(10), U256::MAX);
        assert_eq!(ev.floor(), U256::from(10));
        assert_eq!(ev.ceil(), U256::from(10));
        // Half probability (rounded down) on face 3: EV just under 1.5.
        let ev = ExpectedValue::of(U256::from(3), U256::MAX / 2);
        assert_eq!(ev.floor(), U256::from(1));
        assert_eq!(ev.ceil(), U256::from(2));
        assert!(ev.covers(U256::from(1)));
        assert!(!ev.covers(U256::from(2)));
        assert!(ExpectedValue::of(U256::MAX, U256::MAX).covers(U256::MAX));
        assert_eq!(ExpectedValue::of(U256::MAX, U256::MAX).floor(), U256::MAX);
    }

    #[test]
    fn tickets_for_rounds_up() {
        let one = ExpectedValue::from_amount(U256::from(3));
        assert_eq!(one.tickets_for(ExpectedValue::from_amount(U256::from(7))), Some(U512::from(3)));
        assert_eq!(one.tickets_for(ExpectedValue::from_amount(U256::from(6))), Some(U512::from(2)));
        assert_eq!(one.tickets_for(ExpectedValue::ZERO), Some(U512::zero()));
        assert_eq!(ExpectedValue::ZERO.tickets_for(one), None);
    }

    #[test]
    fn win_prob_minimal_and_sufficient() {
        for (face, ev) in [(1u64, 1u64), (3, 1), (1_000_000_007, 12_345), (u64::MAX, 1), (10, 10), (7, 3)] {
            let (face, ev) = (U256::from(face), U256::from(ev));
            let w = win_prob_for_ev(face, ev).unwrap();
            assert!(ExpectedValue::of(face, w).covers(ev));
            assert!(!ExpectedValue::of(face, w - 1).covers(ev));
        }
        assert_eq!(win_prob_for_ev(U256::from(5), U256::from(5)).unwrap(), U256::MAX);
        assert_eq!(win_prob_for_ev(U256::from(5), U256::zero()).unwrap(), U256::zero());
        assert!(matches!(win_prob_for_ev(U256::from(5), U256::from(6)), Err(Error::EvAboveFaceValue { .. })));
    }
}
