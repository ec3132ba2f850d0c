//! Where the broker's money lives. [`Broker`](crate::Broker) decides who is owed what;
//! a [`BrokerStore`] moves the tokens: funding takes them from the sender's account
//! into escrow, redemptions pay the recipient's account out of escrow, withdrawals pay
//! the sender back. An embedder backs it with its ledger (or a test chain);
//! [`MemoryStore`] is the in-memory one.

use std::collections::BTreeMap;

use primitives::{Address, U256};

use crate::Error;

/// Token balances the broker moves. Each call either moves the whole amount or
/// returns an error and moves nothing.
pub trait BrokerStore {
    /// The spendable balance of an outside account.
    fn balance(&self, account: &Address) -> U256;
    /// The broker's escrow: every deposit and reserve not yet paid out.
    fn escrowed(&self) -> U256;
    /// Moves `amount` from `from`'s account into escrow ([`Error::InsufficientBalance`]
    /// if it lacks them).
    fn escrow_in(&mut self, from: &Address, amount: U256) -> Result<(), Error>;
    /// Pays `amount` out of escrow to `to`'s account ([`Error::EscrowShort`] if escrow
    /// lacks it).
    fn escrow_out(&mut self, to: &Address, amount: U256) -> Result<(), Error>;
}

/// In-memory balances and escrow.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MemoryStore {
    balances: BTreeMap<Address, U256>,
    escrow: U256,
    minted: U256,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// Credits `amount` to `account` from outside (a faucet or a test chain's genesis).
    pub fn mint(&mut self, account: Address, amount: U256) -> Result<(), Error> {
        let balance = self.balance(&account).checked_add(amount).ok_or(Error::Overflow)?;
        let minted = self.minted.checked_add(amount).ok_or(Error::Overflow)?;
        self.balances.insert(account, balance);
        self.minted = minted;
        Ok(())
    }

    /// Everything minted: always equals the sum of balances plus escrow.
    pub fn total_minted(&self) -> U256 {
        self.minted
    }

    /// The sum of all balances plus escrow (equals [`MemoryStore::total_minted`]).
    pub fn total_held(&self) -> Option<U256> {
        self.balances.values().try_fold(self.escrow, |a, b| a.checked_add(*b))
    }
}

impl BrokerStore for MemoryStore {
    fn balance(&self, account: &Address) -> U256 {
        self.balances.get(account).copied().unwrap_or_default()
    }

    fn escrowed(&self) -> U256 {
        self.escrow
    }

    fn escrow_in(&mut self, from: &Address, amount: U256) -> Result<(), Error> {
        let balance = self.balance(from);
        if balance < amount {
            return Err(Error::InsufficientBalance { account: *from, balance, needed: amount });
        }
        let escrow = self.escrow.checked_add(amount).ok_or(Error::Overflow)?;
        self.balances.insert(*from, balance - amount);
        self.escrow = escrow;
        Ok(())
    }

    fn escrow_out(&mut self, to: &Address, amount: U256) -> Result<(), Error> {
        if self.escrow < amount {
            return Err(Error::EscrowShort { escrowed: self.escrow, needed: amount });
        }
        let balance = self.balance(to).checked_add(amount).ok_or(Error::Overflow)?;
        self.escrow -= amount;
        self.balances.insert(*to, balance);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn moves_are_all_or_nothing_and_conserve() {
        let (a, b) = (Address::repeat_byte(1), Address::repeat_byte(2));
        let mut s = MemoryStore::new();
        s.mint(a, U256::from(100u8)).unwrap();
        assert_eq!(
            s.escrow_in(&a, U256::from(101u8)),
            Err(Error::InsufficientBalance {
                account: a,
                balance: U256::from(100u8),
                needed: U256::from(101u8)
            })
        );
        s.escrow_in(&a, U256::from(60u8)).unwrap();
        assert_eq!(
            s.escrow_out(&b, U256::from(61u8)),
            Err(Error::EscrowShort { escrowed: U256::from(60u8), needed: U256::from(61u8) })
        );
        s.escrow_out(&b, U256::from(25u8)).unwrap();
        assert_eq!(
            (s.balance(&a), s.balance(&b), s.escrowed()),
            (U256::from(40u8), U256::from(25u8), U256::from(35u8))
        );
        assert_eq!(s.total_held(), Some(s.total_minted()));
    }
}
