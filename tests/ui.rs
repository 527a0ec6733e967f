//! Compile-time behaviour of `#[hotpocket::contract]`, with trybuild.
//!
//! - `ui/pass`: contracts that must compile (and whose `main` must run).
//! - `ui/fail`: mistakes the macro itself reports; their `.stderr` files pin
//!   the messages and where the caret points.
//! - `ui/fail/types`: mistakes rustc reports through the runtime's traits
//!   (E0277). Their text comes from rustc and can change with the pinned
//!   toolchain, so they run as a separate test.
//!
//! After an intended change, regenerate with `TRYBUILD=overwrite cargo test
//! --test ui` and review every changed `.stderr`: the caret must sit under the
//! author's offending tokens, not under `#[contract]`, unless the attribute
//! itself is the problem.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}

#[test]
fn ui_type_errors() {
    let t = trybuild::TestCases::new();
    t.compile_fail("tests/ui/fail/types/*.rs");
}
