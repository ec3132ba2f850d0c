//! Byzantine behaviours the simulator applies to a node's outgoing messages.

use core::fmt;

use rand_chacha::ChaCha8Rng;

use crate::{NodeId, Outgoing};

/// A protocol-specific forger: given the simulator's RNG, the node's id and one message
/// the honest code wanted to send, returns what is actually sent.
pub type Forger<M> = Box<dyn FnMut(&mut ChaCha8Rng, NodeId, Outgoing<M>) -> Vec<Outgoing<M>>>;

/// How a node's outgoing traffic is treated. The node's own code always runs honestly;
/// the simulator rewrites what leaves it, so one node type serves honest and Byzantine
/// roles and invariants can still read its state.
pub enum Behaviour<M> {
    /// Messages leave as sent.
    Honest,
    /// Nothing leaves the node (crash-silent, or a withholding attacker).
    Silent,
    /// Equivocation: nodes with an even id receive the original, nodes with an odd id
    /// receive `forge(original)` — two different messages to two halves of the network.
    Equivocate(Box<dyn FnMut(&M) -> M>),
    /// Every message is sent normally and sent again, unchanged, `delay_ms` later.
    Replay {
        /// Delay of the replayed copy.
        delay_ms: u64,
    },
    /// A protocol-specific forger decides what is sent.
    Forge(Forger<M>),
}

// Not derived: `#[derive(Default)]` would demand `M: Default`.
#[allow(clippy::derivable_impls)]
impl<M> Default for Behaviour<M> {
    fn default() -> Self {
        Behaviour::Honest
    }
}

impl<M> fmt::Debug for Behaviour<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Behaviour::Honest => f.write_str("Honest"),
            Behaviour::Silent => f.write_str("Silent"),
            Behaviour::Equivocate(_) => f.write_str("Equivocate"),
            Behaviour::Replay { delay_ms } => write!(f, "Replay {{ delay_ms: {delay_ms} }}"),
            Behaviour::Forge(_) => f.write_str("Forge"),
        }
    }
}
