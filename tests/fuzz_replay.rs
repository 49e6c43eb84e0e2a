//! The fuzz targets' bodies (`fuzz/src/targets/`) on the stable toolchain, without libFuzzer:
//! every file of the checked-in corpus `fuzz/corpus/<target>/`, then pseudo-random inputs
//! (random bytes, and mutations of the corpus files) from a fixed seed.
//!
//! `FUZZ_REPLAY_INPUTS` sets how many pseudo-random inputs each target gets (default 256) and
//! `FUZZ_REPLAY_SEED` the generator's seed (default 1); CI raises the count when it cannot run
//! `cargo fuzz` (see TESTING.md). A failing input is written to `target/fuzz-replay/<target>-*`,
//! to replay with `cargo fuzz run <target> <file>`.
#![allow(clippy::unwrap_used)] // a failed unwrap is a failed test

#[path = "../fuzz/src/targets/mod.rs"]
#[allow(dead_code, unreachable_pub, clippy::too_many_arguments)]
mod targets;

use std::path::{Path, PathBuf};

/// A xorshift generator: the same inputs on every machine for the same seed.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }

    fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.next() as u8).collect()
    }
}

fn env_number(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn corpus(target: &str) -> Vec<(PathBuf, Vec<u8>)> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fuzz/corpus")
        .join(target);
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|err| panic!("{}: {err}", dir.display()))
        .map(|entry| entry.unwrap().path())
        .collect();
    files.sort();
    files
        .into_iter()
        .map(|path| {
            let bytes = std::fs::read(&path).unwrap();
            (path, bytes)
        })
        .collect()
}

/// Runs `input`; on a panic, saves it for `cargo fuzz run` and fails with its name.
fn run_one(target: &str, body: fn(&[u8]), input: &[u8], what: &str) {
    if std::panic::catch_unwind(|| body(input)).is_err() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/fuzz-replay");
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join(format!("{target}-{}", what.replace(['/', ' '], "_")));
        std::fs::write(&file, input).unwrap();
        panic!(
            "{target} failed on {what}; input saved to {}",
            file.display()
        );
    }
}

fn replay(target: &str) {
    let body = targets::TARGETS
        .iter()
        .find(|(name, _)| *name == target)
        .map(|(_, body)| *body)
        .unwrap();
    let seeds = corpus(target);
    assert!(!seeds.is_empty(), "no corpus for {target}");
    for (path, bytes) in &seeds {
        run_one(target, body, bytes, &path.display().to_string());
    }
    let inputs = env_number("FUZZ_REPLAY_INPUTS", 256);
    let mut rng = Rng(env_number("FUZZ_REPLAY_SEED", 1).max(1) ^ 0x9e37_79b9_7f4a_7c15);
    for i in 0..inputs {
        let input = if i % 2 == 0 {
            let len = rng.below(512);
            rng.bytes(len)
        } else {
            // A corpus file with a few bytes overwritten, inserted or cut.
            let mut input = seeds[rng.below(seeds.len())].1.clone();
            for _ in 0..=rng.below(4) {
                let at = rng.below(input.len() + 1);
                match rng.below(3) {
                    0 if at < input.len() => input[at] = rng.next() as u8,
                    1 => input.insert(at, rng.next() as u8),
                    _ => input.truncate(at.max(1)),
                }
            }
            input
        };
        run_one(target, body, &input, &format!("input {i}"));
    }
}

#[test]
fn every_target_has_a_seed_corpus_and_a_test() {
    let names: Vec<&str> = targets::TARGETS.iter().map(|(name, _)| *name).collect();
    assert_eq!(
        names,
        [
            "envelope_decode",
            "auth_frame",
            "page_params",
            "json_codec",
            "push_frame",
            "connection",
            "protobuf_codec"
        ]
    );
    for name in names {
        assert!(!corpus(name).is_empty(), "{name}");
    }
}

#[test]
fn envelope_decode() {
    replay("envelope_decode");
}

#[test]
fn auth_frame() {
    replay("auth_frame");
}

#[test]
fn page_params() {
    replay("page_params");
}

#[test]
fn json_codec() {
    replay("json_codec");
}

#[test]
fn push_frame() {
    replay("push_frame");
}

#[test]
fn connection() {
    replay("connection");
}

#[test]
fn protobuf_codec() {
    replay("protobuf_codec");
}
