//! `cargo +nightly fuzz run args`: see `hotpocket::__fuzz::args` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotpocket::__fuzz::args(data));
