#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| meshcast_fuzz::tracker_geo_targets::tracker_service(data));
