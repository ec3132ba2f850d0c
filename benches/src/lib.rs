//! Criterion benchmarks for the meshcast workspace live in `benches/benches/`, one file
//! per crate; run them with `cargo bench -p meshcast-benches --bench <name>`. Figures and
//! the commands that produced them are recorded in `docs/benchmarks.md`.
//!
//! Every bench group reports a protocol operation next to a baseline measured in the same
//! process (a naive implementation, or the well-known crate we compete with), so the
//! ratio holds even on a noisy machine.
