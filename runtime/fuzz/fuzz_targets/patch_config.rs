//! `cargo +nightly fuzz run patch_config`: see `hotpocket::__fuzz::patch_config` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotpocket::__fuzz::patch_config(data));
