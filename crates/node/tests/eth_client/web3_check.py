"""Drives a meshcast localnet with web3.py and eth-account (libraries nobody here wrote).

Usage: python3 web3_check.py RPC_URL_A RPC_URL_B
Reads the chain id and block number, a dev account's balance; signs (eth-account) and
sends (web3) a transfer to a fresh address; waits for the receipt; reads the new balance
on the other node; sees a replay and a malformed transaction refused with JSON-RPC
errors. Prints one JSON line; exits non-zero on any failure.
"""
import json
import sys
import time

from eth_account import Account
from eth_utils import keccak
from web3 import Web3

a, b = (Web3(Web3.HTTPProvider(u)) for u in sys.argv[1:3])
out = {}
chain = a.eth.chain_id
assert chain == 366, chain
out["chain_id"] = chain
out["block_number"] = a.eth.block_number
dev = Account.from_key(keccak(text="meshcast-dev-0"))
assert dev.address.lower() == "0x888dc41e01c3d9a2df805bce9cd5d8352e4dae81", dev.address
balance = a.eth.get_balance(dev.address)
assert balance > 0, balance
out["dev_balance"] = str(balance)
fresh = Account.create().address
value = 12345 * 10**15
tx = {
    "nonce": a.eth.get_transaction_count(dev.address),
    "to": fresh,
    "value": value,
    "gas": 21000,
    "gasPrice": a.eth.gas_price,
    "chainId": chain,
}
signed = Account.sign_transaction(tx, dev.key)
h = a.eth.send_raw_transaction(signed.raw_transaction)
assert h == signed.hash, (h.hex(), signed.hash.hex())
receipt = a.eth.wait_for_transaction_receipt(h, timeout=60, poll_latency=0.2)
assert receipt["status"] == 1, receipt
out["receipt_block"] = receipt["blockNumber"]
# The other node: the transfer settled there too.
deadline = time.time() + 30
while b.eth.get_balance(fresh) != value and time.time() < deadline:
    time.sleep(0.2)
assert b.eth.get_balance(fresh) == value, b.eth.get_balance(fresh)
out["fresh_balance_on_b"] = str(value)
# A replay of the same signed bytes, and bytes that are no transaction.
errors = {}
for name, raw in [("replay", signed.raw_transaction), ("malformed", b"\x02\x01\x02")]:
    try:
        a.eth.send_raw_transaction(raw)
        errors[name] = None
    except Exception as e:  # web3 raises a ValueError/Web3RPCError carrying the JSON-RPC error
        errors[name] = str(e)[:120]
assert all(errors.values()), errors
out["refused"] = errors
print(json.dumps(out))
