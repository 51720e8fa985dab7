//! The configuration reference, generated from `config/default.toml`: every key with its
//! comment and its default, as Markdown (`docs/configuration.md`, printed by
//! `ballast config reference`).
//!
//! The defaults file is the one source: a key's documentation is the block of `#` comment lines
//! right above it, and its default the value written. Keys written on consecutive lines under
//! one comment (the six `[targets]`, `bound_lo` and `bound_hi`) share it. A test compares the generated text with
//! `docs/configuration.md` and checks that every key of the defaults has a comment, so the
//! reference cannot go stale.
//!
//! # Invariants
//! - Every `key = value` of the defaults appears once, as `section.key`, in file order.
//! - Pure text processing; nothing here reads a file.

use std::fmt::Write as _;

/// One key of the defaults file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyDoc {
    /// The section (`optimizer.black_litterman`).
    pub section: String,
    /// The key (`tau`).
    pub key: String,
    /// The default value, as written.
    pub default: String,
    /// The comment lines above it, `#` removed.
    pub comment: Vec<String>,
}

impl KeyDoc {
    /// `section.key`.
    pub fn path(&self) -> String {
        format!("{}.{}", self.section, self.key)
    }
}

/// The keys of a defaults file, in order, with their comments and defaults.
pub fn keys(toml: &str) -> Vec<KeyDoc> {
    let mut out = Vec::new();
    let mut section = String::new();
    let mut comment: Vec<String> = Vec::new();
    // The comment of the key on the line just above, for a group of keys under one comment.
    let mut group: Option<Vec<String>> = None;
    let mut lines = toml.lines().peekable();
    while let Some(line) = lines.next() {
        let trimmed = line.trim();
        if trimmed.is_empty() {
            group = None;
        } else if let Some(text) = trimmed.strip_prefix('#') {
            group = None;
            comment.push(text.strip_prefix(' ').unwrap_or(text).to_owned());
        } else if trimmed.starts_with('[') && trimmed.ends_with(']') {
            section = trimmed.trim_matches(|c| c == '[' || c == ']').to_owned();
            // A comment above a section header (the file's preamble) belongs to no key.
            comment.clear();
            group = None;
        } else if let Some((key, value)) = trimmed.split_once('=') {
            let mut default = value.trim().to_owned();
            // An array or inline table may continue over several lines.
            while open_brackets(&default) > 0 {
                match lines.next() {
                    Some(more) => {
                        default.push(' ');
                        default.push_str(more.trim());
                    }
                    None => break,
                }
            }
            let mut own = std::mem::take(&mut comment);
            if own.is_empty() {
                own = group.clone().unwrap_or_default();
            }
            group = Some(own.clone());
            out.push(KeyDoc {
                section: section.clone(),
                key: key.trim().to_owned(),
                default,
                comment: own,
            });
        }
    }
    out
}

/// Brackets and braces opened and not closed in `text` (strings are not expected in them).
fn open_brackets(text: &str) -> i32 {
    text.chars().fold(0, |depth, c| match c {
        '[' | '{' => depth + 1,
        ']' | '}' => depth - 1,
        _ => depth,
    })
}

/// The reference as Markdown.
pub fn markdown(toml: &str) -> String {
    let mut md = String::from(
        "# Configuration reference\n\n\
         Generated from `config/default.toml` by `ballast config reference`; a test fails when this \
         file and the generator's output differ, or when a key has no comment. Do not edit it by \
         hand: edit the defaults file and run `ballast config reference > docs/configuration.md`.\n\n\
         Layers, later overriding earlier: `config/default.toml` (compiled in), each `--config FILE`, \
         then environment variables `BALLAST__SECTION__KEY` (`BALLAST__POLICY__BAND=0.04`; a nested \
         section joins with `__`: `BALLAST__OPTIMIZER__VOL_SPIKE__RATIO`). Unknown keys are refused. \
         `ballast config show` prints the merged result, secrets redacted. The venue API key is not \
         configuration: it comes from `PURPLE_FLEA_API_KEY`.\n",
    );
    let mut current = None;
    for doc in keys(toml) {
        if current.as_deref() != Some(doc.section.as_str()) {
            let _ = write!(md, "\n## `[{}]`\n", doc.section);
            current = Some(doc.section.clone());
        }
        let _ = write!(
            md,
            "\n### `{}`\n\nDefault: `{}`\n\n",
            doc.path(),
            doc.default
        );
        let mut in_block = false;
        for line in &doc.comment {
            // Indented comment lines (a table of names, an example) keep their layout.
            let indented = line.starts_with("  ");
            if indented != in_block {
                md.push_str("```\n");
                in_block = indented;
            }
            let _ = writeln!(md, "{line}");
        }
        if in_block {
            md.push_str("```\n");
        }
    }
    md
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_take_the_comment_above_them_and_their_default() {
        let toml = "# preamble\n\n[a]\n# first\n# second\nx = 1\ny = [\n  \"p\",\n  \"q\",\n]\n\nw = 2\n[a.b]\n# z's\nz = \"t\"\n";
        let got = keys(toml);
        let paths: Vec<String> = got.iter().map(KeyDoc::path).collect();
        assert_eq!(paths, ["a.x", "a.y", "a.w", "a.b.z"]);
        assert_eq!(got[0].comment, ["first", "second"]);
        assert_eq!(got[0].default, "1");
        // y sits right under x: one comment for both; w, after a blank line, has none.
        assert_eq!(got[1].comment, got[0].comment);
        assert!(got[2].comment.is_empty());
        assert_eq!(got[1].default, "[ \"p\", \"q\", ]");
        assert_eq!(got[3].comment, ["z's"]);
        let md = markdown(toml);
        assert!(
            md.contains("### `a.b.z`\n\nDefault: `\"t\"`\n\nz's"),
            "{md}"
        );
        let block = markdown("[s]\n# names:\n#   a  one\n#   b  two\nk = 1\n");
        assert!(
            block.contains("names:\n```\n  a  one\n  b  two\n```\n"),
            "{block}"
        );
    }
}
