//! The one error type of this crate.

use primitives::Timestamp;

use crate::tracker::PeerId;

/// Everything the tracker, the wire codec and the player client can reject.
///
/// A rejected call leaves the tracker or the machine unchanged.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A latitude or longitude is not finite or outside its range.
    #[error("invalid location lat={lat} lon={lon} (lat in [-90, 90], lon in [-180, 180])")]
    InvalidLocation {
        /// The latitude given, in degrees.
        lat: f64,
        /// The longitude given, in degrees.
        lon: f64,
    },
    /// A point given to the spatial index has a coordinate that is not finite.
    #[error("spatial index point has a non-finite coordinate")]
    NonFinitePoint,
    /// A point given to the spatial index (or a query point) has a coordinate of
    /// magnitude above [`crate::index::MAX_COORD`], beyond which squared distances could
    /// overflow `f32` to infinity.
    #[error("spatial index coordinate {coordinate} outside [-{max}, {max}]")]
    PointOutOfRange {
        /// The offending coordinate.
        coordinate: f32,
        /// The largest magnitude accepted.
        max: f32,
    },
    /// `now` is earlier than a time already seen; time only moves forward.
    #[error("time went backwards: {now} is before {last}")]
    TimeWentBackwards {
        /// The time given.
        now: Timestamp,
        /// The latest time already seen.
        last: Timestamp,
    },
    /// The peer is not (or no longer) registered with the tracker.
    #[error("unknown peer {0:?}")]
    UnknownPeer(PeerId),
    /// The tracker already holds its configured maximum number of peers.
    #[error("tracker is full: {capacity} peers")]
    Full {
        /// The configured capacity.
        capacity: usize,
    },
    /// A query asked for zero candidates or more than the configured limit.
    #[error("query asks for {k} candidates; allowed 1..={max}")]
    BadK {
        /// The `k` asked for.
        k: usize,
        /// The configured maximum.
        max: usize,
    },
    /// A configuration value is out of range.
    #[error("invalid configuration: {field} = {value}")]
    BadConfig {
        /// The offending field.
        field: &'static str,
        /// Its value, rendered.
        value: String,
    },
    /// A wire frame could not be decoded.
    #[error("malformed message: {0}")]
    Decode(#[from] primitives::Error),
    /// A decoded message carries a value outside the protocol's limits.
    #[error("message field {field} out of range: {value}")]
    OutOfRange {
        /// The offending field.
        field: &'static str,
        /// Its value.
        value: u64,
    },
    /// A message arrived from a party that may not send it (for example a tracker reply
    /// from a peer).
    #[error("unexpected {kind} message from {from}")]
    UnexpectedMessage {
        /// The message kind.
        kind: &'static str,
        /// Who sent it, rendered.
        from: String,
    },
}
