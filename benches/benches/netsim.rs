//! Simulator throughput: events per second for a trivial protocol (tokens passed around a
//! ring), next to the floor of a bare binary-heap event queue doing the same number of
//! push/pop pairs with no node logic.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::cmp::Reverse;
use std::collections::BinaryHeap;
use std::hint::black_box;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use netsim::{Dest, LinkConfig, Node, NodeInput, Outgoing, Sim, SimConfig};
use primitives::Timestamp;

const NODES: usize = 1000;
const TOKENS_PER_NODE: u64 = 4;
const HOPS_MS: u64 = 100; // each token makes one hop per ms for this long

struct Ring {
    next: usize,
    out: Vec<Outgoing<u64>>,
}

impl Node for Ring {
    type Msg = u64;
    fn handle(&mut self, _now: Timestamp, input: NodeInput<u64>) {
        match input {
            NodeInput::Start => {
                for t in 0..TOKENS_PER_NODE {
                    self.out.push(Outgoing { to: Dest::To(self.next), msg: t });
                }
            }
            NodeInput::Message { msg, .. } => self.out.push(Outgoing { to: Dest::To(self.next), msg }),
            NodeInput::Timeout => {}
        }
    }
    fn poll_send(&mut self) -> Option<Outgoing<u64>> {
        self.out.pop()
    }
    fn poll_timeout(&self) -> Option<Timestamp> {
        None
    }
}

fn run_ring() -> u64 {
    let mut sim = Sim::new(SimConfig { seed: 1, default_link: LinkConfig::constant(1), max_steps: u64::MAX });
    for i in 0..NODES {
        sim.add_node(Ring { next: (i + 1) % NODES, out: Vec::new() });
    }
    sim.run_until(Timestamp(HOPS_MS)).unwrap().steps
}

fn bare_heap(events: u64) -> u64 {
    let mut heap = BinaryHeap::new();
    let mut seq = 0u64;
    for i in 0..(NODES as u64 * TOKENS_PER_NODE) {
        seq += 1;
        heap.push(Reverse((0u64, seq, i)));
    }
    let mut done = 0;
    while let Some(Reverse((at, _, tok))) = heap.pop() {
        done += 1;
        if done >= events {
            break;
        }
        seq += 1;
        heap.push(Reverse((at + 1, seq, black_box(tok))));
    }
    done
}

fn throughput(c: &mut Criterion) {
    let events = run_ring();
    let mut group = c.benchmark_group("netsim_events");
    group.throughput(Throughput::Elements(events));
    group.sample_size(20);
    group.bench_function("sim_ring_1000_nodes", |b| b.iter(run_ring));
    group.bench_function("bare_binary_heap", |b| b.iter(|| bare_heap(black_box(events))));
    group.finish();
}

criterion_group!(benches, throughput);
criterion_main!(benches);
