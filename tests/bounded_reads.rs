//! Story: a venue whose reply never ends. Before, a portfolio reply that kept coming grew
//! ballast to gigabytes within the request timeout. Now every reply body is read with a cap
//! (`REPLY_BODY_MAX_BYTES`, 4 MiB): past it the read stops with an error naming the endpoint
//! and the cap, and the process's memory stays bounded. A reply that declares a length above
//! the cap is refused before its body is read.
//!
//! The venue is a bare TCP server on 127.0.0.1:0 written here, counting the bytes it
//! manages to send; this file holds one test, so the process's peak RSS is its own.

use std::{
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use ballast::venue::client::{ClientError, REPLY_BODY_MAX_BYTES, VenueClient};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::TcpListener,
};

/// What the venue sends: 100 MB of body, endless as far as a client is concerned.
const BODY_BYTES: u64 = 100 * 1024 * 1024;
const CHUNK_BYTES: usize = 64 * 1024;

/// The peak resident set of this process so far, in KiB (Linux).
fn peak_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    status
        .lines()
        .find_map(|line| line.strip_prefix("VmHWM:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Serves one request with a 100 MB body, chunked (`declared: false`) or with its length
/// declared up front; counts the bytes the client accepted before it went away.
async fn endless_venue(declared: bool) -> (String, Arc<AtomicU64>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.expect("binds");
    let url = format!("http://{}", listener.local_addr().expect("addr"));
    let sent = Arc::new(AtomicU64::new(0));
    let counter = Arc::clone(&sent);
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.expect("accepts");
        let mut request = [0_u8; 4096];
        let _ = socket.read(&mut request).await;
        let head = if declared {
            format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {BODY_BYTES}\r\n\r\n"
            )
        } else {
            "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ntransfer-encoding: chunked\r\n\r\n"
                .to_owned()
        };
        if socket.write_all(head.as_bytes()).await.is_err() {
            return;
        }
        let spaces = vec![b' '; CHUNK_BYTES];
        let mut chunk = Vec::with_capacity(CHUNK_BYTES + 16);
        if !declared {
            chunk.extend_from_slice(format!("{CHUNK_BYTES:x}\r\n").as_bytes());
        }
        chunk.extend_from_slice(&spaces);
        if !declared {
            chunk.extend_from_slice(b"\r\n");
        }
        let mut body = 0;
        while body < BODY_BYTES {
            if socket.write_all(&chunk).await.is_err() {
                return;
            }
            body += CHUNK_BYTES as u64;
            counter.store(body, Ordering::Relaxed);
        }
    });
    (url, sent)
}

#[tokio::test]
async fn an_endless_reply_is_cut_at_the_cap_with_an_error_naming_the_endpoint() {
    let before_kib = peak_rss_kib();
    for declared in [false, true] {
        let (url, sent) = endless_venue(declared).await;
        let client =
            VenueClient::new(&url, "agent-1", None, Duration::from_secs(60)).expect("client");
        let error = client.portfolio().await.expect_err("refused");
        assert!(
            matches!(error, ClientError::TooLarge { .. }),
            "declared {declared}: {error}"
        );
        let text = error.to_string();
        assert!(
            text.contains("GET /agents/agent-1/portfolio"),
            "names the endpoint: {text}"
        );
        assert!(
            text.contains(&REPLY_BODY_MAX_BYTES.to_string()),
            "names the cap: {text}"
        );
        // The client stopped reading near the cap: what the venue got rid of is the cap plus
        // what the sockets buffer, nowhere near the 100 MB it had to send.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let sent_bytes = sent.load(Ordering::Relaxed);
        println!(
            "declared {declared}: the venue sent {sent_bytes} bytes before the client hung up"
        );
        assert!(
            sent_bytes < REPLY_BODY_MAX_BYTES as u64 + 32 * 1024 * 1024,
            "declared {declared}: {sent_bytes} bytes were taken"
        );
    }
    if let (Some(before), Some(after)) = (before_kib, peak_rss_kib()) {
        println!("peak RSS: {before} KiB before, {after} KiB after");
        // Bounded: the cap and the runtime's buffers, far from the 100 MB sent.
        assert!(
            after < before + 48 * 1024,
            "peak RSS grew from {before} KiB to {after} KiB"
        );
    }
}
