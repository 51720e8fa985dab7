//! The dashboard at `/`: one page with its script and style embedded in the binary, and the
//! live feed it listens to (`GET /status/stream`, server-sent events).
//!
//! The page shows the allocation against target with bands, drift, recent events and plans
//! with their reasons, value and weights over time, and the control buttons (which ask for the
//! token and keep it in the tab's session storage only).
//!
//! # Invariants
//! - Every asset is compiled in (`include_str!`); the page names no other host, and its
//!   Content-Security-Policy lets it reach only this server, so no request leaves the machine.
//! - The feed sends a status document when it changed, at most every [`PUSH_INTERVAL`], and a
//!   keep-alive comment otherwise.

use std::{convert::Infallible, sync::Arc, time::Duration};

use axum::{
    extract::State,
    http::{HeaderValue, header},
    response::{
        IntoResponse, Response,
        sse::{Event as SseEvent, KeepAlive, Sse},
    },
};
use futures_util::stream::Stream;

use super::AppState;

/// How often the live feed looks for a change.
pub const PUSH_INTERVAL: Duration = Duration::from_millis(500);

const INDEX_HTML: &str = include_str!("assets/index.html");
const APP_JS: &str = include_str!("assets/app.js");
const STYLE_CSS: &str = include_str!("assets/style.css");

/// Only this server: scripts, styles, the feed and the control calls.
const CSP: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
    connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'; \
    frame-ancestors 'none'";

fn asset(content_type: &'static str, body: &'static str) -> Response {
    let mut response = body.into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(CSP),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    response
}

/// `GET /`.
pub(super) async fn index() -> Response {
    asset("text/html; charset=utf-8", INDEX_HTML)
}

/// `GET /assets/app.js`.
pub(super) async fn app_js() -> Response {
    asset("text/javascript; charset=utf-8", APP_JS)
}

/// `GET /assets/style.css`.
pub(super) async fn style_css() -> Response {
    asset("text/css; charset=utf-8", STYLE_CSS)
}

/// `GET /status/stream`: the status document as server-sent events (`event: status`), sent
/// when it changed.
pub(super) async fn stream(
    State(state): State<Arc<AppState>>,
) -> Sse<impl Stream<Item = Result<SseEvent, Infallible>>> {
    let feed = futures_util::stream::unfold(
        (state, String::new(), false),
        |(state, mut last, mut wait)| async move {
            loop {
                if wait {
                    tokio::time::sleep(PUSH_INTERVAL).await;
                }
                wait = true;
                // Busy actors: nothing this time, try again at the next interval.
                let Ok(report) = super::status::report(&state).await else {
                    continue;
                };
                let text = serde_json::to_string(&report).unwrap_or_default();
                if !text.is_empty() && text != last {
                    last.clone_from(&text);
                    let event = SseEvent::default().event("status").data(text);
                    return Some((Ok(event), (state, last, true)));
                }
            }
        },
    );
    Sse::new(feed).keep_alive(KeepAlive::default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_page_names_no_other_host() {
        for (name, text) in [
            ("index.html", INDEX_HTML),
            ("app.js", APP_JS),
            ("style.css", STYLE_CSS),
        ] {
            // The SVG namespace is a name, not a request.
            let text = text.replace("http://www.w3.org/2000/svg", "");
            for scheme in ["http:", "https:", "//", "ws:", "wss:"] {
                let found = text.match_indices(scheme).any(|(at, _)| {
                    // `//` also starts JavaScript comments: only `"//` or `'//` or `(//` is a URL.
                    scheme != "//"
                        || matches!(text[..at].chars().last(), Some('"' | '\'' | '(' | '='))
                });
                assert!(!found, "{name} names `{scheme}`");
            }
        }
        assert!(INDEX_HTML.contains("/assets/app.js"));
    }
}
