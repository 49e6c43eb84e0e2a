#![doc = include_str!("../docs/protocol.md")]

#[cfg(test)]
mod tests {
    //! Rustdoc checks intra-doc links but not their `#fragment`s: these tests check that every
    //! fragment the docs link to is a heading of the page it points at.

    use std::path::{Path, PathBuf};

    /// The pages whose headings the docs link to, by the path links use for them.
    const PAGES: &[(&str, &str)] = &[
        ("crate::protocol", "docs/protocol.md"),
        ("crate::from_python", "docs/from_python.md"),
        ("crate::transport", "docs/serving.md"),
        ("crate", "docs/crate.md"),
    ];

    /// The `id` rustdoc gives a heading: lower case, spaces as `-`, other punctuation dropped.
    fn anchor(heading: &str) -> String {
        heading
            .chars()
            .filter_map(|c| match c {
                c if c.is_alphanumeric() || c == '-' || c == '_' => Some(c.to_ascii_lowercase()),
                c if c.is_ascii_whitespace() => Some('-'),
                _ => None,
            })
            .collect()
    }

    /// The anchors of a markdown page's headings (outside code blocks).
    fn anchors(page: &str) -> Vec<String> {
        let mut in_code = false;
        let mut found = Vec::new();
        for line in page.lines() {
            if line.trim_start().starts_with("```") {
                in_code = !in_code;
            } else if !in_code && line.starts_with('#') {
                found.push(anchor(line.trim_start_matches('#').trim()));
            }
        }
        found
    }

    /// Every `.rs` and `.md` file the crate's docs are written in.
    fn doc_sources(dir: &Path, out: &mut Vec<PathBuf>) {
        for entry in std::fs::read_dir(dir).expect("readable source dir") {
            let path = entry.expect("dir entry").path();
            if path.is_dir() {
                doc_sources(&path, out);
            } else if path
                .extension()
                .is_some_and(|ext| ext == "rs" || ext == "md")
            {
                out.push(path);
            }
        }
    }

    #[test]
    fn heading_anchors_follow_rustdoc() {
        assert_eq!(anchor("6.6 Shutdown"), "66-shutdown");
        assert_eq!(
            anchor("3. Status codes (`status_code`)"),
            "3-status-codes-status_code"
        );
        assert_eq!(
            anchor("Deviations and precisions"),
            "deviations-and-precisions"
        );
    }

    #[test]
    fn every_linked_fragment_is_a_heading_of_its_page() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"));
        let mut files = Vec::new();
        doc_sources(&root.join("src"), &mut files);
        doc_sources(&root.join("docs"), &mut files);
        let mut broken = Vec::new();
        let mut checked = 0;
        for file in &files {
            let text = std::fs::read_to_string(file).expect("readable doc source");
            for (start, _) in text.match_indices("](crate") {
                let link = &text[start + 2..];
                let Some((target, rest)) = link.split_once('#') else {
                    continue;
                };
                if target.contains(')') {
                    continue; // no fragment in this link
                }
                let fragment: String = rest.chars().take_while(|&c| c != ')').collect();
                let Some((_, page)) = PAGES.iter().find(|(path, _)| *path == target) else {
                    continue; // an item's page: rustdoc's own anchors
                };
                let headings =
                    anchors(&std::fs::read_to_string(root.join(page)).expect("readable doc page"));
                checked += 1;
                if !headings.contains(&fragment) {
                    broken.push(format!("{}: {target}#{fragment}", file.display()));
                }
            }
        }
        assert!(checked > 10, "found only {checked} links with a fragment");
        assert!(
            broken.is_empty(),
            "links to missing headings:\n{}",
            broken.join("\n")
        );
    }
}
