//! One companion per store: an exclusive OS lock on `{store}.lock`, held for a run's life.
//!
//! Two companions on one store would plan every trigger twice and race on its legs. The lock
//! is the operating system's advisory file lock (`flock` on Unix, `LockFileEx` on Windows,
//! through `std::fs::File::try_lock`), so it is released whenever its holder exits, a
//! SIGKILL included: a stale lock file never blocks. The holder writes its pid into the file
//! so that the refusal can name it. The lock file sits beside the database, not on it,
//! because SQLite takes its own locks on the database file.
//!
//! # Invariants
//! - While a [`StoreLock`] lives, no other [`StoreLock::acquire`] on the same store succeeds,
//!   in this process or another.
//! - Acquiring never waits: a held lock is refused at once, naming the holder's pid.
//! - The lock file is created 0600, like the database.

use std::{
    fs::{File, OpenOptions, TryLockError},
    io::{Read, Seek, SeekFrom, Write},
    path::{Path, PathBuf},
};

/// Why a store could not be locked.
#[derive(Debug, thiserror::Error)]
pub enum LockError {
    /// Another process (or handle) holds the lock.
    #[error(
        "store.path: {} is in use by another ballast (pid {}); one companion per store",
        store.display(),
        pid.map_or_else(|| "unknown".to_owned(), |pid| pid.to_string())
    )]
    Held {
        /// The store.
        store: PathBuf,
        /// The holder's pid, as it wrote it.
        pid: Option<u32>,
    },
    /// The lock file could not be opened or locked.
    #[error("store.path: locking {}: {error}", path.display())]
    Io {
        /// The lock file.
        path: PathBuf,
        /// What failed.
        error: std::io::Error,
    },
}

/// The lock on one store, released on drop (or when the process exits, however it exits).
#[derive(Debug)]
pub struct StoreLock {
    /// Held open: closing it releases the lock.
    _file: File,
    path: PathBuf,
}

impl StoreLock {
    /// The lock file of the store at `store`: `{store}.lock`.
    pub fn path_for(store: &Path) -> PathBuf {
        let mut name = store.as_os_str().to_owned();
        name.push(".lock");
        PathBuf::from(name)
    }

    /// Takes the lock on the store at `store` (creating its directory, 0700, and the lock
    /// file, 0600, when missing) and writes this process's pid into it.
    ///
    /// # Errors
    /// [`LockError::Held`] when another holder has it, naming its pid; [`LockError::Io`]
    /// when the file cannot be opened, locked or written.
    pub fn acquire(store: &Path) -> Result<Self, LockError> {
        let path = Self::path_for(store);
        let io = |error| LockError::Io {
            path: path.clone(),
            error,
        };
        super::create_private_dir(store);
        let mut options = OpenOptions::new();
        options.read(true).write(true).create(true).truncate(false);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut file = options.open(&path).map_err(io)?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let mut text = String::new();
                let _ = file.read_to_string(&mut text);
                return Err(LockError::Held {
                    store: store.to_owned(),
                    pid: text.trim().parse().ok(),
                });
            }
            Err(TryLockError::Error(error)) => return Err(io(error)),
        }
        file.set_len(0).map_err(io)?;
        file.seek(SeekFrom::Start(0)).map_err(io)?;
        writeln!(file, "{}", std::process::id()).map_err(io)?;
        file.flush().map_err(io)?;
        Ok(Self { _file: file, path })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_holder_is_refused_by_pid_until_the_first_lets_go() {
        let dir = std::env::temp_dir().join(format!("ballast-lock-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let store = dir.join("data").join("ballast.db");

        let first = StoreLock::acquire(&store).expect("the first holder locks");
        assert_eq!(first.path(), dir.join("data").join("ballast.db.lock"));
        let refused = StoreLock::acquire(&store).expect_err("a second holder is refused");
        let pid = std::process::id();
        assert!(
            matches!(&refused, LockError::Held { pid: Some(held), .. } if *held == pid),
            "{refused:?}"
        );
        assert!(
            refused.to_string().contains(&format!("pid {pid}")),
            "{refused}"
        );
        assert!(refused.to_string().starts_with("store.path: "), "{refused}");

        // Released on drop; the file left behind (with a pid in it) does not block.
        drop(first);
        let again = StoreLock::acquire(&store).expect("a stale lock file does not block");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).expect("exists").permissions().mode();
            assert_eq!(mode(again.path()) & 0o777, 0o600);
            assert_eq!(mode(&dir.join("data")) & 0o777, 0o700);
        }
        drop(again);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
