//! The venue's REST client: typed calls for every endpoint ballast uses, over reqwest.
//!
//! Every request carries `Authorization: Bearer KEY` when a key is configured and a total
//! timeout; every POST and DELETE carries the caller's `Idempotency-Key`, so a retry of the
//! same leg can never move money twice. Failures are a [`ClientError`] that names the
//! endpoint and, for HTTP failures, the status and the venue's error code.
//!
//! # Invariants
//! - The API key only ever reaches the `Authorization` header; `VenueClient`'s `Debug`
//!   and every error omit it.
//! - Every response goes through [`decode_rest`]: serde for the shape, then the payload's
//!   checks (no negative balance, no non-finite return, no non-positive price); a response
//!   that fails either is a [`ClientError::Decode`] naming the field, never a default.
//! - No reply body is read beyond [`REPLY_BODY_MAX_BYTES`]: a longer one (declared or
//!   streamed) is a [`ClientError::TooLarge`] naming the endpoint, so a venue that never
//!   stops answering cannot grow ballast's memory.
//! - A venue URL carrying credentials (`http://user:KEY@host`) is refused: the key would be
//!   printed and stored with the URL. The key belongs in `PURPLE_FLEA_API_KEY`.
//! - An [`ClientError::is_ambiguous`] error means the request may have been applied: the
//!   caller must resolve it by an idempotent retry with the same key, never a fresh key.

use std::time::Duration;

use reqwest::{Method, StatusCode, header};
use serde::{Serialize, de::DeserializeOwned};

use super::protocol::validation::{RestPayload, decode_rest};
use super::protocol::{
    API_BASE, ErrorBody, IDEMPOTENCY_HEADER, PortfolioResponse, PricesResponse, RebalanceBody,
    RebalanceResponse, ReturnsResponse,
    sim::{SimClock, SimStats},
};
use super::stream::SEQ_MAX;
use crate::secret::ApiKey;

/// Default total timeout of one REST request.
pub const REQUEST_TIMEOUT_DEFAULT: Duration = Duration::from_secs(10);

/// The largest reply body read, in bytes (4 MiB). The largest legitimate reply, ten years of
/// daily returns for six services, is about 250 KiB.
pub const REPLY_BODY_MAX_BYTES: usize = 4 * 1024 * 1024;

/// A REST call that failed.
#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    /// The request never produced an HTTP response (connect failure, reset, timeout).
    #[error("{endpoint}: {reason}")]
    Transport {
        /// `METHOD path` of the call.
        endpoint: String,
        /// What went wrong, without the key.
        reason: String,
        /// Whether the request may have reached the venue (timeouts after sending).
        maybe_applied: bool,
    },
    /// The venue answered with a non-success status.
    #[error("{endpoint}: HTTP {status} {code}: {message}")]
    Status {
        /// `METHOD path` of the call.
        endpoint: String,
        /// HTTP status.
        status: u16,
        /// The venue's error code (`insufficient_balance`, ...), or `http_error`.
        code: String,
        /// The venue's message.
        message: String,
        /// `Retry-After` in seconds, when the venue sent one (429, 503).
        retry_after_secs: Option<u64>,
    },
    /// The response arrived but its body is not what the protocol promises.
    #[error("{endpoint}: bad response body: {reason}")]
    Decode {
        /// `METHOD path` of the call.
        endpoint: String,
        /// Which field or why.
        reason: String,
    },
    /// The reply body is longer than [`REPLY_BODY_MAX_BYTES`]; the rest was not read.
    #[error("{endpoint}: reply body exceeds {limit_bytes} bytes; not read further")]
    TooLarge {
        /// `METHOD path` of the call.
        endpoint: String,
        /// The cap, [`REPLY_BODY_MAX_BYTES`].
        limit_bytes: usize,
    },
    /// The client could not be built (bad base URL, TLS set-up).
    #[error("venue client: {0}")]
    Setup(String),
}

impl ClientError {
    /// True when the venue may have applied the request although no success was seen: the
    /// leg must be resolved with the same idempotency key, never resubmitted under a new one.
    pub fn is_ambiguous(&self) -> bool {
        match self {
            ClientError::Transport { maybe_applied, .. } => *maybe_applied,
            ClientError::Status { status, .. } => *status >= 500,
            // The request arrived; what the venue did is unreadable.
            ClientError::Decode { .. } | ClientError::TooLarge { .. } => true,
            ClientError::Setup(_) => false,
        }
    }

