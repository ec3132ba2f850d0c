//! Issue 18, items 1–5: each adversarial finding replayed through the public API.
//!
//! * Cancelling pieces built with batch weights predicted from a known seed, under real
//!   BLS (item 1), and a batch check that is fooled outright (defence in depth).
//! * `FakeScheme`'s batch check against pieces off by `2^63` and inflated multiplicities
//!   (item 2).
//! * Duplicate keys in a guardian set (item 3); the 2/3 rule and signer vectors at the
//!   edges (item 4); what a `Misbehaviour` report does and does not show (item 5).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod common;

use std::sync::Arc;

use bls_gossip::bls::{self, SecretKey};
use bls_gossip::{
    Aggregate, Bls, Config, Context, Error, Event, FakePublicKey, FakeScheme, FakeSecretKey, FakeSignature,
    GossipMachine, GossipMessage, GuardianSet, Input, Output, Scheme, SignerVector, checkpoint_message,
    exceeds_two_thirds,
};
use common::times;
use primitives::Timestamp;
use rand_chacha::ChaCha8Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

/// The weights `ChaCha8Rng::from_seed(seed)` gives a batch's first two items (the draw
/// `bls::batch_verify` makes: the next non-zero `u64`).
fn predicted_weights(seed: [u8; 32]) -> (u64, u64) {
    let mut rng = ChaCha8Rng::from_seed(seed);
    let mut next = || loop {
        let r = rng.next_u64();
        if r != 0 {
            break r;
        }
    };
    let r1 = next();
    (r1, next())
}

fn outputs<S: Scheme>(m: &mut GossipMachine<S>) -> Vec<Output<S>> {
    std::iter::from_fn(|| m.poll_output()).collect()
}

fn accused<S: Scheme>(out: &[Output<S>]) -> Vec<usize> {
    out.iter().filter_map(|o| if let Output::Misbehaviour(mb) = o { Some(mb.from) } else { None }).collect()
}

fn finalized<S: Scheme>(out: &[Output<S>]) -> Vec<Aggregate<S>> {
    out.iter()
        .filter_map(|o| match o {
            Output::Event(Event::Finalized { aggregate, .. }) => Some(aggregate.clone()),
            _ => None,
        })
        .collect()
}

/// Item 1. Guardians 1 and 2 know the victim's seed, so they know the weights `r1, r2`
/// its first batch would use if they were drawn from `ChaCha8Rng::from_seed(seed)`; they
/// send `σ1 + r2·X` and `σ2 − r1·X`. Under those weights the batch passes although
/// neither piece nor their sum verifies; with them merged, the victim would hold 3 of 4
/// signers and finalize an aggregate that fails verification. The machine must not.
#[test]
fn cancelling_pair_built_from_predicted_weights_never_finalizes_under_real_bls() {
    const SEED: [u8; 32] = [7; 32];
    let sks: Vec<SecretKey> = (0..4u8).map(|i| SecretKey::key_gen(&[i + 1; 32]).unwrap()).collect();
    let keys: Vec<_> = sks.iter().map(|k| k.public_key()).collect();
    let set = Arc::new(GuardianSet::<Bls>::equal_stake(keys.clone()).unwrap());
    let msg: Arc<[u8]> = checkpoint_message(9, &[1; 32], &[2; 32]).into();
    let x = sks[3].sign(b"any point of G2");
    let (r1, r2) = predicted_weights(SEED);
    let s1 = sks[1].sign(&msg).combine(&times(&x, r2).unwrap());
    let s2 = sks[2].sign(&msg).combine(&times(&x, r1).unwrap().negate().unwrap());
    let c1 = SignerVector::singleton(4, 1).unwrap();
    let c2 = SignerVector::singleton(4, 2).unwrap();

    // The attack works against weights drawn from the predictable stream ...
    let items = [(&c1, &s1), (&c2, &s2)];
    assert!(bls::batch_verify(&keys, &msg, &items, &mut ChaCha8Rng::from_seed(SEED)).unwrap());
    // ... although neither piece verifies, and neither does their merge.
    assert!(!bls::verify_weighted(&keys, &msg, &c1, &s1).unwrap());
    assert!(!bls::verify_weighted(&keys, &msg, &c2, &s2).unwrap());
    let merged = SignerVector::from_counts(&[1, 1, 1, 0]);
    let sum = sks[0].sign(&msg).combine(&s1).combine(&s2);
    assert!(!bls::verify_weighted(&keys, &msg, &merged, &sum).unwrap());
    // With weights from another stream the batch fails.
    assert!(!bls::batch_verify(&keys, &msg, &items, &mut ChaCha8Rng::from_seed([8; 32])).unwrap());

    // The victim, seeded with SEED.
    let ctx = Context::new(9, set.clone(), msg.clone(), Some((0, sks[0].sign(&msg))), vec![1, 2, 3]).unwrap();
    let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, SEED);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    outputs(&mut m);
    for (from, c, s) in [(1, &c1, s1), (2, &c2, s2)] {
        let piece = Aggregate { signers: Arc::new(c.clone()), signature: s };
        m.handle(Timestamp(50), Input::Message { from, msg: GossipMessage::new(9, piece) }).unwrap();
    }
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    let out = outputs(&mut m);
    for agg in finalized(&out) {
        assert!(agg.verify(&keys, &msg).unwrap(), "finalized an aggregate that does not verify");
    }
    assert!(m.finalized_round().is_none(), "only guardian 0's own signature is valid");
    assert!(m.aggregate().unwrap().verify(&keys, &msg).unwrap());
    assert_eq!(accused(&out), vec![1, 2], "both pieces are invalid, and both are named");
    // The keyed weights caught them in the batch: the merged-aggregate check never fired
    // (with weights from `ChaCha8Rng::from_seed(SEED)` the batch would pass and only that
    // check would stop them).
    assert_eq!(m.stats().merge_check_failures, 0);
    // Nothing the machine sends fails verification.
    for o in &out {
        if let Output::Send { msg: sent, .. } = o {
            assert!(sent.aggregate().verify(&keys, &msg).unwrap());
        }
    }
}

