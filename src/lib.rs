//! Workspace-level tests, benchmarks and examples of pkg-router. Nothing to use here: depend on
//! the `pkg-router` crate.
