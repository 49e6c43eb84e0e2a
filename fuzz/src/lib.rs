//! Fuzz targets of pkg-router. Each target's body is a plain function of the input bytes in
//! [`targets`]: `cargo fuzz` runs them under libFuzzer (`fuzz_targets/*.rs`), and the main
//! workspace's `tests/fuzz_replay.rs` runs the same functions on stable over the seed corpus and
//! pseudo-random inputs.

pub mod targets;