    /// True when the venue refused the request because its idempotency key holds a different
    /// request (another companion's plan for the same trigger came first).
    pub fn is_key_reused(&self) -> bool {
        matches!(self, ClientError::Status { status: 422, code, .. } if code == KEY_REUSED_CODE)
    }

    /// True for failures worth retrying: transport errors, 429 and 5xx.
    pub fn is_retryable(&self) -> bool {
        match self {
            ClientError::Transport { .. } => true,
            ClientError::Status { status, .. } => *status == 429 || *status >= 500,
            ClientError::Decode { .. } | ClientError::TooLarge { .. } | ClientError::Setup(_) => {
                false
            }
        }
    }

    /// The venue's `Retry-After`, if any.
    pub fn retry_after(&self) -> Option<Duration> {
        match self {
            ClientError::Status {
                retry_after_secs: Some(secs),
                ..
            } => Some(Duration::from_secs(*secs)),
            _ => None,
        }
    }
}

/// The retry rule's view of a failed send.
impl From<&ClientError> for crate::execution::SendFailure {
    fn from(error: &ClientError) -> Self {
        Self {
            description: error.to_string(),
            ambiguous: error.is_ambiguous(),
            retryable: error.is_retryable(),
            retry_after: error.retry_after(),
            superseded: error.is_key_reused(),
        }
    }
}

/// The error code of a request whose idempotency key already holds a different request.
pub const KEY_REUSED_CODE: &str = "idempotency_key_reused";

/// What a rebalance reply says the venue did, for [`crate::execution::check_reply`].
pub fn replied(response: &RebalanceResponse) -> crate::execution::Replied<'_> {
    crate::execution::Replied {
        transfer_id: &response.transfer_id,
        service: response.service,
        direction: response.direction,
        amount_usdc: response.amount_usdc,
        status: &response.status,
    }
}

/// The error code of a status query for a key the venue never saw.
pub const UNKNOWN_KEY_CODE: &str = "unknown_idempotency_key";

/// What became of a rebalance whose outcome was unknown: the core's
/// [`KeyStatus`](crate::execution::KeyStatus), carrying the venue's first reply when it was
/// applied.
pub type LegResolution = crate::execution::KeyStatus<RebalanceResponse>;

/// Async client for one agent on one venue.
#[derive(Clone)]
pub struct VenueClient {
    http: reqwest::Client,
    /// `scheme://host:port/api/v1`, without a trailing slash.
    base_url: String,
    agent_id: String,
    api_key: Option<ApiKey>,
}

impl std::fmt::Debug for VenueClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VenueClient")
            .field("base_url", &self.base_url)
            .field("agent_id", &self.agent_id)
            .field("api_key", &self.api_key)
            .finish()
    }
}

/// Installs the process-wide rustls crypto provider (ring) once; later calls are no-ops.
pub fn init_tls() {
    // Another component may already have installed one; either way a provider exists.
    let _ = rustls::crypto::ring::default_provider().install_default();
}

