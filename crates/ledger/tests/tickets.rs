//! The on-chain ticket broker (`ledger::tickets`): funding, redemption of winning
//! tickets, the validity window, unlock and withdraw, and what a cheating sender or
//! recipient tries.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::tickets::{MAX_TICKET_TX_BYTES, TicketConfig, TicketOp, TicketOpKind, TicketTx};
use ledger::*;
use mpt_refcount::MemoryStore;
use pm_tickets::{SignedTicket, Ticket, TicketExpirationParams};
use primitives::{H256, U256};
use proptest::prelude::*;

const FEE: u64 = 100;
const ROUND: u64 = 4;

fn ticket_ledger() -> Ledger<MemoryStore> {
    let mut c = config();
    c.tickets = TicketConfig { round_blocks: ROUND, ticket_validity_rounds: 2, unlock_rounds: 2 };
    let g = Genesis::from_json(&genesis_json(8, 1_000_000, 1_000_000, &[1], &[2])).unwrap();
    Ledger::from_genesis(MemoryStore::new(), c, &g, PruningPolicy { keep_last: 4 }).unwrap()
}

fn op_tx(signer: u8, seq: u64, op: TicketOp) -> TicketTx {
    let moved = match &op {
        TicketOp::Fund { deposit } => Coins::new(U256::zero(), *deposit),
        _ => Coins::zero(),
    };
    let mut t = TicketTx { fee: tfuel(FEE), input: TxInput::new(addr(signer), moved, seq), op };
    t.sign(CHAIN, &key(signer)).unwrap();
    t
}

fn fund(signer: u8, seq: u64, amount: u64) -> TicketTx {
    op_tx(signer, seq, TicketOp::Fund { deposit: U256::from(amount) })
}

/// A ticket from `sender` to `recipient` created in the ledger's current round, with
/// win probability `win_prob` and rand `rand`.
fn ticket(
    l: &Ledger<MemoryStore>,
    sender: u8,
    recipient: u8,
    face: u64,
    win_prob: U256,
    rand: u8,
    nonce: u32,
) -> SignedTicket {
    let (round, hash) = l.ticket_round().unwrap();
    let recipient_rand = H256::repeat_byte(rand);
    let t = Ticket {
        recipient: addr(recipient),
        sender: addr(sender),
        face_value: U256::from(face),
        win_prob,
        sender_nonce: nonce,
        recipient_rand_hash: pm_tickets::rand_hash(&recipient_rand),
        expiration_params: TicketExpirationParams {
            creation_round: round,
            creation_round_block_hash: hash.expect("round recorded"),
        },
    };
    let sig = t.sign(&key(sender)).unwrap();
    SignedTicket { ticket: t, sig, recipient_rand }
}

fn winner(l: &Ledger<MemoryStore>, sender: u8, recipient: u8, face: u64, nonce: u32) -> SignedTicket {
    ticket(l, sender, recipient, face, U256::MAX, 9, nonce)
}

fn redeem(signer: u8, seq: u64, st: SignedTicket) -> TicketTx {
    op_tx(signer, seq, TicketOp::Redeem(Box::new(st)))
}

/// Runs one block at the next height with `txs`; returns each one's result.
fn block(l: &mut Ledger<MemoryStore>, txs: &[TicketTx]) -> Vec<Result<TxReceipt, ExecError>> {
    let h = l.height() + 1;
    l.begin_block(h).unwrap();
    let out = txs.iter().map(|t| l.apply_ticket(t).cloned()).collect();
    l.commit_block().unwrap();
    out
}

fn empty_blocks(l: &mut Ledger<MemoryStore>, n: u64) {
    for _ in 0..n {
        block(l, &[]);
    }
}

fn tfuel_of(l: &Ledger<MemoryStore>, n: u8) -> U256 {
    l.account(&addr(n)).unwrap().coins.tfuel_wei
}

fn ticket_err(r: &Result<TxReceipt, ExecError>) -> &pm_tickets::Error {
    match r {
        Err(ExecError::Ticket(e)) => e,
        other => panic!("expected a ticket broker error, got {other:?}"),
    }
}

