#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::primitives_targets::signature(data));
