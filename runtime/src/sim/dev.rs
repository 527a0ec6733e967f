//! Dev mode: a contract binary simulating itself.

/// Runs dev mode with `args` (without argv[0]); returns the exit code.
pub fn main(args: Vec<String>) -> i32 {
    let _ = args;
    0
}
