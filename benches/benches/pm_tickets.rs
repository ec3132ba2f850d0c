//! pm-tickets: tickets validated per second (signature recovery + win test + replay
//! check) against the bare secp256k1 recovery rate measured in the same run, and the
//! rayon `parallel` batch verification. Figures in `docs/benchmarks.md`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::disallowed_methods)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use pm_tickets::validate::{NonceLedger, par_verify_signatures, validate_ticket, verify_signatures};
use pm_tickets::{
    Price, Recipient, RecipientConfig, RecipientInput, RecipientKeys, RecipientOutput, Ticket, TicketBatch,
    TicketSenderParams,
};
use primitives::{H256, Machine, SecretKey, Signature, Timestamp, U256};

const N: usize = 200;

struct Fixture {
    tickets: Vec<(Ticket, Signature)>,
    digests: Vec<H256>,
    rand: H256,
}

fn fixture() -> Fixture {
    let key = SecretKey::from_bytes([0x42; 32]).unwrap();
    let rand = H256::repeat_byte(7);
    let params = pm_tickets::TicketParams {
        recipient: SecretKey::from_bytes([0x43; 32]).unwrap().address(),
        face_value: U256::from(10u64).pow(18.into()),
        win_prob: U256::MAX / 1000,
        recipient_rand_hash: pm_tickets::rand_hash(&rand),
        seed: H256::zero(),
        expiration_block: 100,
        price: Price::new(1.into(), 1.into()).unwrap(),
        expiration_params: Default::default(),
    };
    let tickets: Vec<(Ticket, Signature)> = (0..N as u32)
        .map(|n| {
            let t = Ticket::new(&params, key.address(), n);
            let sig = t.sign(&key).unwrap();
            (t, sig)
        })
        .collect();
    let digests = tickets.iter().map(|(t, _)| t.sign_digest()).collect();
    Fixture { tickets, digests, rand }
}

/// Runs bare recovery and full validation (recovery + win test + replay check) over the
/// fixture, alternating ticket by ticket, and returns the time spent in one of them.
fn interleaved(f: &Fixture, iters: u64, time_validate: bool) -> Duration {
    let mut spent = Duration::ZERO;
    for _ in 0..iters {
        let mut ledger = NonceLedger::new();
        for ((t, sig), d) in f.tickets.iter().zip(&f.digests) {
            let start = Instant::now();
            if time_validate {
                black_box(validate_ticket(t, sig, &f.rand, &mut ledger, N).unwrap());
            } else {
                black_box(sig.recover(black_box(d)).unwrap());
            }
            spent += start.elapsed();
            if time_validate {
                black_box(sig.recover(black_box(d)).unwrap());
            } else {
                black_box(validate_ticket(t, sig, &f.rand, &mut ledger, N).unwrap());
            }
        }
    }
    spent
}

fn validate(c: &mut Criterion) {
    let f = fixture();
    let mut group = c.benchmark_group("pm_tickets_validate_200");
    group.throughput(Throughput::Elements(N as u64));
    // The two rates the issue compares are measured interleaved: every iteration runs
    // both workloads ticket by ticket and times only its own, so a shared machine's
    // changing load hits both equally and the ratio stays meaningful.
    group.bench_function("bare_recover", |b| b.iter_custom(|iters| interleaved(&f, iters, false)));
    group.bench_function("validate", |b| b.iter_custom(|iters| interleaved(&f, iters, true)));
    group.bench_function("verify_signatures_sequential", |b| {
        b.iter(|| black_box(verify_signatures(&f.tickets)))
    });
    group.bench_function("verify_signatures_parallel", |b| {
        b.iter(|| black_box(par_verify_signatures(&f.tickets)))
    });
    group.finish();

    // The whole recipient path for one 200-ticket batch: rand recomputation, replay
    // checks, (parallel) recovery, win tests, crediting.
    let secret = [9u8; 32];
    let orch = SecretKey::from_bytes([0x43; 32]).unwrap().address();
    let sender = f.tickets[0].0.sender;
    let mut r = Recipient::new(
        RecipientConfig { ev: U256::from(10u64).pow(15.into()), ..RecipientConfig::default() },
        RecipientKeys { address: orch, secret },
        Timestamp::ZERO,
        [0; 32],
    );
    let chain = RecipientInput::Chain { block: 1, round: 1, round_block_hash: H256::repeat_byte(1) };
    let funds = RecipientInput::SenderFunds {
        sender,
        max_float: U256::from(10u64).pow(20.into()),
        withdraw_round: 0,
    };
    r.handle(Timestamp::ZERO, chain.clone()).unwrap();
    r.handle(Timestamp::ZERO, RecipientInput::GasPrice(U256::from(1_000_000_000u64))).unwrap();
    r.handle(Timestamp::ZERO, funds.clone()).unwrap();
    r.handle(
        Timestamp::ZERO,
        RecipientInput::Quote { sender, price: Price::new(1.into(), 1.into()).unwrap() },
    )
    .unwrap();
    let Some(RecipientOutput::Params { params, .. }) = r.poll_output() else { panic!("no params") };
    let key = SecretKey::from_bytes([0x42; 32]).unwrap();
    let batch = TicketBatch {
        params,
        sender,
        sender_params: (0..N as u32)
            .map(|n| TicketSenderParams {
                sender_nonce: n,
                sig: Ticket::new(&params, sender, n).sign(&key).unwrap(),
            })
            .collect(),
    };
    let mut group = c.benchmark_group("pm_tickets_recipient_batch_200");
    group.throughput(Throughput::Elements(N as u64));
    group.bench_function("recipient_handle_batch", |b| {
        b.iter_batched(
            || {
                // A recipient that knows the round and the sender's funds (both are
                // checked on every batch).
                let mut r = Recipient::new(
                    RecipientConfig { ev: U256::from(10u64).pow(15.into()), ..RecipientConfig::default() },
                    RecipientKeys { address: orch, secret },
                    Timestamp::ZERO,
                    [0; 32],
                );
                r.handle(Timestamp::ZERO, chain.clone()).unwrap();
                r.handle(Timestamp::ZERO, funds.clone()).unwrap();
                (r, Box::new(batch.clone()))
            },
            |(mut r, b)| {
                r.handle(Timestamp::ZERO, RecipientInput::Batch(b)).unwrap();
                r
            },
            BatchSize::SmallInput,
        )
    });
    group.finish();
}

criterion_group!(benches, validate);
criterion_main!(benches);
