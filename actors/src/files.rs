//! Reading a file the user named (`--config`, `--returns`), with an error that says what is
//! wrong with the path: missing, a directory, unreadable, too large, not UTF-8 text.
//!
//! # Invariants
//! - A file larger than the caller's cap is refused from its metadata, before it is read.
//! - Every error names the flag and the path.

use std::{fmt, io, path::Path};

/// Why a named file could not be read.
#[derive(Debug)]
pub enum FileError {
    /// Nothing at the path.
    Missing,
    /// A directory, not a file.
    Directory,
    /// Larger than the cap.
    TooLarge {
        /// Its size.
        bytes: u64,
        /// The cap.
        max_bytes: u64,
    },
    /// The system refused to open or read it.
    Unreadable(io::Error),
    /// Not UTF-8 text.
    NotText,
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FileError::Missing => f.write_str("no such file"),
            FileError::Directory => f.write_str("is a directory, not a file"),
            FileError::TooLarge { bytes, max_bytes } => {
                write!(f, "{bytes} bytes is more than the {max_bytes} accepted")
            }
            FileError::Unreadable(error) if error.kind() == io::ErrorKind::PermissionDenied => {
                f.write_str("cannot be read: permission denied")
            }
            FileError::Unreadable(error) => write!(f, "cannot be read: {error}"),
            FileError::NotText => f.write_str("is not UTF-8 text"),
        }
    }
}

impl std::error::Error for FileError {}

/// The text of the file at `path`, at most `max_bytes` long.
///
/// # Errors
/// A [`FileError`] saying what is wrong with the path.
pub fn read_text(path: &Path, max_bytes: u64) -> Result<String, FileError> {
    let metadata = std::fs::metadata(path).map_err(|error| match error.kind() {
        io::ErrorKind::NotFound => FileError::Missing,
        _ => FileError::Unreadable(error),
    })?;
    if metadata.is_dir() {
        return Err(FileError::Directory);
    }
    if metadata.len() > max_bytes {
        return Err(FileError::TooLarge {
            bytes: metadata.len(),
            max_bytes,
        });
    }
    let bytes = std::fs::read(path).map_err(FileError::Unreadable)?;
    String::from_utf8(bytes).map_err(|_| FileError::NotText)
}

/// [`read_text`] with the error as one line naming `flag` and the path
/// (`--returns data.csv: is a directory, not a file`).
///
/// # Errors
/// As [`read_text`].
pub fn read_named(flag: &str, path: &Path, max_bytes: u64) -> Result<String, String> {
    read_text(path, max_bytes).map_err(|error| format!("{flag} {}: {error}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_kind_of_bad_path_is_named() {
        let dir = std::env::temp_dir().join(format!("ballast-files-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("dir");
        let text = dir.join("ok.txt");
        std::fs::write(&text, "hello").expect("write");
        let binary = dir.join("bin.dat");
        std::fs::write(&binary, [0xff, 0xfe, 0x00]).expect("write");
        struct TestCase {
            path: std::path::PathBuf,
            max_bytes: u64,
            expected: Result<&'static str, &'static str>,
        }
        let cases = [
            // TC0: a readable file.
            TestCase {
                path: text.clone(),
                max_bytes: 100,
                expected: Ok("hello"),
            },
            // TC1: missing.
            TestCase {
                path: dir.join("missing.txt"),
                max_bytes: 100,
                expected: Err("no such file"),
            },
            // TC2: a directory.
            TestCase {
                path: dir.clone(),
                max_bytes: 100,
                expected: Err("is a directory, not a file"),
            },
            // TC3: over the cap, refused from its size.
            TestCase {
                path: text.clone(),
                max_bytes: 4,
                expected: Err("5 bytes is more than the 4 accepted"),
            },
            // TC4: not text.
            TestCase {
                path: binary,
                max_bytes: 100,
                expected: Err("is not UTF-8 text"),
            },
            // TC5: a path through a file is unreadable, not missing.
            TestCase {
                path: text.join("inner"),
                max_bytes: 100,
                expected: Err("cannot be read: "),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            match (read_text(&case.path, case.max_bytes), case.expected) {
                (Ok(got), Ok(want)) => assert_eq!(got, want, "TC{i}"),
                (Err(got), Err(want)) => {
                    assert!(got.to_string().starts_with(want), "TC{i}: {got}")
                }
                (got, want) => panic!("TC{i}: got {got:?}, want {want:?}"),
            }
        }
        let _ = std::fs::remove_dir_all(&dir);
    }
}