impl VenueClient {
    /// Builds a client. `venue_url` is the venue's root (`http://127.0.0.1:8787`) or its API
    /// base (`.../api/v1`); both work.
    ///
    /// # Errors
    /// [`ClientError::Setup`] for a URL that is not http(s) or a TLS set-up failure.
    pub fn new(
        venue_url: &str,
        agent_id: &str,
        api_key: Option<ApiKey>,
        timeout: Duration,
    ) -> Result<Self, ClientError> {
        init_tls();
        let base_url = api_base_url(venue_url)?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout.min(Duration::from_secs(5)))
            .tcp_nodelay(true)
            .user_agent(concat!("ballast/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| ClientError::Setup(e.to_string()))?;
        Ok(Self {
            http,
            base_url,
            agent_id: agent_id.to_owned(),
            api_key,
        })
    }

    /// The API base URL, `.../api/v1`.
    pub fn base_url(&self) -> &str {
        &self.base_url
    }

    /// The agent this client acts for.
    pub fn agent_id(&self) -> &str {
        &self.agent_id
    }

    /// The configured key, for the websocket stream's handshake.
    pub fn api_key(&self) -> Option<&ApiKey> {
        self.api_key.as_ref()
    }

    /// `GET /agents/{id}/portfolio`, validated (no negative balances).
    ///
    /// # Errors
    /// A [`ClientError`] naming the endpoint.
    pub async fn portfolio(&self) -> Result<PortfolioResponse, ClientError> {
        let path = format!("/agents/{}/portfolio", self.agent_id);
        let portfolio: PortfolioResponse = self
            .call::<(), _>(Method::GET, &path, &[], None, None)
            .await?;
        // The store keeps sequence numbers as SQLite integers: refuse one it cannot hold
        // rather than let it poison the cursor.
        if let Some(seq) = portfolio.seq.filter(|seq| *seq > SEQ_MAX) {
            return Err(ClientError::Decode {
                endpoint: format!("GET {path}"),
                reason: format!("`seq` {seq} exceeds {SEQ_MAX}"),
            });
        }
        Ok(portfolio)
    }

    /// `POST /agents/{id}/rebalance` with an idempotency key.
    ///
    /// # Errors
    /// A [`ClientError`]; see [`ClientError::is_ambiguous`] before retrying.
    pub async fn rebalance(
        &self,
        body: &RebalanceBody,
        idempotency_key: &str,
    ) -> Result<RebalanceResponse, ClientError> {
        let path = format!("/agents/{}/rebalance", self.agent_id);
        self.call(Method::POST, &path, &[], Some(body), Some(idempotency_key))
            .await
    }

    /// `GET /agents/{id}/rebalance/{key}` (*addition*): what became of the rebalance sent
    /// under `idempotency_key`, asked without resubmitting it.
    ///
    /// # Errors
    /// A [`ClientError`] when the venue cannot say (transport failure, 5xx, a body that
    /// does not decode); the leg then stays unresolved.
    pub async fn rebalance_status(
        &self,
        idempotency_key: &str,
    ) -> Result<LegResolution, ClientError> {
        let path = format!("/agents/{}/rebalance/{idempotency_key}", self.agent_id);
        key_status(
            self.call::<(), RebalanceResponse>(Method::GET, &path, &[], None, None)
                .await,
        )
    }

    /// `GET /sim/stats`, read for the clock: a `ballast sim` venue answers with its
    /// simulated time and speed; any other venue has no such endpoint (`None`).
    ///
    /// # Errors
    /// A [`ClientError`] other than "no such endpoint".
    pub async fn sim_clock(&self) -> Result<Option<SimClock>, ClientError> {
        match self
            .call::<(), SimStats>(Method::GET, "/sim/stats", &[], None, None)
            .await
        {
            Ok(stats) => Ok(Some(stats.clock())),
            Err(ClientError::Status { status: 404, .. }) => Ok(None),
            Err(error) => Err(error),
        }
    }

    /// `GET /agents/{id}/returns?days=N`, with every value checked for finiteness.
    ///
    /// # Errors
    /// A [`ClientError`]; a non-finite return is a decode error naming the service.
    pub async fn returns(&self, days: u32) -> Result<ReturnsResponse, ClientError> {
        let path = format!("/agents/{}/returns", self.agent_id);
        let days_text = days.to_string();
        self.call::<(), _>(Method::GET, &path, &[("days", &days_text)], None, None)
            .await
    }

    /// `GET /prices?assets=A,B`; with no assets, `GET /prices`: every asset the venue
    /// quotes.
    ///
    /// # Errors
    /// A [`ClientError`]; a non-positive price is a decode error naming the asset.
    pub async fn prices(&self, assets: &[&str]) -> Result<PricesResponse, ClientError> {
        let joined = assets.join(",");
        let query: &[(&str, &str)] = if assets.is_empty() {
            &[]
        } else {
            &[("assets", &joined)]
        };
        self.call::<(), _>(Method::GET, "/prices", query, None, None)
            .await
    }

    /// The one request path: auth, idempotency key, status mapping, validated decoding.
    pub(crate) async fn call<B: Serialize, R: DeserializeOwned + RestPayload>(
        &self,
        method: Method,
        path: &str,
        query: &[(&str, &str)],
        body: Option<&B>,
        idempotency_key: Option<&str>,
    ) -> Result<R, ClientError> {
        let endpoint = format!("{method} {path}");
        let mutating = method != Method::GET;
        let mut request = self
            .http
            .request(method, format!("{}{path}", self.base_url));
        if !query.is_empty() {
            request = request.query(query);
        }
        if let Some(key) = &self.api_key {
            request = request.header(header::AUTHORIZATION, format!("Bearer {}", key.expose()));
        }
        if let Some(key) = idempotency_key {
            request = request.header(IDEMPOTENCY_HEADER, key);
        }
        if let Some(body) = body {
            request = request.json(body);
        }
        let response = request.send().await.map_err(|e| ClientError::Transport {
            endpoint: endpoint.clone(),
            // A connect failure never reached the venue; anything later might have.
            maybe_applied: mutating && !e.is_connect(),
            // reqwest errors carry the URL, never headers, so the key cannot appear here.
            reason: describe_transport(e),
        })?;
        let status = response.status();
        let retry_after_secs = response
            .headers()
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.trim().parse::<u64>().ok());
        let bytes = read_capped(response, &endpoint, mutating).await?;
        if !status.is_success() {
            let (code, message) = match serde_json::from_slice::<ErrorBody>(&bytes) {
                Ok(body) => (body.code, body.message),
                Err(_) => (
                    "http_error".to_owned(),
                    status
                        .canonical_reason()
                        .unwrap_or("unexpected status")
                        .to_owned(),
                ),
            };
            return Err(ClientError::Status {
                endpoint,
                status: status.as_u16(),
                code,
                message,
                retry_after_secs: retry_after_secs.filter(|_| {
                    matches!(
                        status,
                        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
                    )
                }),
            });
        }
        // One door for every response: shape by serde, values by the payload's checks.
        decode_rest(&bytes).map_err(|reason| ClientError::Decode { endpoint, reason })
    }
}

