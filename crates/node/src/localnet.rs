//! A local network's genesis and keys, derived from one seed: validators and guardians
//! (staked at genesis, real BLS keys with proofs of possession), funded accounts and the
//! fixed dev accounts ([`dev_key`]),
//! for simulations and tests ([`crate::service`], `examples/simnet.rs`).
//!
//! Keys are **deterministic and public** (anyone with the seed has them): for local
//! networks only.
//!
//! ```
//! use meshcast_node::localnet::{DEV_ACCOUNTS, Localnet};
//!
//! let net = Localnet::new(4, 2, 10, 7)?;
//! assert_eq!(net.validators.len(), 4);
//! // The workload's 10 accounts and the dev accounts.
//! assert_eq!(net.genesis.accounts.len(), 10 + DEV_ACCOUNTS);
//! # Ok::<(), ledger::ExecError>(())
//! ```

use ledger::{
    Coins, Genesis, GenesisAccount, GenesisStake, LedgerConfig, ReserveFundTx, SendTx, ServicePaymentTx,
    SignerRole, Transaction, TxInput, TxOutput,
};
use primitives::{Address, SecretKey, TOKEN, U256, keccak256};

use crate::keys::NodeKeys;

/// The chain id of local networks.
pub const CHAIN_ID: &str = "meshcast-localnet";

/// THETA and TFUEL of each funded account at genesis (whole tokens).
pub const ACCOUNT_TOKENS: u64 = 1_000_000;

/// Dev accounts every local network funds, as local Ethereum dev chains do (issue 16).
pub const DEV_ACCOUNTS: usize = 10;

/// The key of dev account `i`: `keccak256("meshcast-dev-" ‖ i)` (ASCII, `i` in decimal),
/// the same on every local network, so wallets and scripts can import it. `None` for
/// the (astronomically unlikely) hash that is not a valid secp256k1 key.
pub fn dev_key(i: usize) -> Option<SecretKey> {
    SecretKey::from_bytes(keccak256(format!("meshcast-dev-{i}").as_bytes()).to_fixed_bytes()).ok()
}

/// A local network's genesis and every key in it. Validators and guardians are listed in
/// their set order (holder address ascending), so index `i` here is index `i` of the
/// ledger's validator or guardian set.
pub struct Localnet {
    /// The genesis.
    pub genesis: Genesis,
    /// Validator keys, in validator-set order.
    pub validators: Vec<NodeKeys>,
    /// Guardian keys, in guardian-set order.
    pub guardians: Vec<NodeKeys>,
    /// Funded account keys (the workload's).
    pub accounts: Vec<SecretKey>,
    /// The [`DEV_ACCOUNTS`] dev account keys ([`dev_key`]), funded like the others.
    pub dev: Vec<SecretKey>,
}

impl std::fmt::Debug for Localnet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Localnet")
            .field("validators", &self.validators.len())
            .field("guardians", &self.guardians.len())
            .field("accounts", &self.accounts.len())
            .finish_non_exhaustive()
    }
}

fn account_key(seed: u64, tag: &[u8], i: usize) -> SecretKey {
    let mut ctr = 0u64;
    loop {
        let material = [&seed.to_be_bytes()[..], tag, &(i as u64).to_be_bytes(), &ctr.to_be_bytes()].concat();
        if let Ok(k) = SecretKey::from_bytes(keccak256(&material).to_fixed_bytes()) {
            return k;
        }
        ctr += 1;
    }
}

fn node_keys(seed: u64, tag: &[u8], i: usize) -> Result<NodeKeys, ledger::ExecError> {
    let account = account_key(seed, tag, i);
    let ikm = keccak256([&seed.to_be_bytes()[..], tag, b"/bls", &(i as u64).to_be_bytes()].concat());
    let bls = bls_gossip::bls::SecretKey::key_gen(ikm.as_bytes())
        .map_err(|e| ledger::ExecError::Genesis(format!("BLS key: {e}")))?;
    Ok(NodeKeys { account, bls })
}

fn hex(b: &[u8]) -> String {
    primitives::codec::to_hex(b)
}

