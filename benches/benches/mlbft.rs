//! mlbft-core: votes handled per second by the validator machine (fake crypto: the
//! protocol's own cost), and commit-certificate verification with real BLS for 20 and 100
//! validators against verifying every vote alone (the baseline, same run).
//!
//! `cargo bench -p meshcast-benches --bench mlbft -- --warm-up-time 1 --measurement-time 3`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::sync::Arc;

use bls_gossip::{Bls, FakeScheme, Scheme};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use meshcast_benches::paired;
use mlbft_core::{
    Block, Certificate, CommitCertificate, Config, Input, KeyBytes, Machine, Message, Proposal,
    StaticContext, ValidatorSet, Vote, proposal_message, vote_message,
};
use primitives::Timestamp;

type Keys<S> = Vec<(<S as Scheme>::SecretKey, <S as Scheme>::PublicKey)>;

fn committee<S: Scheme + KeyBytes>(n: usize) -> (Keys<S>, Arc<ValidatorSet<S>>) {
    let keys: Keys<S> = (0..n)
        .map(|i| {
            let mut ikm = [3u8; 32];
            ikm[..8].copy_from_slice(&(i as u64).to_le_bytes());
            S::keypair(&ikm).unwrap()
        })
        .collect();
    let set = Arc::new(ValidatorSet::<S>::equal_stake(keys.iter().map(|k| k.1.clone()).collect()).unwrap());
    (keys, set)
}

fn votes<S: Scheme>(keys: &Keys<S>, block: &Block, skip: u32) -> Vec<Vote<S>> {
    let r = block.reference();
    let msg = vote_message(&r);
    (0..keys.len() as u32)
        .filter(|&i| i != skip)
        .map(|i| Vote { block: r, voter: i, signature: S::sign(&keys[i as usize].0, &msg) })
        .collect()
}

fn bench(c: &mut Criterion) {
    // Votes handled per second: one observer of 100 validators receives the proposal,
    // then the 99 other votes of the epoch (a CC forms at the 67th; the rest are counted).
    let n = 100;
    let (keys, set) = committee::<FakeScheme>(n);
    let proposer = set.proposer(1);
    let me = (proposer + 1) % n as u32;
    let block =
        Block { height: 1, epoch: 1, parent: Block::genesis().hash(), proposer, payload: vec![1; 64] };
    let proposal = Message::Proposal(Proposal {
        block: block.clone(),
        parent_cc: None,
        signature: FakeScheme::sign(&keys[proposer as usize].0, &proposal_message(&block.reference())),
    });
    let all = votes(&keys, &block, me);
    let mut g = c.benchmark_group("mlbft_votes");
    g.throughput(Throughput::Elements(all.len() as u64));
    g.bench_function("machine_handles_99_votes_fake_crypto", |b| {
        b.iter_batched(
            || {
                let ctx = StaticContext::new(set.clone(), Some((me, keys[me as usize].0)));
                let mut m = Machine::new(Config::default(), ctx, Timestamp::ZERO, [0; 32]);
                m.handle(Timestamp::ZERO, Input::Message { from: proposer, msg: proposal.clone() }).unwrap();
                while m.poll_output().is_some() {}
                (m, all.clone())
            },
            |(mut m, votes)| {
                for v in votes {
                    let from = v.voter;
                    m.handle(Timestamp::from_millis(1), Input::Message { from, msg: Message::Vote(v) })
                        .unwrap();
                    while let Some(o) = m.poll_output() {
                        black_box(o);
                    }
                }
                m
            },
            BatchSize::SmallInput,
        )
    });
    g.finish();

    // CC verification (one aggregate check, quorum included) against verifying each vote.
    let mut g = c.benchmark_group("mlbft_cc_verify");
    for n in [20usize, 100] {
        let (keys, set) = committee::<Bls>(n);
        let block =
            Block { height: 5, epoch: 9, parent: Block::genesis().hash(), proposer: 0, payload: vec![] };
        let vs = votes(&keys, &block, u32::MAX);
        let sigs: Vec<_> = vs.iter().map(|v| (v.voter as usize, v.signature)).collect();
        let cc =
            CommitCertificate { block: block.reference(), cert: Certificate::aggregate(n, &sigs).unwrap() };
        cc.verify(&set).unwrap();
        let one_by_one = || {
            for v in &vs {
                v.verify_signature(&set).unwrap();
            }
        };
        g.bench_function(format!("cc_{n}"), |b| b.iter(|| cc.verify(black_box(&set)).unwrap()));
        g.bench_function(format!("each_vote_{n}"), |b| b.iter(one_by_one));
        let ratio = paired(11, 3, |_| one_by_one(), |_| cc.verify(&set).unwrap());
        println!("paired/cc_{n}_speedup_over_each_vote  {ratio:.1}");
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