/// A scheme whose batch check always passes: models weights an attacker predicted
/// exactly, so only the machine's own check of the merged aggregate stands between the
/// pieces and `Finalized`. It counts its plain verifications (per test thread).
#[derive(Clone, Debug, PartialEq, Eq)]
struct FooledBatch;

thread_local! {
    static PLAIN_VERIFICATIONS: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

fn plain_verifications() -> u64 {
    PLAIN_VERIFICATIONS.with(|c| c.get())
}

impl Scheme for FooledBatch {
    type SecretKey = FakeSecretKey;
    type PublicKey = FakePublicKey;
    type Signature = FakeSignature;
    type KeyTable = Vec<FakePublicKey>;
    const NAME: &'static str = "fooled";

    fn keypair(ikm: &[u8; 32]) -> Result<(FakeSecretKey, FakePublicKey), Error> {
        FakeScheme::keypair(ikm)
    }
    fn sign(sk: &FakeSecretKey, msg: &[u8]) -> FakeSignature {
        FakeScheme::sign(sk, msg)
    }
    fn combine(a: &FakeSignature, b: &FakeSignature) -> FakeSignature {
        FakeScheme::combine(a, b)
    }
    fn negate(sig: &FakeSignature) -> Result<FakeSignature, Error> {
        FakeScheme::negate(sig)
    }
    fn signature_to_bytes(sig: &FakeSignature) -> [u8; 96] {
        FakeScheme::signature_to_bytes(sig)
    }
    fn signature_from_bytes(bytes: &[u8]) -> Result<FakeSignature, Error> {
        FakeScheme::signature_from_bytes(bytes)
    }
    fn verify_aggregate(
        keys: &[FakePublicKey],
        msg: &[u8],
        signers: &SignerVector,
        sig: &FakeSignature,
    ) -> Result<bool, Error> {
        PLAIN_VERIFICATIONS.with(|c| c.set(c.get() + 1));
        FakeScheme::verify_aggregate(keys, msg, signers, sig)
    }
    fn key_table(keys: Vec<FakePublicKey>) -> Vec<FakePublicKey> {
        keys
    }
    fn table_keys(table: &Vec<FakePublicKey>) -> &[FakePublicKey] {
        table
    }
    fn batch_verify(
        _: &Vec<FakePublicKey>,
        _: &[u8],
        _: &[(&SignerVector, &FakeSignature)],
        _: &mut dyn RngCore,
    ) -> Result<bool, Error> {
        Ok(true)
    }
}

/// Item 1, defence in depth: even when the batch check is fooled, the merged aggregate is
/// verified before it is adopted, sent or finalized; on failure each piece is checked
/// alone, the bad ones are reported and dropped, and the good ones are still merged.
#[test]
fn merged_aggregate_is_verified_even_when_the_batch_check_is_fooled() {
    type S = FooledBatch;
    let pairs: Vec<_> = (0..5u8).map(|i| S::keypair(&[i + 1; 32]).unwrap()).collect();
    let keys: Vec<_> = pairs.iter().map(|p| p.1).collect();
    let set = Arc::new(GuardianSet::<S>::equal_stake(keys.clone()).unwrap());
    let msg: Arc<[u8]> = checkpoint_message(3, &[4; 32], &[5; 32]).into();
    let sig = |i: usize| S::sign(&pairs[i].0, &msg);
    let ctx = Context::new(3, set.clone(), msg.clone(), Some((0, sig(0))), vec![1, 2, 3, 4]).unwrap();
    let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [1; 32]);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    outputs(&mut m);
    let x = FakeSignature(12_345);
    let neg_x = S::negate(&x).unwrap();
    let single = |i: usize, s: FakeSignature| {
        GossipMessage::new(
            3,
            Aggregate { signers: Arc::new(SignerVector::singleton(5, i).unwrap()), signature: s },
        )
    };
    // 1 and 2: a cancelling pair (their sum is valid, each piece is not); 3: inflated
    // multiplicity (claims its signature twice, carries it once); 4: honest.
    m.handle(Timestamp(10), Input::Message { from: 1, msg: single(1, S::combine(&sig(1), &x)) }).unwrap();
    m.handle(Timestamp(10), Input::Message { from: 2, msg: single(2, S::combine(&sig(2), &neg_x)) }).unwrap();
    let inflated =
        Aggregate { signers: Arc::new(SignerVector::from_counts(&[0, 0, 0, 2, 0])), signature: sig(3) };
    m.handle(Timestamp(10), Input::Message { from: 3, msg: GossipMessage::new(3, inflated) }).unwrap();
    m.handle(Timestamp(10), Input::Message { from: 4, msg: single(4, sig(4)) }).unwrap();
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    let out = outputs(&mut m);
    assert_eq!(accused(&out), vec![1, 2, 3]);
    assert_eq!(m.stats().merge_check_failures, 1);
    assert!(finalized(&out).is_empty(), "2 valid signers of 5 are no quorum");
    let agg = m.aggregate().unwrap();
    assert_eq!(agg.signers.iter().map(|(i, _)| i).collect::<Vec<_>>(), vec![0, 4]);
    assert!(agg.verify(&keys, &msg).unwrap());
    for o in &out {
        if let Output::Send { msg: sent, .. } = o {
            assert!(sent.aggregate().verify(&keys, &msg).unwrap());
        }
    }
}

