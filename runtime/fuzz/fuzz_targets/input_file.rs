//! `cargo +nightly fuzz run input_file`: see `hotpocket::__fuzz::input_file` for what it checks.
#![no_main]

libfuzzer_sys::fuzz_target!(|data: &[u8]| hotpocket::__fuzz::input_file(data));
