//! Properties of the codec: round trip, canonical-only decoding, a decoder that never
//! panics on hostile bytes, and sign/verify over arbitrary transactions.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use ledger::*;
use primitives::{Address, H256, SecretKey, Signature, U256};
use proptest::prelude::*;

fn u256() -> impl Strategy<Value = U256> {
    prop_oneof![
        Just(U256::zero()),
        any::<u64>().prop_map(U256::from),
        any::<[u8; 32]>().prop_map(|b| U256::from_big_endian(&b)),
    ]
}

fn coins() -> impl Strategy<Value = Coins> {
    (u256(), u256()).prop_map(|(a, b)| Coins::new(a, b))
}

fn address() -> impl Strategy<Value = Address> {
    any::<[u8; 20]>().prop_map(Address::from)
}

fn signature() -> impl Strategy<Value = Option<Signature>> {
    prop_oneof![
        Just(None),
        (1u8..=4, any::<[u8; 32]>()).prop_map(|(k, d)| {
            Some(SecretKey::from_bytes([k; 32]).unwrap().sign_prehash(&H256::from(d)))
        }),
    ]
}

fn input() -> impl Strategy<Value = TxInput> {
    (address(), coins(), any::<u64>(), signature())
        .prop_map(|(address, coins, sequence, signature)| TxInput { address, coins, sequence, signature })
}

fn output() -> impl Strategy<Value = TxOutput> {
    (address(), coins()).prop_map(|(a, c)| TxOutput::new(a, c))
}

fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_é]{0,12}"
}

fn stake() -> impl Strategy<Value = StakeTx> {
    (coins(), input(), output(), any::<u8>()).prop_map(|(fee, source, holder, purpose)| StakeTx {
        fee,
        source,
        holder,
        purpose,
    })
}