/// Item 1, defence in depth across rounds: a bad individual signature that passed a
/// fooled batch but was not needed that round (another piece covered its signer) is not
/// trusted later: when normalization first uses it and the merged check fails, it is
/// checked alone, dropped and its sender reported — and the honest pieces still finalize.
#[test]
fn a_bad_individual_signature_is_caught_when_normalization_first_uses_it() {
    type S = FooledBatch;
    let n = 7;
    let pairs: Vec<_> = (0..n as u8).map(|i| S::keypair(&[i + 1; 32]).unwrap()).collect();
    let keys: Vec<_> = pairs.iter().map(|p| p.1).collect();
    let set = Arc::new(GuardianSet::<S>::equal_stake(keys.clone()).unwrap());
    let msg: Arc<[u8]> = checkpoint_message(3, &[4; 32], &[5; 32]).into();
    let sig = |i: usize| S::sign(&pairs[i].0, &msg);
    let ctx = Context::new(3, set.clone(), msg.clone(), Some((0, sig(0))), (1..n).collect()).unwrap();
    let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [1; 32]);
    let piece = |signers: &[usize], s: FakeSignature| {
        let mut c = vec![0u8; n];
        for &u in signers {
            c[u] = 1;
        }
        GossipMessage::new(3, Aggregate { signers: Arc::new(SignerVector::from_counts(&c)), signature: s })
    };
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    // Round 1: guardian 1's own signature is off by X; guardian 2 honestly sends {1, 2},
    // which the greedy rebuild takes first, so the bad singleton adds nothing this round.
    let bad = S::combine(&sig(1), &FakeSignature(999));
    m.handle(Timestamp(10), Input::Message { from: 1, msg: piece(&[1], bad) }).unwrap();
    m.handle(Timestamp(10), Input::Message { from: 2, msg: piece(&[1, 2], S::combine(&sig(1), &sig(2))) })
        .unwrap();
    let mut all = Vec::new();
    for round in 1..6u32 {
        let now = u64::from(round) * 200;
        // Honest pieces {1, u}: merging one doubles guardian 1, so normalization would
        // subtract the bad singleton.
        let u = 2 + round as usize;
        if round > 1 && u < n {
            m.handle(
                Timestamp(now - 100),
                Input::Message { from: u, msg: piece(&[1, u], S::combine(&sig(1), &sig(u))) },
            )
            .unwrap();
        }
        m.handle(Timestamp(now), Input::Timeout).unwrap();
        let out = outputs(&mut m);
        for a in finalized(&out) {
            assert!(a.verify(&keys, &msg).unwrap(), "round {round}: invalid finalized aggregate");
        }
        for o in &out {
            if let Output::Send { msg: sent, .. } = o {
                assert!(
                    sent.aggregate().verify(&keys, &msg).unwrap(),
                    "round {round}: sent an invalid aggregate"
                );
            }
        }
        assert!(m.aggregate().unwrap().verify(&keys, &msg).unwrap(), "round {round}: invalid aggregate held");
        all.extend(out);
    }
    assert_eq!(accused(&all), vec![1], "the bad singleton's sender, once; no honest peer");
    assert_eq!(m.stats().merge_check_failures, 1);
    // {0, 1, 2} from round 1, then 4 and 5: 5 of 7 is above 2/3 (merging stops there).
    assert_eq!(
        m.aggregate().unwrap().signers.iter().map(|(i, _)| i).collect::<Vec<_>>(),
        vec![0, 1, 2, 4, 5]
    );
    assert_eq!(m.finalized_round(), Some(3));
}

