//! Ledger state sync: a snapshot of a finalized checkpoint of a ledger that ran many
//! blocks imports into an empty store with the same root, accounts and validator set, and
//! then executes the next block exactly as the source; a tampered, dropped, reordered,
//! truncated or foreign snapshot is refused with a typed error and writes nothing.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

mod exec_common;

use exec_common::*;
use ledger::snapshot::{SnapshotError, SnapshotHeader, SnapshotImport, TrustedCheckpoint, export};
use ledger::*;
use mpt_refcount::{MemoryStore, SnapshotLimits, SyncError};
use primitives::H256;
use proptest::prelude::*;

const POLICY: PruningPolicy = PruningPolicy { keep_last: 3 };

/// A ledger after 30 blocks of transfers among 40 accounts and a stake deposit, with
/// height 20 finalized.
fn source() -> Ledger<MemoryStore> {
    let g = Genesis::from_json(&genesis_json(40, 1_000_000, 1_000_000, &[1, 2], &[3])).unwrap();
    let mut l = Ledger::from_genesis(MemoryStore::new(), config(), &g, POLICY).unwrap();
    let mut seq = [0u64; 41];
    for h in 1..=30u64 {
        let mut txs = Vec::new();
        for k in 0..4u64 {
            let from = ((h * 7 + k * 3) % 40 + 1) as u8;
            let to = ((h * 11 + k * 5) % 40 + 1) as u8;
            if from == to || txs.iter().any(|t: &(u8, Transaction)| t.0 == from) {
                continue;
            }
            seq[from as usize] += 1;
            txs.push((from, send(from, seq[from as usize], to, coins(h, 10 + k), 100)));
        }
        if h == 5 {
            seq[9] += 1;
            txs.push((9, deposit_v2(9, seq[9], 9, STAKE_FOR_VALIDATOR, 5_000, 9)));
        }
        let txs: Vec<Transaction> = txs.into_iter().map(|(_, t)| t).collect();
        l.execute_block(h, &txs).unwrap();
        if h == 20 {
            l.finalize(20).unwrap();
        }
    }
    l
}

fn trusted(l: &Ledger<MemoryStore>, height: u64) -> TrustedCheckpoint {
    TrustedCheckpoint { chain_id: CHAIN.into(), height, root: l.root_at(height).unwrap() }
}

fn records(l: &Ledger<MemoryStore>, height: u64) -> Vec<Vec<u8>> {
    // Small chunks, so the stream has many records to tamper with.
    export(l, height, 8, 64 * 1024).unwrap().collect::<Result<_, _>>().unwrap()
}

/// Feeds `records`; returns the first error, or the import.
fn feed(t: TrustedCheckpoint, records: &[Vec<u8>]) -> Result<SnapshotImport, SnapshotError> {
    let mut import = SnapshotImport::new(t, SnapshotLimits::default());
    for r in records {
        import.push(r)?;
    }
    Ok(import)
}

/// What an import of `records` gives: an error at some point, and an empty store.
fn refused(t: TrustedCheckpoint, records: &[Vec<u8>]) -> SnapshotError {
    let mut store = MemoryStore::new();
    let e = match feed(t, records) {
        Err(e) => e,
        Ok(import) => import.write(&mut store).expect_err("a bad snapshot must not import"),
    };
    assert!(store.nodes().is_empty(), "nothing written on {e:?}");
    e
}

#[test]
fn a_finalized_checkpoint_round_trips_and_the_copy_follows_the_chain() {
    let src = source();
    let recs = records(&src, 20);
    assert!(recs.len() > 5, "{} records", recs.len());
    let copy = feed(trusted(&src, 20), &recs).unwrap().finish(MemoryStore::new(), config(), POLICY).unwrap();
    assert_eq!(copy.height(), 20);
    assert_eq!(Some(copy.root()), src.root_at(20));
    for n in 1..=40u8 {
        let a = src.account_at(src.root_at(20).unwrap(), &addr(n)).unwrap();
        assert_eq!(copy.account(&addr(n)).unwrap(), a, "account {n}");
    }
    // The copy executes the next blocks exactly as the source did.
    let mut replay = feed(trusted(&src, 30), &records(&src, 30))
        .unwrap()
        .finish(MemoryStore::new(), config(), POLICY)
        .unwrap();
    assert_eq!(replay.root(), src.root());
    assert_eq!(replay.validators().unwrap(), src.validators().unwrap());
    let mut src = src;
    let next = [send(1, 100, 2, coins(1, 1), 100)];
    let a = src.execute_block(31, &next);
    let b = replay.execute_block(31, &next);
    assert_eq!(a.map(|o| o.state_root), b.map(|o| o.state_root));
    let next = [send(40, src.account(&addr(40)).unwrap().sequence + 1, 2, coins(1, 1), 100)];
    let a = src.execute_block(32, &next).unwrap();
    let b = replay.execute_block(32, &next).unwrap();
    assert_eq!(a.state_root, b.state_root);
}

