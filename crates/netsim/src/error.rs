//! The one error type of the simulator.

use primitives::Timestamp;

/// Why a simulation run stopped early. Every variant carries the master seed, so the
/// message printed on failure is enough to reproduce the run.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// An invariant callback returned an error.
    #[error("invariant `{name}` violated at {at} (seed {seed}): {message}")]
    InvariantViolated {
        /// Master seed of the run.
        seed: u64,
        /// Virtual time of the violating event.
        at: Timestamp,
        /// The invariant's name.
        name: String,
        /// What the invariant reported.
        message: String,
    },
    /// More events than `SimConfig::max_steps` were processed: a livelock, or a run that
    /// needs a larger budget.
    #[error("step limit of {steps} events reached at {at} (seed {seed}): livelock?")]
    StepLimit {
        /// Master seed of the run.
        seed: u64,
        /// Events processed.
        steps: u64,
        /// Virtual time reached.
        at: Timestamp,
    },
    /// A node id that was never added.
    #[error("unknown node {id} (the simulation has {nodes} nodes)")]
    UnknownNode {
        /// The id given.
        id: usize,
        /// How many nodes exist.
        nodes: usize,
    },
}