fn fake_set(n: usize) -> (Vec<FakeSecretKey>, Vec<FakePublicKey>) {
    (0..n as u8).map(|i| FakeScheme::keypair(&[i + 1; 32]).unwrap()).unzip()
}

/// Item 2. Modulo 2^64 with odd weights, two pieces each off by 2^63 passed every batch
/// (`r1·2^63 + r2·2^63 ≡ 0`). Modulo the prime, they fail, for every seed tried; so do
/// inflated multiplicities and a cancelling pair built with equal-weight assumptions.
#[test]
fn fake_scheme_batch_check_catches_errors_that_cancelled_modulo_2_64() {
    let (sks, keys) = fake_set(4);
    let msg = b"checkpoint";
    let sig = |i: usize| FakeScheme::sign(&sks[i], msg);
    let half = FakeSignature(1 << 63);
    let c1 = SignerVector::singleton(4, 1).unwrap();
    let c2 = SignerVector::singleton(4, 2).unwrap();
    let b1 = FakeScheme::combine(&sig(1), &half);
    let b2 = FakeScheme::combine(&sig(2), &half);
    let inflated = SignerVector::from_counts(&[0, 0, 0, 3]);
    let x = FakeSignature(0x1234_5678);
    let p1 = FakeScheme::combine(&sig(1), &x);
    let p2 = FakeScheme::combine(&sig(2), &FakeScheme::negate(&x).unwrap());
    for seed in 0..200u64 {
        let mut rng = ChaCha8Rng::seed_from_u64(seed);
        assert!(!FakeScheme::batch_verify(&keys, msg, &[(&c1, &b1), (&c2, &b2)], &mut rng).unwrap());
        assert!(
            !FakeScheme::batch_verify(&keys, msg, &[(&inflated, &sig(3)), (&c1, &sig(1))], &mut rng).unwrap()
        );
        assert!(!FakeScheme::batch_verify(&keys, msg, &[(&c1, &p1), (&c2, &p2)], &mut rng).unwrap());
        assert!(FakeScheme::batch_verify(&keys, msg, &[(&c1, &sig(1)), (&c2, &sig(2))], &mut rng).unwrap());
    }
    // The field arithmetic: negation is the additive inverse, and values are canonical on
    // the wire.
    assert_eq!(FakeScheme::combine(&x, &FakeScheme::negate(&x).unwrap()), FakeSignature(0));
    let mut wire = [0u8; 96];
    wire[..8].copy_from_slice(&FakeScheme::MODULUS.to_le_bytes());
    assert!(matches!(FakeScheme::signature_from_bytes(&wire), Err(Error::BadPoint { .. })));
    assert_eq!(FakeScheme::signature_from_bytes(&FakeScheme::signature_to_bytes(&b1)).unwrap(), b1);
}