#[test]
fn a_snapshot_of_another_state_is_refused_at_its_header() {
    let src = source();
    let recs = records(&src, 20);
    for (what, t) in [
        ("height", TrustedCheckpoint { height: 21, ..trusted(&src, 20) }),
        ("root", TrustedCheckpoint { root: H256::repeat_byte(1), ..trusted(&src, 20) }),
        ("chain", TrustedCheckpoint { chain_id: "mainnet".into(), ..trusted(&src, 20) }),
    ] {
        assert!(matches!(refused(t, &recs), SnapshotError::WrongCheckpoint { .. }), "{what}");
    }
    // A ledger opened with another chain's config refuses too.
    let import = feed(trusted(&src, 20), &recs).unwrap();
    let mut other = config();
    other.chain_id = "mainnet".into();
    assert!(matches!(
        import.finish(MemoryStore::new(), other, POLICY),
        Err(SnapshotError::StateMismatch { .. })
    ));
    // A state that is not retained cannot be exported.
    assert!(matches!(export(&src, 3, 8, 1 << 16), Err(SnapshotError::NotRetained { height: 3 })));
}

#[test]
fn tampered_dropped_reordered_and_truncated_streams_write_nothing() {
    let src = source();
    let recs = records(&src, 20);
    let t = trusted(&src, 20);
    // One byte of a chunk changed (in its leaves, past the framing).
    let mut changed = recs.clone();
    let r = &mut changed[3];
    let i = r.len() / 2;
    r[i] ^= 0x01;
    let _ = refused(t.clone(), &changed);
    // A chunk dropped.
    let mut dropped = recs.clone();
    dropped.remove(3);
    let _ = refused(t.clone(), &dropped);
    // Two chunks swapped.
    let mut swapped = recs.clone();
    swapped.swap(3, 4);
    let _ = refused(t.clone(), &swapped);
    // The ledger header missing, or repeated.
    let _ = refused(t.clone(), &recs[1..]);
    let mut twice = recs.clone();
    twice.insert(1, recs[0].clone());
    let _ = refused(t.clone(), &twice);
    // Cut before the end record.
    assert!(matches!(
        refused(t.clone(), &recs[..recs.len() - 1]),
        SnapshotError::Sync(SyncError::Incomplete { .. })
    ));
    // A failed import stays failed.
    let mut import = SnapshotImport::new(t, SnapshotLimits::default());
    assert!(import.push(&recs[1]).is_err());
    assert!(matches!(import.push(&recs[0]), Err(SnapshotError::Sync(SyncError::Poisoned))));
}

#[test]
fn header_codec_is_canonical_and_bounded() {
    let h = SnapshotHeader { chain_id: "privatenet".into(), height: 7, root: H256::repeat_byte(3) };
    assert_eq!(SnapshotHeader::decode(&h.encode()), Ok(h.clone()));
    let mut v = h.encode();
    v[0] = 2;
    assert!(matches!(SnapshotHeader::decode(&v), Err(SnapshotError::BadHeader(_))));
    let mut trailing = h.encode();
    trailing.push(0);
    assert!(SnapshotHeader::decode(&trailing).is_err());
    let long = SnapshotHeader { chain_id: "x".repeat(65), ..h.clone() };
    assert!(SnapshotHeader::decode(&long.encode()).is_err());
    assert!(SnapshotHeader::decode(&[]).is_err());
    let mut bad_utf8 = h.encode();
    bad_utf8[2] = 0xff;
    assert!(SnapshotHeader::decode(&bad_utf8).is_err());
}

proptest! {
    #[test]
    fn header_decoding_never_panics_and_accepts_only_what_it_encodes(bytes in proptest::collection::vec(any::<u8>(), 0..140)) {
        if let Ok(h) = SnapshotHeader::decode(&bytes) {
            prop_assert_eq!(h.encode(), bytes);
        }
    }
}
