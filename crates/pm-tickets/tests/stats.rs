//! Statistical check of the win test: over many tickets with fixed seeds, the realised
//! payout is within 3 standard deviations of the expected value.
//!
//! * `payout_synthetic_signatures_100k` (default): 100,000 tickets whose 65-byte
//!   signatures are deterministic pseudo-random canonical signatures (the win test only
//!   hashes the signature bytes with the rand, so it needs no signing).
//! * `payout_signed_tickets_20k` (default): 20,000 really signed tickets.
//! * `payout_signed_tickets_100k` (ignored, slow in debug): 100,000 really signed tickets;
//!   `cargo test -p pm-tickets --release --test stats -- --ignored`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic, missing_docs)]

use pm_tickets::*;
use primitives::{Address, H256, SecretKey, Signature, U256, keccak256};

const FACE: u64 = 1_000_000_000_000_000_000;

fn win_prob() -> U256 {
    U256::MAX / 50 // p ≈ 0.02
}

/// Checks |payout − n·EV| ≤ 3·σ with σ = face·sqrt(n·p·(1−p)); returns wins.
fn check(wins: u64, n: u64) -> u64 {
    let p = 1.0 / 50.0;
    let ev = ExpectedValue::of(U256::from(FACE), win_prob());
    // winProb = floor((2^256 − 1) / 50), so the exact EV sits just below face / 50.
    assert_eq!(ev.ceil(), U256::from(FACE / 50));
    assert_eq!(ev.floor(), U256::from(FACE / 50 - 1));
    let face = FACE as f64;
    let expected = n as f64 * p * face;
    let sigma = face * (n as f64 * p * (1.0 - p)).sqrt();
    let payout = wins as f64 * face;
    assert!(
        (payout - expected).abs() <= 3.0 * sigma,
        "payout {payout:e} vs expected {expected:e} (σ = {sigma:e}, wins {wins} of {n})"
    );
    wins
}

#[test]
fn payout_synthetic_signatures_100k() {
    let n = 100_000u64;
    let mut wins = 0;
    let mut tried = 0;
    let mut i = 0u64;
    while tried < n {
        i += 1;
        let a = keccak256([b"r".as_slice(), &i.to_be_bytes()].concat());
        let b = keccak256([b"s".as_slice(), &i.to_be_bytes()].concat());
        let mut bytes = [0u8; 65];
        bytes[..32].copy_from_slice(a.as_bytes());
        bytes[32..64].copy_from_slice(b.as_bytes());
        bytes[32] &= 0x3f; // low-S
        bytes[64] = 27 + (i % 2) as u8;
        let Ok(sig) = Signature::from_bytes(&bytes) else { continue };
        tried += 1;
        let rand = H256::from_low_u64_be(i / 600);
        wins += u64::from(is_winning(&sig, &rand, win_prob()));
    }
    check(wins, n);
}

fn signed_run(n: u64) -> u64 {
    let key = SecretKey::from_bytes([0x5a; 32]).unwrap();
    let mut wins = 0;
    for i in 0..n {
        let rand = keccak256((i / 600).to_be_bytes());
        let t = Ticket {
            recipient: Address::repeat_byte(0x0e),
            sender: key.address(),
            face_value: U256::from(FACE),
            win_prob: win_prob(),
            sender_nonce: (i % 600) as u32,
            recipient_rand_hash: rand_hash(&rand),
            expiration_params: TicketExpirationParams {
                creation_round: 1,
                creation_round_block_hash: H256::repeat_byte(1),
            },
        };
        let sig = t.sign(&key).unwrap();
        wins += u64::from(SignedTicket { ticket: t, sig, recipient_rand: rand }.wins());
    }
    check(wins, n)
}

#[test]
fn payout_signed_tickets_20k() {
    signed_run(20_000);
}

#[test]
#[ignore = "100,000 signatures: run with --release -- --ignored"]
fn payout_signed_tickets_100k() {
    signed_run(100_000);
}
