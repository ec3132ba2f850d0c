#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::bls_gossip_targets::aggregate_message(data));
