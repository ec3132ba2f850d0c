//! What the simulator drives: nodes with the sans-I/O shape of DESIGN.md section 2.

use primitives::Timestamp;

/// Index of a node, in the order nodes were added.
pub type NodeId = usize;

/// Size of a message on the wire, for the per-node byte statistics.
pub trait WireSize {
    /// Encoded length in bytes.
    fn wire_size(&self) -> usize;
}

impl WireSize for Vec<u8> {
    fn wire_size(&self) -> usize {
        self.len()
    }
}

impl WireSize for u64 {
    fn wire_size(&self) -> usize {
        8
    }
}

/// Where an outgoing message goes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Dest {
    /// One node.
    To(NodeId),
    /// Several nodes (each gets its own copy over its own link).
    Many(Vec<NodeId>),
    /// Every other node.
    All,
}

/// A message a node asks the simulator to send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outgoing<M> {
    /// Destination(s).
    pub to: Dest,
    /// The message.
    pub msg: M,
}

/// What the simulator feeds a node.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum NodeInput<M> {
    /// Delivered once when the run starts (or when the node is added or restarted later).
    Start,
    /// A message from another node.
    Message {
        /// Sender.
        from: NodeId,
        /// The message.
        msg: M,
    },
    /// The instant the node asked for with [`Node::poll_timeout`] has been reached.
    Timeout,
}

/// A simulated node.
///
/// Wrap a protocol machine (`primitives::Machine`) in a small adapter implementing this
/// trait: map [`NodeInput`] to the machine's inputs, and its send/broadcast outputs to
/// [`Outgoing`]s; keep events and evidence on the adapter for invariants to read.
pub trait Node {
    /// The message type exchanged between nodes.
    type Msg: Clone + WireSize;

    /// Processes one input at virtual time `now`.
    fn handle(&mut self, now: Timestamp, input: NodeInput<Self::Msg>);

    /// The next message to send, if any. Drained after every `handle`.
    fn poll_send(&mut self) -> Option<Outgoing<Self::Msg>>;

    /// When the node next wants [`NodeInput::Timeout`], if ever.
    fn poll_timeout(&self) -> Option<Timestamp>;
}
