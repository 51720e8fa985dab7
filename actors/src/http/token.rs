//! The control token and the files `ballast run` leaves for `ballast ctl`.
//!
//! Control actions need a bearer token. It comes from the `BALLAST_CONTROL_TOKEN` environment
//! variable, else from the file `control.token_file` names, else from `control.token` in the
//! data directory (the store's folder), generated there on first run with mode 0600. The
//! address the API is bound to is written to `http.addr` beside it, so `ballast ctl` finds a
//! run that picked a free port.
//!
//! # Invariants
//! - The token is never printed, logged or serialized: [`ControlToken`] redacts itself.
//! - A token file readable by group or others is refused, never used.
//! - A generated token is 256 bits from the operating system's generator, written to a file
//!   created with mode 0600 (never widened after the fact).

use std::{
    fmt,
    io::Write as _,
    path::{Path, PathBuf},
};

use ballast::secret::ApiKey;

/// Environment variable that carries the control token itself.
pub const TOKEN_ENV: &str = "BALLAST_CONTROL_TOKEN";
/// The generated token's file name in the data directory.
pub const TOKEN_FILE_NAME: &str = "control.token";
/// The file, in the data directory, holding the API's base URL while a run serves it.
pub const ADDRESS_FILE_NAME: &str = "http.addr";

/// The operator's bearer token; prints as `<redacted>`.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(ApiKey);

impl fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

/// Where the token came from (for the start-up line; never the token).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// `BALLAST_CONTROL_TOKEN`.
    Environment,
    /// A file that already held it.
    File(PathBuf),
    /// Generated now into this file.
    Generated(PathBuf),
}

impl fmt::Display for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TokenSource::Environment => write!(f, "${TOKEN_ENV}"),
            TokenSource::File(path) => write!(f, "{}", path.display()),
            TokenSource::Generated(path) => write!(f, "{} (generated)", path.display()),
        }
    }
}

/// A token that cannot be read or made.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The configured token file is missing.
    #[error("control.token_file: {0} does not exist")]
    Missing(PathBuf),
    /// The file is empty.
    #[error("control token file {0} is empty")]
    Empty(PathBuf),
    /// The file is readable by others.
    #[error(
        "control token file {path} has mode {mode:o}: readable by group or others; `chmod 600` it"
    )]
    TooOpen {
        /// The file.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },
    /// Reading or writing failed.
    #[error("control token file {path}: {error}")]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        error: std::io::Error,
    },
}

impl ControlToken {
    /// Wraps a token; empty or whitespace-only text is no token.
    pub fn new(text: &str) -> Option<Self> {
        ApiKey::new(text).map(Self)
    }

    /// Whether `presented` is the token (every byte compared).
    pub fn matches(&self, presented: &str) -> bool {
        self.0.matches(presented)
    }

    /// The token itself, for the `Authorization` header. Never print the result.
    pub fn expose(&self) -> &str {
        self.0.expose()
    }

    /// The token for a run: from the environment, the configured file, or the data
    /// directory's file, generated there if missing.
    ///
    /// # Errors
    /// [`TokenError`] naming the file.
    pub fn load_or_create(
        configured: Option<&Path>,
        data_dir: &Path,
    ) -> Result<(Self, TokenSource), TokenError> {
        if let Some(found) = Self::from_env() {
            return Ok((found, TokenSource::Environment));
        }
        let path = token_path(configured, data_dir);
        if configured.is_none() && !path.exists() {
            let token = generate(&path)?;
            return Ok((token, TokenSource::Generated(path)));
        }
        let token = read(&path, configured.is_some())?;
        Ok((token, TokenSource::File(path)))
    }

    /// The token for a client (`ballast ctl`): from the environment or the file; never made.
    ///
    /// # Errors
    /// [`TokenError`] naming the file.
    pub fn load(configured: Option<&Path>, data_dir: &Path) -> Result<Self, TokenError> {
        match Self::from_env() {
            Some(token) => Ok(token),
            None => read(&token_path(configured, data_dir), true),
        }
    }

    fn from_env() -> Option<Self> {
        std::env::var(TOKEN_ENV)
            .ok()
            .and_then(|text| Self::new(&text))
    }
}

