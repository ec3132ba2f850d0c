//! The one shape every meshcast protocol machine has (DESIGN.md section 2).

use crate::Timestamp;

/// A sans-I/O protocol state machine, in the manner of `quinn-proto`.
///
/// The host owns every side effect: it feeds inputs (peer messages, answers to requests,
/// timeouts) with the current time, then drains [`Machine::poll_output`] until it returns
/// `None`, and arms a timer for [`Machine::poll_timeout`]. When that timer fires it calls
/// `handle(now, <the machine's timeout input>)`. Nothing observable happens anywhere
/// else, so two machines can be driven by hand in a test, byte for byte, and a
/// simulator (the `netsim` crate) can run thousands of them on one virtual clock.
///
/// Implementations must be deterministic: the same constructor seed and the same
/// sequence of `(now, input)` pairs yield the same outputs in the same order.
pub trait Machine {
    /// What the host feeds in: peer messages, answers to requests, timeouts.
    type Input;
    /// What the machine asks the host to do: send, broadcast, request, report an event
    /// or a piece of misbehaviour evidence.
    type Output;
    /// Why an input was rejected. A rejected input leaves the machine unchanged.
    type Error;

    /// Processes one input at time `now` (which never goes backwards).
    fn handle(&mut self, now: Timestamp, input: Self::Input) -> Result<(), Self::Error>;

    /// The next pending output, in deterministic order.
    fn poll_output(&mut self) -> Option<Self::Output>;

    /// When the machine next wants to be woken with a timeout input, if ever.
    fn poll_timeout(&self) -> Option<Timestamp>;
}