fn transaction() -> impl Strategy<Value = Transaction> {
    prop_oneof![
        (input(), prop::collection::vec(output(), 0..3), any::<u64>()).prop_map(
            |(proposer, outputs, block_height)| {
                Transaction::Coinbase(CoinbaseTx { proposer, outputs, block_height })
            }
        ),
        (input(), address(), any::<u64>(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(
            |(proposer, slashed_address, reserve_sequence, slash_proof)| {
                Transaction::Slash(SlashTx { proposer, slashed_address, reserve_sequence, slash_proof })
            }
        ),
        (coins(), prop::collection::vec(input(), 0..3), prop::collection::vec(output(), 0..3))
            .prop_map(|(fee, inputs, outputs)| Transaction::Send(SendTx { fee, inputs, outputs })),
        (coins(), input(), coins(), prop::collection::vec(text(), 0..3), any::<u64>()).prop_map(
            |(fee, source, collateral, resource_ids, duration)| {
                Transaction::ReserveFund(ReserveFundTx { fee, source, collateral, resource_ids, duration })
            }
        ),
        (coins(), input(), any::<u64>()).prop_map(|(fee, source, reserve_sequence)| {
            Transaction::ReleaseFund(ReleaseFundTx { fee, source, reserve_sequence })
        }),
        (coins(), input(), input(), any::<u64>(), any::<u64>(), text()).prop_map(
            |(fee, source, target, payment_sequence, reserve_sequence, resource_id)| {
                Transaction::ServicePayment(ServicePaymentTx {
                    fee,
                    source,
                    target,
                    payment_sequence,
                    reserve_sequence,
                    resource_id,
                })
            }
        ),
        (
            coins(),
            text(),
            input(),
            prop::collection::vec(
                (address(), any::<u64>()).prop_map(|(address, percentage)| Split { address, percentage }),
                0..3
            ),
            any::<u64>()
        )
            .prop_map(|(fee, resource_id, initiator, splits, duration)| {
                Transaction::SplitRule(SplitRuleTx { fee, resource_id, initiator, splits, duration })
            }),
        (input(), output(), any::<u64>(), u256(), prop::collection::vec(any::<u8>(), 0..40)).prop_map(
            |(from, to, gas_limit, gas_price, data)| {
                Transaction::SmartContract(SmartContractTx { from, to, gas_limit, gas_price, data })
            }
        ),
        stake().prop_map(Transaction::DepositStake),
        stake().prop_map(Transaction::WithdrawStake),
        (stake(), prop::option::of(any::<[u8; 32]>()), prop::option::of(any::<[u8; 32]>()), signature())
            .prop_map(|(s, k, p, holder_sig)| {
                Transaction::DepositStakeV2(DepositStakeV2Tx {
                    fee: s.fee,
                    source: s.source,
                    holder: s.holder,
                    purpose: s.purpose,
                    bls_pubkey: k.map(|k| {
                        let mut out = [0u8; BLS_PUBKEY_LEN];
                        out[..32].copy_from_slice(&k);
                        out
                    }),
                    bls_pop: p.map(|p| {
                        let mut out = [0u8; BLS_POP_LEN];
                        out[64..].copy_from_slice(&p);
                        out
                    }),
                    holder_sig,
                })
            }),
        (coins(), input(), output(), any::<u64>()).prop_map(
            |(fee, holder, beneficiary, split_basis_point)| {
                Transaction::StakeRewardDistribution(StakeRewardDistributionTx {
                    fee,
                    holder,
                    beneficiary,
                    split_basis_point,
                })
            }
        ),
    ]
}

/// Decoding hostile bytes: an error or a value that re-encodes to exactly the input.
fn decodes_canonically_or_errs(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(tx) = Transaction::decode(bytes, 4096) {
        prop_assert_eq!(tx.encode(), bytes.to_vec(), "accepted a non-canonical encoding");
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..ProptestConfig::default() })]

    /// Round trip: every transaction decodes back from its encoding.
    #[test]
    fn encode_then_decode_is_identity(tx in transaction()) {
        let wire = tx.encode();
        prop_assert_eq!(Transaction::decode(&wire, MAX_TX_SIZE), Ok(tx));
    }

    /// The decoder never panics on random bytes, and accepts only canonical encodings.
    #[test]
    fn decoder_never_panics_on_random_bytes(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        decodes_canonically_or_errs(&bytes)?;
    }

    /// Nor on a valid encoding with a byte changed, removed or inserted, or truncated.
    #[test]
    fn decoder_never_panics_on_mutated_encodings(
        tx in transaction(),
        pos in any::<prop::sample::Index>(),
        byte in any::<u8>(),
        op in 0u8..4,
    ) {
        let mut wire = tx.encode();
        let i = pos.index(wire.len());
        match op {
            0 => wire[i] = byte,
            1 => { wire.remove(i); }
            2 => wire.insert(i, byte),
            _ => wire.truncate(i),
        }
        decodes_canonically_or_errs(&wire)?;
    }

    /// Signing every role verifies on the signing chain and fails on another; any field
    /// change other than a signature breaks some signer.
    #[test]
    fn signed_transactions_verify_only_where_signed(tx in transaction(), bump in any::<u64>()) {
        let keys: Vec<SecretKey> = (1u8..=3).map(|k| SecretKey::from_bytes([k; 32]).unwrap()).collect();
        let mut tx = tx;
        // Point every signer at one of the keys, then sign.
        let roles = tx.signers();
        for (n, (role, _)) in roles.iter().enumerate() {
            set_signer(&mut tx, *role, keys[n % 3].address());
        }
        if let Transaction::DepositStakeV2(t) = &mut tx {
            t.purpose %= 3;
        }
        for (role, address) in tx.signers() {
            let k = keys.iter().find(|k| k.address() == address).unwrap();
            tx.sign("chain_a", role, k).unwrap();
        }
        prop_assert_eq!(tx.verify_all("chain_a"), Ok(()));
        prop_assert!(tx.signers().is_empty() || tx.verify_all("chain_b").is_err());
        let back = Transaction::decode(&tx.encode(), MAX_TX_SIZE).unwrap();
        prop_assert_eq!(back.verify_all("chain_a"), Ok(()));
        // The sequence of the first signer is covered by its signature (except a
        // ServicePayment source, whose cheque leaves the sequence out by design).
        if let Some((role, _)) = tx.signers().first().copied()
            && !matches!(tx, Transaction::ServicePayment(_))
        {
            let mut changed = tx.clone();
            bump_sequence(&mut changed, role, bump | 1);
            prop_assert!(changed.verify_role("chain_a", role).is_err());
        }
    }
}

fn input_mut(tx: &mut Transaction, role: SignerRole) -> &mut TxInput {
    match (tx, role) {
        (Transaction::Coinbase(t), _) => &mut t.proposer,
        (Transaction::Slash(t), _) => &mut t.proposer,
        (Transaction::Send(t), SignerRole::Input(i)) => &mut t.inputs[i],
        (Transaction::ReserveFund(t), _) => &mut t.source,
        (Transaction::ReleaseFund(t), _) => &mut t.source,
        (Transaction::ServicePayment(t), SignerRole::Source) => &mut t.source,
        (Transaction::ServicePayment(t), _) => &mut t.target,
        (Transaction::SplitRule(t), _) => &mut t.initiator,
        (Transaction::SmartContract(t), _) => &mut t.from,
        (Transaction::DepositStake(t) | Transaction::WithdrawStake(t), _) => &mut t.source,
        (Transaction::DepositStakeV2(t), _) => &mut t.source,
        (Transaction::StakeRewardDistribution(t), _) => &mut t.holder,
        (tx, role) => panic!("{:?} has no {role}", tx.tx_type()),
    }
}

fn set_signer(tx: &mut Transaction, role: SignerRole, address: Address) {
    input_mut(tx, role).address = address;
}

fn bump_sequence(tx: &mut Transaction, role: SignerRole, by: u64) {
    let i = input_mut(tx, role);
    i.sequence ^= by;
}