impl Localnet {
    /// `validators` validators, `guardians` guardians and `accounts` funded accounts
    /// from `seed`.
    pub fn new(
        validators: usize,
        guardians: usize,
        accounts: usize,
        seed: u64,
    ) -> Result<Self, ledger::ExecError> {
        let cfg = Self::ledger_config();
        let mut vkeys =
            (0..validators).map(|i| node_keys(seed, b"validator", i)).collect::<Result<Vec<_>, _>>()?;
        let mut gkeys =
            (0..guardians).map(|i| node_keys(seed, b"guardian", i)).collect::<Result<Vec<_>, _>>()?;
        vkeys.sort_by_key(NodeKeys::address);
        gkeys.sort_by_key(NodeKeys::address);
        let akeys: Vec<SecretKey> = (0..accounts).map(|i| account_key(seed, b"account", i)).collect();
        let amount = (TOKEN * U256::from(ACCOUNT_TOKENS)).to_string();
        let stake = |k: &NodeKeys, amount: U256| GenesisStake {
            holder: hex(k.address().as_bytes()),
            source: hex(k.address().as_bytes()),
            stake: amount.to_string(),
            bls_pubkey: hex(&k.bls.public_key().to_bytes()),
            bls_pop: hex(&k.bls.prove_possession().to_bytes()),
        };
        let dev: Vec<SecretKey> = (0..DEV_ACCOUNTS).filter_map(dev_key).collect();
        let genesis = Genesis {
            chain_id: CHAIN_ID.into(),
            accounts: akeys
                .iter()
                .chain(&dev)
                .map(|k| GenesisAccount {
                    address: hex(k.address().as_bytes()),
                    theta: amount.clone(),
                    tfuel: amount.clone(),
                    sequence: 0,
                })
                .collect(),
            validators: vkeys.iter().map(|k| stake(k, cfg.min_validator_stake)).collect(),
            guardians: gkeys.iter().map(|k| stake(k, cfg.min_guardian_stake)).collect(),
        };
        Ok(Localnet { genesis, validators: vkeys, guardians: gkeys, accounts: akeys, dev })
    }

    /// The ledger rules of local networks: Theta's, on [`CHAIN_ID`], with ticket broker
    /// rounds of 20 blocks (a few seconds), so a short run sees several.
    pub fn ledger_config() -> LedgerConfig {
        let mut cfg = LedgerConfig::theta(CHAIN_ID);
        cfg.tickets.round_blocks = 20;
        cfg
    }

    /// A signed Send of `tfuel_wei` TFUEL wei from account `from` (its sequence
    /// `sequence`) to `to`, paying the minimum fee, in Theta wire bytes.
    pub fn transfer(&self, from: usize, sequence: u64, to: Address, tfuel_wei: U256) -> Vec<u8> {
        let cfg = Self::ledger_config();
        let fee = Coins::new(U256::zero(), cfg.send_min_fee(2));
        let key = &self.accounts[from];
        let amount = Coins::new(U256::zero(), tfuel_wei);
        let spend = Coins::new(U256::zero(), tfuel_wei.saturating_add(fee.tfuel_wei));
        let mut tx = Transaction::Send(SendTx {
            fee,
            inputs: vec![TxInput::new(key.address(), spend, sequence)],
            outputs: vec![TxOutput::new(to, amount)],
        });
        // Signing a well-formed Send with its own input's key cannot fail.
        let _ = tx.sign(CHAIN_ID, SignerRole::Input(0), key);
        tx.encode()
    }

    /// A signed ReserveFund of account `from` (sequence `sequence`): `deposit` TFUEL wei
    /// reserved for `resource` for `duration` blocks, `collateral` wei locked.
    pub fn reserve_fund(
        &self,
        from: usize,
        sequence: u64,
        deposit: U256,
        collateral: U256,
        duration: u64,
        resource: &str,
    ) -> Vec<u8> {
        let cfg = Self::ledger_config();
        let key = &self.accounts[from];
        let mut tx = Transaction::ReserveFund(ReserveFundTx {
            fee: Coins::new(U256::zero(), cfg.pool.min_fee),
            source: TxInput::new(key.address(), Coins::new(U256::zero(), deposit), sequence),
            collateral: Coins::new(U256::zero(), collateral),
            resource_ids: vec![resource.into()],
            duration,
        });
        let _ = tx.sign(CHAIN_ID, SignerRole::Source, key);
        tx.encode()
    }

    /// A ServicePayment settling the cumulative `amount` of reserve `reserve_sequence` of
    /// account `payer` to account `payee` (its sequence `payee_sequence`), payment
    /// sequence `payment_sequence`, signed by both.
    #[allow(clippy::too_many_arguments)]
    pub fn service_payment(
        &self,
        payer: usize,
        reserve_sequence: u64,
        payee: usize,
        payee_sequence: u64,
        amount: U256,
        payment_sequence: u64,
        resource: &str,
    ) -> Vec<u8> {
        let cfg = Self::ledger_config();
        let (src, dst) = (&self.accounts[payer], &self.accounts[payee]);
        let mut tx = Transaction::ServicePayment(ServicePaymentTx {
            fee: Coins::new(U256::zero(), cfg.pool.min_fee),
            source: TxInput::new(src.address(), Coins::new(U256::zero(), amount), 0),
            target: TxInput::new(dst.address(), Coins::zero(), payee_sequence),
            payment_sequence,
            reserve_sequence,
            resource_id: resource.into(),
        });
        let signers: [&dyn primitives::Signer; 2] = [src, dst];
        let _ = tx.sign_with_keys(CHAIN_ID, &signers);
        tx.encode()
    }

    /// Address of account `i`.
    pub fn address(&self, i: usize) -> Address {
        self.accounts[i].address()
    }
}