/// Item 3. One holder listing its key three times among four guardians would reach the
/// quorum alone; the set is refused with the indices of the first repeat.
#[test]
fn guardian_sets_refuse_duplicate_keys() {
    let (_, fake) = fake_set(2);
    let dup = vec![fake[0], fake[0], fake[0], fake[1]];
    assert_eq!(
        GuardianSet::<FakeScheme>::equal_stake(dup).unwrap_err(),
        Error::DuplicateKey { first: 0, second: 1 }
    );
    assert_eq!(
        GuardianSet::<FakeScheme>::new(vec![fake[1], fake[0], fake[1]], vec![1, 2, 3]).unwrap_err(),
        Error::DuplicateKey { first: 0, second: 2 }
    );
    // A scheme without canonical key bytes takes the pairwise path: same answer.
    assert_eq!(
        GuardianSet::<FooledBatch>::new(vec![fake[1], fake[0], fake[0]], vec![1, 2, 3]).unwrap_err(),
        Error::DuplicateKey { first: 1, second: 2 }
    );
    let sks: Vec<SecretKey> = (0..2u8).map(|i| SecretKey::key_gen(&[i + 1; 32]).unwrap()).collect();
    let members: Vec<_> =
        [0, 1, 0, 0].iter().map(|&i| (sks[i].public_key(), sks[i].prove_possession(), 1)).collect();
    assert_eq!(
        GuardianSet::<Bls>::with_proofs(&members).unwrap_err(),
        Error::DuplicateKey { first: 0, second: 2 }
    );
    assert!(GuardianSet::<Bls>::with_proofs(&members[..2]).is_ok());
}

/// `3·part > 2·total` in 256-bit arithmetic (two u128 limbs), the reference.
fn reference_two_thirds(part: u128, total: u128) -> bool {
    fn times(x: u128, k: u128) -> (u128, u128) {
        let (lo, hi) = (x & u128::from(u64::MAX), x >> 64);
        let lo_p = lo * k;
        let hi_p = hi * k + (lo_p >> 64);
        (hi_p >> 64, (hi_p << 64) | (lo_p & u128::from(u64::MAX)))
    }
    times(part, 3) > times(total, 2)
}

/// Item 4. The 2/3 rule is exact for all inputs (before, when both products overflowed
/// it answered true: `u128::MAX / 2` of `u128::MAX` is not above 2/3).
#[test]
fn two_thirds_rule_is_exact_where_the_products_overflow() {
    let m = u128::MAX;
    assert!(!exceeds_two_thirds(m / 2, m));
    assert!(!exceeds_two_thirds(m / 3 * 2, m));
    assert!(exceeds_two_thirds(m / 3 * 2 + 2, m));
    assert!(exceeds_two_thirds(m, m));
    assert!(!exceeds_two_thirds(0, 0));
    assert!(exceeds_two_thirds(1, 0));
    let edges =
        [0, 1, 2, 3, m / 3, m / 3 + 1, m / 2, m / 2 + 1, m / 3 * 2, m / 3 * 2 + 1, m / 3 * 2 + 2, m - 1, m];
    for &p in &edges {
        for &t in &edges {
            assert_eq!(exceeds_two_thirds(p, t), reference_two_thirds(p, t), "part {p} total {t}");
        }
    }
    let mut rng = ChaCha8Rng::seed_from_u64(18);
    for _ in 0..10_000 {
        let t = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
        let p = (u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())) % t.max(1);
        assert_eq!(exceeds_two_thirds(p, t), reference_two_thirds(p, t), "part {p} total {t}");
    }
}

