//! The `tauro-cli` binary.
fn main() {}
