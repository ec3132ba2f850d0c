//! # meshcast-node: the thin node
//!
//! The node composes the protocol crates into a running system. It stays thin: protocol
//! rules live in the crates; the node owns I/O, time, keys, persistence and operations.
//! This is the only crate besides `gpu-encode` with files, sockets, clocks and threads.
//!
//! * [`storage`]: the [`storage::Storage`] trait (trie nodes with refcounts, blocks and
//!   certificates, the consensus machine's persisted state, metadata) with an in-memory
//!   and a redb implementation, and its crash-safe ordering rules.
//! * [`keys`]: the node's key file (0600), refused when others can read it.
//! * [`mempool`]: waiting transactions with size limits, per-account sequence order
//!   and fee priority.
//! * [`rpc`]: JSON-RPC 2.0 over HTTP with `/metrics` ([`metrics`]) on the same server.
//! * [`transport`]: the [`transport::Service`] shape of the node's logic and the two
//!   transports that carry it: in-memory over `netsim`, and libp2p.
//! * [`service`]: [`service::NodeService`], the node's logic as one `Service`: the
//!   `mlbft-core` consensus machine, the `ledger` over the node's storage, the mempool
//!   and, on guardians, `bls-gossip` checkpoint finality.
//! * [`localnet`]: a local network's genesis and deterministic keys from one seed.
//! * [`simnet`]: a whole network of services on `netsim` with a transfer workload and
//!   the cross-node agreement checks (`examples/simnet.rs`, `tests/simnet.rs`).
//! * [`node`]: a node as a process: node directories (`meshcast init`) and the node on
//!   libp2p with its redb store and JSON-RPC methods (`meshcast run`).
//! * [`launcher`]: a whole local network as child processes with a workload
//!   (`meshcast localnet`), transfers, a micropayment pool and a broadcaster paying
//!   orchestrators with tickets redeemed on chain; see `docs/node.md`.
//!
//! ```
//! use meshcast_node::storage::{BlockRecord, MemoryStorage, Storage};
//! use mpt_refcount::WriteBatch;
//! use primitives::H256;
//!
//! let mut store = MemoryStorage::new();
//! let block = BlockRecord {
//!     height: 1,
//!     hash: H256::repeat_byte(0xb1),
//!     state_root: H256::repeat_byte(0x5a),
//!     bytes: b"block".to_vec(),
//!     certificate: None,
//! };
//! store.commit_block(block.clone(), WriteBatch::default())?;
//! assert_eq!(store.block(1)?, Some(block));
//! assert_eq!(store.height_of(&H256::repeat_byte(0xb1))?, Some(1));
//! # Ok::<(), meshcast_node::storage::StorageError>(())
//! ```
#![forbid(unsafe_code)]
#![allow(clippy::disallowed_methods, clippy::disallowed_types)]

pub mod keys;
pub mod launcher;
pub mod localnet;
pub mod mempool;
pub mod metrics;
pub mod node;
pub mod rpc;
pub mod service;
pub mod simnet;
pub mod storage;
mod ticket_load;
pub mod transport;
pub mod tx;
