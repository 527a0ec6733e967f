//! `cargo +nightly fuzz run deframe`: see `hotpocket::__fuzz::deframe` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotpocket::__fuzz::deframe(data));