#[test]
fn fund_then_redeem_pays_the_recipient_from_the_deposit_once() {
    let mut l = ticket_ledger();
    let before = total_holdings(&l);
    let r = block(&mut l, &[fund(3, 1, 10_000)]);
    assert_eq!(r[0].as_ref().unwrap().tx_type, TxKind::Ticket(TicketOpKind::Fund));
    assert_eq!(l.ticket_sender(&addr(3)).unwrap().deposit, U256::from(10_000u64));
    assert_eq!(tfuel_of(&l, 3), U256::from(1_000_000u64 - 10_000 - FEE));

    let st = winner(&l, 3, 4, 2_500, 1);
    let r = block(&mut l, &[redeem(4, 1, st)]);
    assert!(r[0].is_ok(), "{:?}", r[0]);
    assert_eq!(tfuel_of(&l, 4), U256::from(1_000_000u64 + 2_500 - FEE));
    assert_eq!(l.ticket_sender(&addr(3)).unwrap().deposit, U256::from(7_500u64));

    // The same ticket again, from another submitter: used.
    let r = block(&mut l, &[redeem(5, 1, st)]);
    assert!(matches!(ticket_err(&r[0]), pm_tickets::Error::TicketUsed(_)));
    // Conservation: only the three fees left the holdings.
    let after = total_holdings(&l);
    assert_eq!(before.tfuel_wei - after.tfuel_wei, U256::from(2 * FEE));
    assert_eq!(after, l.supply().unwrap().expected_total().unwrap());
}

#[test]
fn a_losing_forged_or_foreign_ticket_is_refused_and_changes_nothing() {
    let mut l = ticket_ledger();
    block(&mut l, &[fund(3, 1, 10_000)]);
    let root = l.root();
    // A losing ticket (win probability 0).
    let lose = ticket(&l, 3, 4, 100, U256::zero(), 9, 1);
    // Signed by someone other than the sender it names.
    let mut forged = winner(&l, 3, 4, 100, 2);
    forged.sig = key(6).sign_prehash(&forged.ticket.sign_digest());
    // A rand that does not match the committed hash.
    let mut bad_rand = winner(&l, 3, 4, 100, 3);
    bad_rand.recipient_rand = H256::repeat_byte(1);
    // A wrong round hash.
    let mut bad_round = winner(&l, 3, 4, 100, 4);
    bad_round.ticket.expiration_params.creation_round_block_hash = H256::repeat_byte(0xab);
    bad_round.sig = bad_round.ticket.sign(&key(3)).unwrap();
    // More than the deposit.
    let too_big = winner(&l, 3, 4, 10_001, 5);
    // From a sender that never funded.
    let unfunded = winner(&l, 7, 4, 100, 6);
    for (st, want) in [
        (lose, "NotWinning"),
        (forged, "BadSignature"),
        (bad_rand, "RecipientRandMismatch"),
        (bad_round, "CreationRoundBlockHashMismatch"),
        (too_big, "InsufficientFunds"),
        (unfunded, "NoFunds"),
    ] {
        let r = l.check_ticket(&redeem(4, 1, st));
        let got = format!("{:?}", ticket_err(&r));
        assert!(got.starts_with(want), "{want}: got {got}");
    }
    // Nothing was applied: every check is a dry run, and a block of them all fails.
    assert_eq!(l.root(), root);
}

#[test]
fn tickets_expire_after_the_validity_window_and_their_marks_are_pruned() {
    let mut l = ticket_ledger();
    block(&mut l, &[fund(3, 1, 10_000)]); // height 1, round 0
    let st = winner(&l, 3, 4, 100, 1);
    assert_eq!(st.ticket.expiration_params.creation_round, 0);
    // Redeemed in round 1 (height 4..8): fine.
    empty_blocks(&mut l, 3);
    assert_eq!(l.ticket_round().unwrap().0, 1);
    assert!(block(&mut l, &[redeem(4, 1, st)])[0].is_ok());
    let key = ledger::tickets::used_key(0, &st.ticket.hash());
    let has = |l: &Ledger<MemoryStore>, k: &[u8]| {
        mpt_refcount::Trie::from_root(l.root()).get(l.store(), k).unwrap().is_some()
    };
    assert!(has(&l, &key));
    // Another round-0 ticket in round 2: expired.
    let late = {
        let mut t = winner(&l, 3, 4, 100, 2);
        t.ticket.expiration_params.creation_round = 0;
        t
    };
    while l.ticket_round().unwrap().0 < 2 {
        block(&mut l, &[]);
    }
    // Round 2's first block deleted round 0's hash and used marks.
    assert!(!has(&l, &key));
    assert!(!has(&l, &ledger::tickets::round_key(0)));
    let r = l.check_ticket(&redeem(4, 2, late));
    assert!(
        matches!(
            ticket_err(&r),
            pm_tickets::Error::UnknownCreationRound { .. } | pm_tickets::Error::TicketExpired { .. }
        ),
        "{r:?}"
    );
}

