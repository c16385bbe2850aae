#![no_main]
libfuzzer_sys::fuzz_target!(|data: &[u8]| livescan::fuzz_targets::uforge_xml(data));