/// Item 4. Signer vectors of different lengths: well defined as sets of indices, no panic,
/// no truncation; merging them is still refused.
#[test]
fn signer_vectors_of_different_lengths_neither_panic_nor_truncate() {
    let short = SignerVector::from_counts(&[1; 10]);
    let mut counts = vec![0u8; 200];
    counts[5] = 2;
    counts[150] = 7;
    let long = SignerVector::from_counts(&counts);
    assert_eq!(short.gain(&long), 1, "index 150 is a signer the short vector lacks");
    assert_eq!(long.gain(&short), 9);
    assert_eq!(short.overlap(&long), 1);
    assert_eq!(long.overlap(&short), 1);
    assert_eq!(short.max_after_merge(&long), 7);
    assert_eq!(long.max_after_merge(&short), 3);
    assert!(!short.covers(&long));
    assert!(!long.covers(&short));
    let mut small = vec![0u8; 200];
    small[3] = 1;
    assert!(short.covers(&SignerVector::from_counts(&small)), "index 3 is in both");
    assert_eq!(SignerVector::from_counts(&small).gain(&short), 9);
    let mut merged = short.clone();
    assert_eq!(merged.merge(&long), Err(Error::LengthMismatch { left: 10, right: 200 }));
    assert_eq!(merged, short);
}

/// Item 5. A `Misbehaviour` names the link an invalid aggregate came over, not a signer:
/// here guardian 2 relays an aggregate claiming only guardian 3, and the report names 2.
/// Anyone can re-check that the aggregate is invalid, but nothing in it is signed by 2.
#[test]
fn misbehaviour_names_the_link_not_a_signer() {
    let (sks, keys) = fake_set(4);
    let set = Arc::new(GuardianSet::<FakeScheme>::equal_stake(keys.clone()).unwrap());
    let msg: Arc<[u8]> = checkpoint_message(1, &[0; 32], &[0; 32]).into();
    let ctx =
        Context::new(1, set, msg.clone(), Some((0, FakeScheme::sign(&sks[0], &msg))), vec![1, 2, 3]).unwrap();
    let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [2; 32]);
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    let junk = Aggregate {
        signers: Arc::new(SignerVector::singleton(4, 3).unwrap()),
        signature: FakeScheme::sign(&sks[3], b"another message"),
    };
    m.handle(Timestamp(5), Input::Message { from: 2, msg: GossipMessage::new(1, junk.clone()) }).unwrap();
    m.handle(Timestamp(200), Input::Timeout).unwrap();
    let reports: Vec<_> = outputs(&mut m)
        .into_iter()
        .filter_map(|o| if let Output::Misbehaviour(mb) = o { Some(mb) } else { None })
        .collect();
    assert_eq!(reports.len(), 1);
    assert_eq!(reports[0].from, 2);
    assert_eq!(reports[0].aggregate, junk);
    assert!(!reports[0].aggregate.verify(&keys, &msg).unwrap());
    assert_eq!(reports[0].aggregate.signers.count(2), 0, "the named peer signed nothing in it");
}

/// What one run of [`fallback_run`] cost.
#[derive(Debug, PartialEq, Eq)]
struct FallbackCost {
    plain_verifications: u64,
    merge_check_failures: u64,
    accused: Vec<usize>,
    finalized_round: Option<u32>,
}