#[test]
fn unlock_withdraw_and_the_fee_theft_defence() {
    let mut l = ticket_ledger();
    block(&mut l, &[fund(3, 1, 10_000)]);
    let st = winner(&l, 3, 4, 1_000, 1);
    // Withdraw before unlocking: refused.
    let r = block(&mut l, &[op_tx(3, 2, TicketOp::Withdraw)]);
    assert_eq!(ticket_err(&r[0]), &pm_tickets::Error::NoUnlockInProgress);
    // Unlock in round 0: withdrawable from round 2; early withdrawal refused.
    assert!(block(&mut l, &[op_tx(3, 2, TicketOp::Unlock)])[0].is_ok());
    let s = l.ticket_sender(&addr(3)).unwrap();
    assert_eq!(s.withdraw_round, 2);
    let r = block(&mut l, &[op_tx(3, 3, TicketOp::Withdraw)]);
    assert!(matches!(ticket_err(&r[0]), pm_tickets::Error::SenderLocked { .. }));
    // The ticket accepted before the unlock is still redeemable while locked.
    assert!(block(&mut l, &[redeem(4, 1, st)])[0].is_ok());
    while l.ticket_round().unwrap().0 < 2 {
        block(&mut l, &[]);
    }
    // Unlocked now: new tickets are refused, the rest of the deposit can leave.
    let late = winner(&l, 3, 4, 100, 2);
    let r = l.check_ticket(&redeem(4, 2, late));
    assert_eq!(ticket_err(&r), &pm_tickets::Error::SenderUnlocked(addr(3)));
    let before = tfuel_of(&l, 3);
    assert!(block(&mut l, &[op_tx(3, 3, TicketOp::Withdraw)])[0].is_ok());
    assert_eq!(tfuel_of(&l, 3), before + U256::from(9_000u64) - U256::from(FEE));
    assert_eq!(l.ticket_sender(&addr(3)).unwrap().deposit, U256::zero());
    // Funding again locks it again.
    assert!(block(&mut l, &[fund(3, 4, 500)])[0].is_ok());
    assert!(l.ticket_sender(&addr(3)).unwrap().is_locked(l.ticket_round().unwrap().0));
}

#[test]
fn cancel_unlock_and_the_errors_of_a_confused_sender() {
    let mut l = ticket_ledger();
    let r = block(&mut l, &[op_tx(3, 1, TicketOp::Unlock)]);
    assert_eq!(ticket_err(&r[0]), &pm_tickets::Error::NoFunds(addr(3)));
    let r = block(&mut l, &[op_tx(3, 1, TicketOp::CancelUnlock)]);
    assert_eq!(ticket_err(&r[0]), &pm_tickets::Error::NoUnlockInProgress);
    assert!(block(&mut l, &[fund(3, 1, 100), op_tx(3, 2, TicketOp::Unlock)]).iter().all(Result::is_ok));
    let r = block(&mut l, &[op_tx(3, 3, TicketOp::Unlock)]);
    assert!(matches!(ticket_err(&r[0]), pm_tickets::Error::UnlockInProgress { .. }));
    assert!(block(&mut l, &[op_tx(3, 3, TicketOp::CancelUnlock)])[0].is_ok());
    assert_eq!(l.ticket_sender(&addr(3)).unwrap().withdraw_round, 0);
}

#[test]
fn signatures_sequences_fees_and_coins_are_checked() {
    let mut l = ticket_ledger();
    // Replay of a funded transaction: stale sequence.
    let f = fund(3, 1, 100);
    assert!(block(&mut l, std::slice::from_ref(&f))[0].is_ok());
    assert!(matches!(block(&mut l, &[f])[0], Err(ExecError::BadSequence { .. })));
    // Signed by the wrong key.
    let mut t = fund(3, 2, 100);
    t.input.signature = Some(key(5).sign_prehash(&t.id(CHAIN)));
    assert!(matches!(l.check_ticket(&t), Err(ExecError::Tx(Error::WrongSigner { .. }))));
    // Signed for another chain.
    let mut t = TicketTx {
        fee: tfuel(FEE),
        input: TxInput::new(addr(3), tfuel(100), 2),
        op: TicketOp::Fund { deposit: U256::from(100u64) },
    };
    t.sign("mainnet", &key(3)).unwrap();
    assert!(matches!(l.check_ticket(&t), Err(ExecError::Tx(Error::WrongSigner { .. }))));
    // Fee too low, input coins not the deposit, a zero deposit, more than the balance.
    let mut t = TicketTx {
        fee: tfuel(FEE - 1),
        input: TxInput::new(addr(3), tfuel(100), 2),
        op: TicketOp::Fund { deposit: U256::from(100u64) },
    };
    t.sign(CHAIN, &key(3)).unwrap();
    assert!(matches!(l.check_ticket(&t), Err(ExecError::FeeTooLow { .. })));
    let mut t = TicketTx {
        fee: tfuel(FEE),
        input: TxInput::new(addr(3), tfuel(99), 2),
        op: TicketOp::Fund { deposit: U256::from(100u64) },
    };
    t.sign(CHAIN, &key(3)).unwrap();
    assert!(matches!(l.check_ticket(&t), Err(ExecError::TicketInputCoins { .. })));
    assert!(matches!(l.check_ticket(&fund(3, 2, 0)), Err(ExecError::Ticket(pm_tickets::Error::NoFunds(_)))));
    assert!(matches!(l.check_ticket(&fund(3, 2, 2_000_000)), Err(ExecError::InsufficientFunds { .. })));
    // A Theta transaction's signature does not verify as a ticket transaction's.
    let Transaction::Send(theta) = send(3, 2, 4, tfuel(1), FEE) else { unreachable!() };
    let mut t = fund(3, 2, 100);
    t.input.signature = theta.inputs[0].signature;
    assert!(matches!(l.check_ticket(&t), Err(ExecError::Tx(Error::WrongSigner { .. }))));
}

