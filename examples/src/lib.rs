//! Cross-crate walkthroughs of the meshcast protocols; each lives beside this package's
//! manifest and runs with `cargo run -p meshcast-examples --example <name>`:
//!
//! * `micropool_walkthrough` — the Theta whitepaper's micropayment-pool walkthrough
//!   (Figures 7 and 8): a viewer pays three caching peers from one pool whose existence
//!   each peer checks with a Merkle Patricia proof (`mpt-refcount`) against the state
//!   root, then double-spends with a colluding fourth peer and loses its collateral. The
//!   state trie keeps the last two roots and prunes older ones by reference counting.
