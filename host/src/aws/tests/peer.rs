//! A tiny HTTP/1.1 peer on 127.0.0.1 that answers every request with one canned reply and
//! records what it saw. A test peer for the real SDK, not a mock of it.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

#[derive(Clone)]
pub(super) enum Reply {
    Http {
        status: u16,
        error_type: Option<&'static str>,
        body: &'static str,
    },
    /// Read the request, then close without answering.
    Close,
    /// Read the request, then never answer.
    Hang,
    /// Answer 200 with `body` and keep the connection open until the client closes it; the
    /// time from the answer to the close is recorded ([`Peer::client_closes`]).
    KeepAlive { body: &'static str },
}

#[derive(Debug, Clone)]
pub(super) struct Seen {
    pub(super) request_line: String,
    pub(super) headers: Vec<(String, String)>,
}

impl Seen {
    pub(super) fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

pub(super) struct Peer {
    pub(super) url: String,
    seen: Arc<Mutex<Vec<Seen>>>,
    closes: Arc<Mutex<Vec<Duration>>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Peer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Peer {
    pub(super) async fn start(reply: Reply) -> Peer {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind 127.0.0.1");
        let url = format!("http://{}", listener.local_addr().expect("local addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let closes = Arc::new(Mutex::new(Vec::new()));
        let task = {
            let (seen, closes) = (seen.clone(), closes.clone());
            tokio::spawn(async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (seen, closes, reply) = (seen.clone(), closes.clone(), reply.clone());
                    tokio::spawn(async move {
                        let _ = serve(stream, &seen, &closes, &reply).await;
                    });
                }
            })
        };
        Peer {
            url,
            seen,
            closes,
            task,
        }
    }

    /// For [`Reply::KeepAlive`]: how long after its answer each connection the client closed
    /// stayed open.
    pub(super) fn client_closes(&self) -> Vec<Duration> {
        self.closes.lock().map(|c| c.clone()).unwrap_or_default()
    }

    pub(super) fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

async fn serve(
    mut stream: TcpStream,
    seen: &Mutex<Vec<Seen>>,
    closes: &Mutex<Vec<Duration>>,
    reply: &Reply,
) -> std::io::Result<()> {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 4096];
    let head_end = loop {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            return Ok(());
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
    let mut lines = head.split("\r\n");
    let request_line = lines.next().unwrap_or_default().to_owned();
    let headers: Vec<(String, String)> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_owned(), v.trim().to_owned()))
        .collect();
    let length: usize = headers
        .iter()
        .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
        .and_then(|(_, v)| v.parse().ok())
        .unwrap_or(0);
    while buf.len() < head_end + length {
        let n = stream.read(&mut chunk).await?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    if let Ok(mut s) = seen.lock() {
        s.push(Seen {
            request_line,
            headers,
        });
    }
    match reply {
        Reply::Close => Ok(()),
        Reply::Hang => {
            tokio::time::sleep(Duration::from_secs(30)).await;
            Ok(())
        }
        Reply::KeepAlive { body } => {
            let response = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 x-amzn-RequestId: req-keep-alive\r\n\r\n{body}",
                body.len()
            );
            stream.write_all(response.as_bytes()).await?;
            let answered = std::time::Instant::now();
            // One request per connection here: the next read ends when the client closes.
            while stream.read(&mut chunk).await? > 0 {}
            if let Ok(mut c) = closes.lock() {
                c.push(answered.elapsed());
            }
            Ok(())
        }
        Reply::Http {
            status,
            error_type,
            body,
        } => {
            let mut response = format!(
                "HTTP/1.1 {status} X\r\ncontent-type: application/json\r\ncontent-length: {}\r\n\
                 x-amzn-RequestId: req-{status}\r\nconnection: close\r\n",
                body.len()
            );
            if let Some(t) = error_type {
                response.push_str(&format!(
                    "x-amzn-ErrorType: {t}:http://internal.amazon.com/coral/com.amazon.bedrock/\r\n"
                ));
            }
            response.push_str("\r\n");
            response.push_str(body);
            stream.write_all(response.as_bytes()).await?;
            stream.shutdown().await
        }
    }
}
