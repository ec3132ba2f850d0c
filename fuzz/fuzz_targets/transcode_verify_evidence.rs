#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::transcode_verify_targets::evidence(data));
