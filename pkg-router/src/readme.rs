//! The README cannot rot: its Rust code is compiled as doctests (the quick start is a complete
//! server), and the crate's `README.md`, the one packaged and included here, is the workspace's.

/// The README's code blocks, as doctests (they need the `axum`, `jwt` and `client` features).
#[cfg(all(doctest, feature = "axum", feature = "jwt", feature = "client"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;

#[cfg(test)]
mod tests {
    use std::path::Path;

    #[test]
    fn crate_readme_is_a_copy_of_the_workspace_readme() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR"));
        let workspace = dir.join("../README.md");
        if !workspace.exists() {
            return; // a packaged crate has only its own copy
        }
        let read = |path: &Path| std::fs::read_to_string(path).expect("readable README");
        assert!(
            read(&workspace) == read(&dir.join("README.md")),
            "pkg-router/README.md differs from README.md: edit README.md, then \
             `cp README.md pkg-router/README.md`"
        );
    }
}