/// n = 16, victim 0 with a fooled batch check (the attacker predicts every weight).
/// Guardians `1..=byz` are Byzantine: guardian `b` first sends a bad singleton in round
/// `first_bad(b)` and then again in every round up to `last_bad`; honest guardian `u`
/// (`byz < u < 16`) sends its own singleton in round `u − byz`.
fn fallback_run(byz: usize, first_bad: impl Fn(usize) -> u32, last_bad: u32) -> FallbackCost {
    type S = FooledBatch;
    let n = 16;
    let pairs: Vec<_> = (0..n as u8).map(|i| S::keypair(&[i + 1; 32]).unwrap()).collect();
    let keys: Vec<_> = pairs.iter().map(|p| p.1).collect();
    let set = Arc::new(GuardianSet::<S>::equal_stake(keys.clone()).unwrap());
    let msg: Arc<[u8]> = checkpoint_message(3, &[4; 32], &[5; 32]).into();
    let sig = |i: usize| S::sign(&pairs[i].0, &msg);
    let ctx = Context::new(3, set, msg.clone(), Some((0, sig(0))), (1..n).collect()).unwrap();
    let mut m = GossipMachine::new(Config::default(), ctx, Timestamp::ZERO, [1; 32]);
    let single = |i: usize, s: FakeSignature| {
        GossipMessage::new(
            3,
            Aggregate { signers: Arc::new(SignerVector::singleton(n, i).unwrap()), signature: s },
        )
    };
    let start = plain_verifications();
    m.handle(Timestamp::ZERO, Input::Timeout).unwrap();
    let mut all = Vec::new();
    for round in 1..=16u32 {
        let now = u64::from(round) * 200;
        for b in 1..=byz {
            if (first_bad(b)..=last_bad).contains(&round) {
                let bad = S::combine(&sig(b), &FakeSignature(1_000 + round as u64));
                m.handle(Timestamp(now - 100), Input::Message { from: b, msg: single(b, bad) }).unwrap();
            }
        }
        for u in byz + 1..n {
            if u - byz == round as usize {
                m.handle(Timestamp(now - 100), Input::Message { from: u, msg: single(u, sig(u)) }).unwrap();
            }
        }
        m.handle(Timestamp(now), Input::Timeout).unwrap();
        let out = outputs(&mut m);
        for a in finalized(&out) {
            // Checked through FakeScheme, so the test's own check is not counted.
            assert!(FakeScheme::verify_aggregate(&keys, &msg, &a.signers, &a.signature).unwrap());
        }
        all.extend(out);
    }
    FallbackCost {
        plain_verifications: plain_verifications() - start,
        merge_check_failures: m.stats().merge_check_failures,
        accused: accused(&all),
        finalized_round: m.finalized_round(),
    }
}

/// Review: CPU amplification through the merged-check fallback. Even with every batch
/// weight predicted, a Byzantine peer buys at most one fallback with its first bad piece
/// (it is reported and ignored from then on), so repeating bad pieces costs the victim
/// no verification at all, and the total is bounded by the number of Byzantine peers.
#[test]
fn bad_pieces_cannot_buy_more_than_one_fallback_per_byzantine_peer() {
    let byz = 5;
    // All five send a bad piece in round 1 only, or in every round: the same cost.
    let once = fallback_run(byz, |_| 1, 1);
    let every_round = fallback_run(byz, |_| 1, 16);
    assert_eq!(once, every_round, "repeated bad pieces from reported peers cost nothing");
    assert_eq!(once.merge_check_failures, 1);
    assert_eq!(once.accused, vec![1, 2, 3, 4, 5]);
    // Round 1: the merged check, then the 6 pieces alone (a bad singleton found bad as a
    // piece is not checked a second time as an individual signature), the re-merged
    // aggregate; rounds 2–10: one merged check each (one honest piece per round).
    // Quorum (11 of 16) in round 10.
    assert_eq!(once.plain_verifications, 1 + 6 + 1 + 9);
    assert_eq!(once.finalized_round, Some(10));

    // Staggered: Byzantine peer b opens with its bad piece in round b, then repeats it.
    // Each buys one fallback; a fallback verifies at most the round's pieces, the
    // unconfirmed individual signatures and two aggregates, each at most n.
    let staggered = fallback_run(byz, |b| b as u32, 16);
    assert_eq!(staggered.merge_check_failures, byz as u64);
    assert_eq!(staggered.accused, vec![1, 2, 3, 4, 5]);
    let n = 16u64;
    let ticks = 16u64;
    assert!(
        staggered.plain_verifications <= ticks + byz as u64 * (2 * n + 1),
        "{} plain verifications",
        staggered.plain_verifications
    );
    assert_eq!(staggered.finalized_round, Some(10));
}