/// Reads a reply body, at most [`REPLY_BODY_MAX_BYTES`]: a longer declared length is refused
/// before reading, a longer stream as soon as it passes the cap.
async fn read_capped(
    mut response: reqwest::Response,
    endpoint: &str,
    mutating: bool,
) -> Result<Vec<u8>, ClientError> {
    let too_large = || ClientError::TooLarge {
        endpoint: endpoint.to_owned(),
        limit_bytes: REPLY_BODY_MAX_BYTES,
    };
    let declared = response.content_length().unwrap_or(0);
    if declared > REPLY_BODY_MAX_BYTES as u64 {
        return Err(too_large());
    }
    // `declared` is at most the cap here.
    let mut body = Vec::with_capacity(declared as usize);
    loop {
        let chunk = response.chunk().await.map_err(|e| ClientError::Transport {
            endpoint: endpoint.to_owned(),
            reason: describe_transport(e),
            maybe_applied: mutating,
        })?;
        let Some(chunk) = chunk else {
            return Ok(body);
        };
        if body.len() + chunk.len() > REPLY_BODY_MAX_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
}

/// What a status query by idempotency key says: the first reply (applied), the stored
/// refusal, or no request under that key.
///
/// # Errors
/// The query's own failure (transport, 5xx, 429, an undecodable body, or a venue without
/// the endpoint): the venue could not say.
pub(crate) fn key_status<R>(
    answer: Result<R, ClientError>,
) -> Result<crate::execution::KeyStatus<R>, ClientError> {
    use crate::execution::KeyStatus;
    match answer {
        Ok(response) => Ok(KeyStatus::Applied(response)),
        Err(ClientError::Status { code, .. }) if code == UNKNOWN_KEY_CODE => {
            Ok(KeyStatus::NeverArrived)
        }
        Err(ClientError::Status {
            status,
            code,
            message,
            ..
        }) if (400..500).contains(&status) && status != 429 && code != "not_found" => {
            // The venue stored a refusal under this key: the request was never applied.
            Ok(KeyStatus::Refused { code, message })
        }
        Err(error) => Err(error),
    }
}

fn describe_transport(error: reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".to_owned()
    } else if error.is_connect() {
        "could not connect".to_owned()
    } else {
        // Strip the URL: it is known from the endpoint, and keeps messages short.
        error.without_url().to_string()
    }
}

