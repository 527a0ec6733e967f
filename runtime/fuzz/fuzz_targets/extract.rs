//! `cargo +nightly fuzz run extract`: see `hotpocket::__fuzz::extract` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotpocket::__fuzz::extract(data));