/// The data directory: the store's folder (`.` for a bare file name).
pub fn data_dir(store_path: &Path) -> PathBuf {
    store_path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .map_or_else(|| PathBuf::from("."), Path::to_path_buf)
}

/// The token file: the configured one, else `control.token` in the data directory.
pub fn token_path(configured: Option<&Path>, data_dir: &Path) -> PathBuf {
    configured.map_or_else(|| data_dir.join(TOKEN_FILE_NAME), Path::to_path_buf)
}

fn io(path: &Path) -> impl FnOnce(std::io::Error) -> TokenError + '_ {
    move |error| TokenError::Io {
        path: path.to_path_buf(),
        error,
    }
}

fn read(path: &Path, must_exist: bool) -> Result<ControlToken, TokenError> {
    if must_exist && !path.exists() {
        return Err(TokenError::Missing(path.to_path_buf()));
    }
    check_private(path)?;
    let text = std::fs::read_to_string(path).map_err(io(path))?;
    ControlToken::new(&text).ok_or_else(|| TokenError::Empty(path.to_path_buf()))
}

#[cfg(unix)]
fn check_private(path: &Path) -> Result<(), TokenError> {
    use std::os::unix::fs::PermissionsExt;
    let mode = std::fs::metadata(path)
        .map_err(io(path))?
        .permissions()
        .mode()
        & 0o777;
    if mode & 0o077 != 0 {
        return Err(TokenError::TooOpen {
            path: path.to_path_buf(),
            mode,
        });
    }
    Ok(())
}

#[cfg(not(unix))]
fn check_private(_path: &Path) -> Result<(), TokenError> {
    Ok(())
}

fn generate(path: &Path) -> Result<ControlToken, TokenError> {
    use rand::TryRngCore as _;
    let mut bytes = [0_u8; 32];
    rand::rngs::OsRng
        .try_fill_bytes(&mut bytes)
        .map_err(|e| std::io::Error::other(e.to_string()))
        .map_err(io(path))?;
    let text: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    if let Some(dir) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(dir).map_err(io(path))?;
    }
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = options.open(path).map_err(io(path))?;
    file.write_all(text.as_bytes()).map_err(io(path))?;
    file.sync_all().map_err(io(path))?;
    ControlToken::new(&text).ok_or_else(|| TokenError::Empty(path.to_path_buf()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("ballast-token-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn a_token_is_generated_once_private_and_never_printed() {
        let dir = temp_dir("gen");
        let (token, source) = ControlToken::load_or_create(None, &dir).expect("generated");
        let path = dir.join(TOKEN_FILE_NAME);
        assert_eq!(source, TokenSource::Generated(path.clone()));
        assert_eq!(token.expose().len(), 64);
        assert!(!format!("{token:?}").contains(token.expose()));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&path).expect("file").permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // The next run, and the client, read the same token.
        let (again, source) = ControlToken::load_or_create(None, &dir).expect("read");
        assert_eq!(again, token);
        assert_eq!(source, TokenSource::File(path));
        assert_eq!(ControlToken::load(None, &dir).expect("client reads"), token);
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[cfg(unix)]
    #[test]
    fn a_token_file_others_can_read_is_refused_and_a_configured_one_must_exist() {
        use std::os::unix::fs::PermissionsExt;
        let dir = temp_dir("open");
        std::fs::create_dir_all(&dir).expect("dir");
        let path = dir.join("token");
        std::fs::write(&path, "secret-token\n").expect("written");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o644)).expect("chmod");
        let error = ControlToken::load(Some(&path), &dir).expect_err("refused");
        assert!(error.to_string().contains("chmod 600"), "{error}");
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600)).expect("chmod");
        let token = ControlToken::load(Some(&path), &dir).expect("read");
        assert!(token.matches("secret-token"));
        let missing = dir.join("nope");
        let error = ControlToken::load_or_create(Some(&missing), &dir).expect_err("missing");
        assert!(
            error.to_string().starts_with("control.token_file"),
            "{error}"
        );
        let _ = std::fs::remove_dir_all(&dir);
    }
}