#[test]
fn the_decoder_refuses_malformed_bytes() {
    let mut l = ticket_ledger();
    block(&mut l, &[]);
    let t = redeem(4, 1, winner(&l, 3, 4, 100, 1));
    let bytes = t.encode();
    assert!(bytes.len() <= MAX_TICKET_TX_BYTES);
    assert_eq!(TicketTx::decode(&bytes, MAX_TICKET_TX_BYTES).unwrap(), t);
    assert!(matches!(TicketTx::decode(&[], 100), Err(Error::Empty)));
    assert!(matches!(TicketTx::decode(&bytes, bytes.len() - 1), Err(Error::TooLong { .. })));
    let mut trailing = bytes.clone();
    trailing.push(0);
    assert!(TicketTx::decode(&trailing, MAX_TICKET_TX_BYTES).is_err());
    for i in 0..bytes.len() {
        let _ = TicketTx::decode(&bytes[..i], MAX_TICKET_TX_BYTES);
    }
    // An unlock carrying data is not canonical.
    let mut s = primitives::rlp::RlpStream::new_list(4);
    s.begin_list(2);
    s.append(&0u64);
    s.append(&100u64);
    s.begin_list(4);
    s.append(&addr(3).as_bytes());
    s.begin_list(2);
    s.append(&0u64);
    s.append(&0u64);
    s.append(&1u64);
    s.append_empty_data();
    s.append(&1u64);
    s.append(&1u64);
    assert!(TicketTx::decode(&s.out(), MAX_TICKET_TX_BYTES).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    /// Model: redemptions pay exactly the face values the deposit covers, in order,
    /// each ticket at most once; holdings change only by the fees.
    #[test]
    fn redemptions_match_a_deposit_model(
        deposit in 1u64..20_000,
        faces in proptest::collection::vec((1u64..5_000, 0usize..4), 1..10),
    ) {
        let mut l = ticket_ledger();
        let before = total_holdings(&l);
        prop_assert!(block(&mut l, &[fund(3, 1, deposit)])[0].is_ok());
        let mut left = deposit;
        let mut paid = 0u64;
        let mut fees = 1u64;
        let mut seq = 0u64;
        let mut tickets: Vec<SignedTicket> = Vec::new();
        for (i, (face, replay)) in faces.iter().enumerate() {
            let st = if *replay == 0 && !tickets.is_empty() {
                tickets[i % tickets.len()]
            } else {
                winner(&l, 3, 4, *face, i as u32)
            };
            let fresh = !tickets.contains(&st);
            seq += 1;
            let r = block(&mut l, &[redeem(4, seq, st)]);
            let face = st.ticket.face_value.as_u64();
            if fresh && face <= left {
                prop_assert!(r[0].is_ok(), "{:?}", r[0]);
                left -= face;
                paid += face;
                fees += 1;
                tickets.push(st);
            } else {
                prop_assert!(r[0].is_err());
                seq -= 1;
            }
        }
        prop_assert_eq!(l.ticket_sender(&addr(3)).unwrap().deposit, U256::from(left));
        prop_assert_eq!(tfuel_of(&l, 4), U256::from(1_000_000 + paid - (fees - 1) * FEE));
        let after = total_holdings(&l);
        prop_assert_eq!(before.tfuel_wei - after.tfuel_wei, U256::from(fees * FEE));
    }
}
