//! A deterministic discrete-event network simulator for sans-I/O protocol machines.
//!
//! Tests and research runs of every meshcast protocol share this simulator. One `u64`
//! seed reproduces a whole multi-node run: the virtual clock jumps to the next event,
//! ties are broken by scheduling order, and every random choice (latency, loss,
//! duplication, reordering, Byzantine forgeries) is drawn from one ChaCha8 stream.
//!
//! # Model
//!
//! * **Nodes** implement [`Node`], the DESIGN.md section 2 shape seen from the network:
//!   `handle(now, input)`, then the simulator drains [`Node::poll_send`] and arms a timer
//!   for [`Node::poll_timeout`]. A protocol machine is wrapped in a small adapter.
//! * **Links** ([`LinkConfig`]) have a latency distribution ([`Latency`]), jitter, loss,
//!   duplication and reordering; one default plus per-directed-link overrides.
//! * **Schedules**: partitions that form and heal, crashes and restarts.
//! * **Byzantine behaviours** ([`Behaviour`]) rewrite what leaves a node: silent,
//!   equivocating (two different messages to two halves), replaying, or a
//!   protocol-specific forger.
//! * **Invariants** run after every event; a violation stops the run with a
//!   [`SimError`] that prints the seed. A step limit reports livelock.
//! * **Statistics** per node: messages and bytes sent and received, drops, duplicates.
//!
//! # Call order
//!
//! `Sim::new(config)` → `add_node` for each node → optional `set_link`,
//! `set_behaviour`, `schedule_*`, `add_invariant` → `run_until(deadline)` or
//! `run_until_pred(deadline, done)`, as often as needed → read `nodes()`, `stats()`,
//! `totals()`, `trace_hash()`.
//!
//! # Example
//!
//! ```
//! use netsim::{Dest, Node, NodeInput, Outgoing, Sim, SimConfig};
//! use primitives::Timestamp;
//!
//! /// Floods the first message it hears (or, for node 0, originates one).
//! #[derive(Default)]
//! struct Flood { seen: bool, out: Vec<Outgoing<Vec<u8>>> }
//!
//! impl Node for Flood {
//!     type Msg = Vec<u8>;
//!     fn handle(&mut self, _now: Timestamp, input: NodeInput<Vec<u8>>) {
//!         let fresh = match input {
//!             NodeInput::Start => None,
//!             NodeInput::Message { msg, .. } => Some(msg),
//!             NodeInput::Timeout => None,
//!         };
//!         if let Some(msg) = fresh.filter(|_| !self.seen) {
//!             self.seen = true;
//!             self.out.push(Outgoing { to: Dest::All, msg });
//!         }
//!     }
//!     fn poll_send(&mut self) -> Option<Outgoing<Vec<u8>>> { self.out.pop() }
//!     fn poll_timeout(&self) -> Option<Timestamp> { None }
//! }
//!
//! let mut sim = Sim::new(SimConfig::with_seed(7));
//! for _ in 0..10 {
//!     sim.add_node(Flood::default());
//! }
//! sim.node_mut(0).seen = true;
//! sim.node_mut(0).out.push(Outgoing { to: Dest::All, msg: b"hello".to_vec() });
//! sim.run_until(Timestamp::from_secs(1))?;
//! assert!(sim.nodes().iter().all(|n| n.seen));
//! assert_eq!(sim.stats(0).msgs_sent, 9);
//! # Ok::<(), netsim::SimError>(())
//! ```
#![forbid(unsafe_code)]

mod behaviour;
mod error;
mod link;
mod node;
mod sim;
mod stats;

pub use behaviour::{Behaviour, Forger};
pub use error::SimError;
pub use link::{Latency, LinkConfig};
pub use node::{Dest, Node, NodeId, NodeInput, Outgoing, WireSize};
pub use sim::{RunSummary, Sim, SimConfig, TraceEvent, TraceKind, derive_seed};
pub use stats::{NetStats, NodeStats};

/// The RNG type handed to [`Behaviour::Forge`] callbacks.
pub use rand_chacha::ChaCha8Rng;
