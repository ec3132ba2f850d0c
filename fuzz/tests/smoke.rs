//! Runs every fuzz harness body over seeded random and mutated inputs. A failure prints
//! the harness and the seed; rerun it with the same seed to reproduce.

use meshcast_fuzz::{
    bls_gossip_targets, ledger_eth_targets, ledger_targets, micropool_targets, mlbft_targets,
    mpt_refcount_targets, node_targets, orchestration_targets, pm_tickets_targets, primitives_targets, smoke,
    tracker_geo_targets, transcode_verify_targets,
};

#[test]
fn primitives_decoders_never_panic() {
    let seeds = primitives_targets::seeds();
    assert!(smoke(primitives_targets::signature, &seeds, 3_000, 1) > 3_000);
    assert!(smoke(primitives_targets::frame, &seeds, 3_000, 2) > 3_000);
}

#[test]
fn pm_tickets_decoders_never_panic() {
    let seeds = pm_tickets_targets::seeds();
    assert!(smoke(pm_tickets_targets::ticket, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(pm_tickets_targets::batch, &seeds, 3_000, 12) > 3_000);
    assert!(smoke(pm_tickets_targets::batch_into_recipient, &seeds, 1_000, 13) > 1_000);
    assert!(smoke(pm_tickets_targets::sender_state, &seeds, 2_000, 14) > 2_000);
    assert!(smoke(pm_tickets_targets::recipient_state, &seeds, 2_000, 15) > 2_000);
}

/// The state seeds are real frames, so the mutations start from states that restore.
#[test]
fn pm_tickets_state_seeds_decode() {
    let seeds = pm_tickets_targets::seeds();
    let sender = pm_tickets::SenderState::decode(&seeds[3]).unwrap();
    assert_eq!(sender.sessions.len(), 1);
    let recipient = pm_tickets::RecipientState::decode(&seeds[4]).unwrap();
    assert_eq!((recipient.rands.len(), recipient.winners.len()), (0, 3));
    assert!(recipient.winners.iter().all(|w| w.in_flight.is_some()));
    assert_eq!(recipient.revealed.len(), 1);
}

#[test]
fn ledger_eth_decoder_never_panics() {
    let seeds = ledger_eth_targets::seeds();
    assert_eq!(seeds.len(), 9, "every fixture vector is a seed");
    assert!(seeds.iter().all(|s| ledger::eth::EthTransaction::decode(s).is_ok()));
    assert!(smoke(ledger_eth_targets::eth_transaction, &seeds, 3_000, 23) > 3_000);
}

#[test]
fn ledger_decoders_never_panic() {
    let seeds = ledger_targets::seeds();
    assert!(smoke(ledger_targets::transaction, &seeds, 3_000, 21) > 3_000);
}

#[test]
fn ledger_ticket_decoder_never_panics() {
    let seeds = ledger_targets::ticket_seeds();
    let limit = ledger::tickets::MAX_TICKET_TX_BYTES;
    assert!(seeds.iter().all(|s| ledger::tickets::TicketTx::decode(s, limit).is_ok()));
    assert!(smoke(ledger_targets::ticket_transaction, &seeds, 3_000, 24) > 3_000);
}

#[test]
fn ledger_execution_keeps_its_invariants() {
    let seeds = ledger_targets::execution_seeds();
    // The seeds get past the signatures: every seed transaction is accepted.
    let accepted: Vec<usize> = seeds.iter().map(|s| ledger_targets::execute_chunks(s)).collect();
    assert_eq!(accepted, vec![1, 3, 3, 0]);
    assert!(smoke(ledger_targets::execution, &seeds, 150, 23) > 150);
}

/// A longer sweep of the same body (about a minute in a debug build):
/// `cargo test -p meshcast-fuzz --test smoke -- --ignored ledger`.
#[test]
#[ignore = "about a minute in a debug build: 300,000 inputs"]
fn ledger_decoder_long_sweep_never_panics() {
    let seeds = ledger_targets::seeds();
    assert!(smoke(ledger_targets::transaction, &seeds, 300_000, 22) > 300_000);
}

#[test]
fn ledger_state_proof_never_panics() {
    let seeds = ledger_targets::state_proof_seeds();
    assert!(smoke(ledger_targets::state_proof, &seeds, 3_000, 31) > 3_000);
}

#[test]
fn ledger_snapshot_never_panics() {
    let seeds = ledger_targets::ledger_snapshot_seeds();
    // The framed stream imports; the header alone does not.
    let imports: Vec<bool> = seeds.iter().map(|s| ledger_targets::ledger_snapshot_imports(s)).collect();
    assert_eq!(imports, [true, false]);
    assert!(smoke(ledger_targets::ledger_snapshot, &seeds, 1_000, 29) > 1_000);
}

#[test]
fn ledger_slash_proof_never_panics() {
    let seeds = ledger_targets::slash_proof_seeds();
    assert_eq!(seeds.len(), 4);
    // Three seeds prove an offence against the harness's ledger view; the last does not.
    let orders: Vec<bool> = seeds.iter().map(|s| ledger_targets::slash_proof_order(s).is_some()).collect();
    assert_eq!(orders, [true, true, true, false]);
    assert!(smoke(ledger_targets::slash_proof, &seeds, 3_000, 23) > 3_000);
}

#[test]
fn micropool_decoders_never_panic() {
    let seeds = micropool_targets::seeds();
    assert!(smoke(micropool_targets::cheque, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(micropool_targets::transaction, &seeds, 3_000, 12) > 3_000);
    assert!(smoke(micropool_targets::record, &seeds, 3_000, 13) > 3_000);
    assert!(smoke(micropool_targets::payer_state, &seeds, 3_000, 14) > 3_000);
}

#[test]
fn bls_gossip_decoders_never_panic() {
    let seeds = bls_gossip_targets::seeds();
    assert!(smoke(bls_gossip_targets::aggregate_message, &seeds, 3_000, 3) > 3_000);
    assert!(smoke(bls_gossip_targets::signer_vector, &seeds, 3_000, 4) > 3_000);
}

#[test]
fn mlbft_decoders_never_panic() {
    let seeds = mlbft_targets::seeds();
    assert!(smoke(mlbft_targets::evidence, &seeds, 3_000, 5) > 3_000);
    assert!(smoke(mlbft_targets::certificate, &seeds, 3_000, 6) > 3_000);
    assert!(smoke(mlbft_targets::message, &seeds, 3_000, 7) > 3_000);
}

#[test]
fn mpt_refcount_decoders_never_panic() {
    let seeds = mpt_refcount_targets::seeds();
    assert!(smoke(mpt_refcount_targets::node, &seeds, 5_000, 3) > 5_000);
    assert!(smoke(mpt_refcount_targets::proof, &seeds, 5_000, 4) > 5_000);
    let seeds = mpt_refcount_targets::snapshot_seeds();
    assert!(smoke(mpt_refcount_targets::snapshot_record, &seeds, 3_000, 5) > 3_000);
}

/// The snapshot seeds are real records, so the mutations start from records that decode
/// and chunks that verify.
#[test]
fn mpt_refcount_snapshot_seeds_decode_and_verify() {
    let limits = mpt_refcount::SnapshotLimits::default();
    let seeds = mpt_refcount_targets::snapshot_seeds();
    let records: Vec<_> = seeds.iter().map(|s| mpt_refcount::decode_record(s, &limits).unwrap()).collect();
    let Some(mpt_refcount::Record::Header { root, .. }) = records.first() else { panic!("header first") };
    let chunks: Vec<_> = records
        .iter()
        .filter_map(|r| if let mpt_refcount::Record::Chunk(c) = r { Some(c) } else { None })
        .collect();
    assert!(chunks.len() > 10);
    assert!(chunks.iter().all(|c| mpt_refcount::verify_range(*root, c).is_ok()));
}

#[test]
fn tracker_geo_decoders_and_handlers_never_panic() {
    let seeds = tracker_geo_targets::seeds();
    assert!(smoke(tracker_geo_targets::message, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(tracker_geo_targets::tracker_service, &seeds, 2_000, 12) > 2_000);
    assert!(smoke(tracker_geo_targets::client, &seeds, 2_000, 13) > 2_000);
}

#[test]
fn transcode_verify_decoders_never_panic() {
    let seeds = transcode_verify_targets::seeds();
    assert!(smoke(transcode_verify_targets::claim, &seeds, 3_000, 11) > 3_000);
    assert!(smoke(transcode_verify_targets::evidence, &seeds, 3_000, 12) > 3_000);
}

#[test]
fn orchestration_messages_never_panic() {
    let seeds = orchestration_targets::seeds();
    assert_eq!(seeds.len(), 5);
    assert!(smoke(orchestration_targets::message, &seeds, 3_000, 41) > 3_000);
}

#[test]
fn node_gossip_intake_never_panics_and_answers_every_message() {
    let seeds = node_targets::seeds();
    assert!(smoke(node_targets::gossip, &seeds, 1_000, 37) > 1_000);
}
