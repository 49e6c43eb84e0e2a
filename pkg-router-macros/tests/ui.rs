//! Compile-time tests of `#[pkg_handler]`: what it accepts, and the diagnostics it gives for
//! what it refuses.
//!
//! The golden `.stderr` files in `tests/ui/fail/` are compared with the compiler's output;
//! after an intended change, regenerate them with
//! `TRYBUILD=overwrite cargo test -p pkg-router-macros --test ui` and read the diff.

#[test]
fn ui() {
    let t = trybuild::TestCases::new();
    t.pass("tests/ui/pass/*.rs");
    t.compile_fail("tests/ui/fail/*.rs");
}
