//! Empty: this package exists for its tests (`tests/`), which need
//! hotpocket's `serve` feature without turning it on for the examples.