/// Normalizes a venue URL to its API base (`.../api/v1`, no trailing slash).
///
/// # Errors
/// [`ClientError::Setup`] when the URL is not `http://` or `https://`, or carries
/// credentials (`user:KEY@`; the message shows them redacted).
pub fn api_base_url(venue_url: &str) -> Result<String, ClientError> {
    let trimmed = venue_url.trim().trim_end_matches('/');
    let Some((scheme, rest)) = trimmed
        .split_once("://")
        .filter(|(scheme, _)| matches!(*scheme, "http" | "https"))
    else {
        return Err(ClientError::Setup(format!(
            "venue url `{}` must start with http:// or https://",
            redact_credentials(trimmed)
        )));
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or_default();
    if authority.contains('@') {
        return Err(ClientError::Setup(format!(
            "venue url `{scheme}://{}` carries credentials; put the API key in \
             PURPLE_FLEA_API_KEY instead (a key in the url would be printed and stored)",
            redact_credentials(rest)
        )));
    }
    if trimmed.ends_with(API_BASE) {
        Ok(trimmed.to_owned())
    } else {
        Ok(format!("{trimmed}{API_BASE}"))
    }
}

/// `text` with anything before an `@` in its authority replaced by `***`.
fn redact_credentials(text: &str) -> String {
    let (prefix, rest) = match text.split_once("://") {
        Some((scheme, rest)) => (format!("{scheme}://"), rest),
        None => (String::new(), text),
    };
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    match rest[..end].rfind('@') {
        Some(at) => format!("{prefix}***{}", &rest[at..]),
        None => format!("{prefix}{rest}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base_urls_normalize() {
        struct TestCase {
            input: &'static str,
            expected: Option<&'static str>,
        }
        let cases = [
            // TC0: a bare root gains the API base.
            TestCase {
                input: "http://127.0.0.1:8787",
                expected: Some("http://127.0.0.1:8787/api/v1"),
            },
            // TC1: a trailing slash is dropped.
            TestCase {
                input: "https://api.purpleflea.com/",
                expected: Some("https://api.purpleflea.com/api/v1"),
            },
            // TC2: the API base is kept once.
            TestCase {
                input: "http://h/api/v1/",
                expected: Some("http://h/api/v1"),
            },
            // TC3: other schemes are refused.
            TestCase {
                input: "ws://h",
                expected: None,
            },
            // TC4: credentials in the authority are refused.
            TestCase {
                input: "http://user:KEY@127.0.0.1:8787",
                expected: None,
            },
            // TC5: a bare key before the host too.
            TestCase {
                input: "https://KEY@venue.example/api/v1",
                expected: None,
            },
            // TC6: an `@` after the host (in the path) is no credential.
            TestCase {
                input: "http://h/api/v1?who=a@b",
                expected: Some("http://h/api/v1?who=a@b/api/v1"),
            },
        ];
        for (i, case) in cases.iter().enumerate() {
            assert_eq!(
                api_base_url(case.input).ok().as_deref(),
                case.expected,
                "TC{i}"
            );
        }
    }

    #[test]
    fn credentials_in_a_url_are_refused_without_printing_them() {
        let error =
            api_base_url("http://user:SENTINEL-KEY@127.0.0.1:8787/api/v1").expect_err("refused");
        let text = error.to_string();
        assert!(!text.contains("SENTINEL"), "{text}");
        assert!(text.contains("http://***@127.0.0.1:8787"), "{text}");
        assert!(text.contains("PURPLE_FLEA_API_KEY"), "{text}");
        let error = api_base_url("ftp://user:SENTINEL@h").expect_err("refused");
        assert!(!error.to_string().contains("SENTINEL"), "{error}");
    }

    #[test]
    fn debug_never_shows_the_key() {
        let key = ApiKey::new("sk-SENTINEL").expect("non-empty");
        let client = VenueClient::new(
            "http://127.0.0.1:1",
            "a",
            Some(key),
            REQUEST_TIMEOUT_DEFAULT,
        )
        .expect("builds");
        assert!(!format!("{client:?}").contains("SENTINEL"));
    }
}
