#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::ledger_eth_targets::eth_transaction(data));
