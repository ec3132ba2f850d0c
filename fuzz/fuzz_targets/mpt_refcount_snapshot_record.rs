#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::mpt_refcount_targets::snapshot_record(data));
