#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::bls_gossip_targets::signer_vector(data));
