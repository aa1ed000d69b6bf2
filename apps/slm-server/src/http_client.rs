//! A minimal blocking HTTP/1.1 client over `TcpStream` for plain `http://`
//! URLs, with an incremental SSE reader.
//!
//! Used by `slm-server healthcheck` (the Docker image has no curl), the load
//! generator and the integration tests. It sends one request per connection
//! (`Connection: close`) and understands `Content-Length`, chunked and
//! read-to-close bodies. No TLS, redirects or keep-alive: not needed for
//! talking to our own server on a local address.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::time::Duration;

#[derive(Debug, thiserror::Error)]
pub enum ClientError {
    #[error("invalid URL '{0}': only http://host[:port]/path is supported")]
    BadUrl(String),
    #[error("connecting to {addr}: {source}")]
    Connect {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("malformed HTTP response: {0}")]
    BadResponse(String),
}

/// A parsed `http://host:port/path` URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HttpUrl {
    pub host: String,
    pub port: u16,
    pub path: String,
}

impl HttpUrl {
    pub fn parse(url: &str) -> Result<Self, ClientError> {
        let bad = || ClientError::BadUrl(url.to_string());
        let rest = url.strip_prefix("http://").ok_or_else(bad)?;
        let (authority, path) = match rest.find('/') {
            Some(i) => (&rest[..i], &rest[i..]),
            None => (rest, "/"),
        };
        let (host, port) = match authority.rsplit_once(':') {
            Some((h, p)) if !h.ends_with(']') || h.starts_with('[') => {
                (h, p.parse::<u16>().map_err(|_| bad())?)
            }
            _ => (authority, 80),
        };
        if host.is_empty() {
            return Err(bad());
        }
        Ok(Self {
            host: host.to_string(),
            port,
            path: path.to_string(),
        })
    }

    /// The same server with another path.
    pub fn with_path(&self, path: &str) -> Self {
        Self {
            path: path.to_string(),
            ..self.clone()
        }
    }
}

/// Status line and headers of a response.
#[derive(Debug, Clone)]
pub struct ResponseHead {
    pub status: u16,
    pub headers: Vec<(String, String)>,
}

impl ResponseHead {
    /// First header with this (case-insensitive) name.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A whole response, body read to the end.
#[derive(Debug, Clone)]
pub struct Response {
    pub head: ResponseHead,
    pub body: Vec<u8>,
}

impl Response {
    pub fn status(&self) -> u16 {
        self.head.status
    }
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
    pub fn json(&self) -> Result<serde_json::Value, ClientError> {
        serde_json::from_slice(&self.body).map_err(|e| {
            ClientError::BadResponse(format!("body is not JSON ({e}): {}", self.text()))
        })
    }
}

enum BodyMode {
    Length(u64),
    /// Bytes left in the current chunk; `None` before the first chunk header.
    Chunked {
        left: u64,
        done: bool,
    },
    UntilClose,
}

/// Streams a response body, undoing chunked transfer encoding.
pub struct BodyReader {
    inner: BufReader<TcpStream>,
    mode: BodyMode,
}

impl BodyReader {
    /// The underlying socket, e.g. to shut it down mid-stream.
    pub fn socket(&self) -> &TcpStream {
        self.inner.get_ref()
    }
}

impl Read for BodyReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match &mut self.mode {
            BodyMode::Length(left) => {
                if *left == 0 {
                    return Ok(0);
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                *left -= n as u64;
                Ok(n)
            }
            BodyMode::UntilClose => self.inner.read(buf),
            BodyMode::Chunked { left, done } => {
                if *done {
                    return Ok(0);
                }
                if *left == 0 {
                    let mut line = String::new();
                    self.inner.read_line(&mut line)?;
                    let size_hex = line.trim().split(';').next().unwrap_or("");
                    if size_hex.is_empty() && line.is_empty() {
                        // Connection closed between chunks.
                        *done = true;
                        return Ok(0);
                    }
                    let size = u64::from_str_radix(size_hex, 16).map_err(|_| {
                        std::io::Error::new(
                            std::io::ErrorKind::InvalidData,
                            format!("bad chunk size line {line:?}"),
                        )
                    })?;
                    if size == 0 {
                        *done = true;
                        // Trailer section ends with an empty line.
                        loop {
                            let mut t = String::new();
                            if self.inner.read_line(&mut t)? == 0 || t.trim().is_empty() {
                                break;
                            }
                        }
                        return Ok(0);
                    }
                    *left = size;
                }
                let max = buf.len().min(*left as usize);
                let n = self.inner.read(&mut buf[..max])?;
                if n == 0 {
                    return Err(std::io::ErrorKind::UnexpectedEof.into());
                }
                *left -= n as u64;
                if *left == 0 {
                    let mut crlf = [0u8; 2];
                    self.inner.read_exact(&mut crlf)?;
                }
                Ok(n)
            }
        }
    }
}

/// Sends one request and returns the response head and a body reader.
pub fn send(
    method: &str,
    url: &HttpUrl,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<(ResponseHead, BodyReader), ClientError> {
    let addr = format!("{}:{}", url.host, url.port);
    let sock = addr
        .to_socket_addrs()
        .map_err(|source| ClientError::Connect {
            addr: addr.clone(),
            source,
        })?
        .next()
        .ok_or_else(|| ClientError::BadUrl(addr.clone()))?;
    let mut stream =
        TcpStream::connect_timeout(&sock, timeout).map_err(|source| ClientError::Connect {
            addr: addr.clone(),
            source,
        })?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.set_nodelay(true)?;

    let mut req = format!(
        "{method} {} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\nUser-Agent: slm-client\r\n",
        url.path
    );
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    if let Some(b) = body {
        req.push_str(&format!("Content-Length: {}\r\n", b.len()));
    }
    req.push_str("\r\n");
    let mut bytes = req.into_bytes();
    if let Some(b) = body {
        bytes.extend_from_slice(b);
    }
    stream.write_all(&bytes)?;

    let mut reader = BufReader::new(stream);
    let mut status_line = String::new();
    reader.read_line(&mut status_line)?;
    let status = status_line
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse::<u16>().ok())
        .ok_or_else(|| ClientError::BadResponse(format!("status line {status_line:?}")))?;
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Err(ClientError::BadResponse("headers cut short".into()));
        }
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| ClientError::BadResponse(format!("header line {line:?}")))?;
        headers.push((k.trim().to_string(), v.trim().to_string()));
    }
    let head = ResponseHead { status, headers };
    let mode = if head
        .header("transfer-encoding")
        .is_some_and(|v| v.eq_ignore_ascii_case("chunked"))
    {
        BodyMode::Chunked {
            left: 0,
            done: false,
        }
    } else if let Some(len) = head.header("content-length") {
        BodyMode::Length(
            len.parse()
                .map_err(|_| ClientError::BadResponse(format!("content-length {len:?}")))?,
        )
    } else {
        BodyMode::UntilClose
    };
    Ok((
        head,
        BodyReader {
            inner: reader,
            mode,
        },
    ))
}

/// Sends a request and reads the whole body.
pub fn request(
    method: &str,
    url: &HttpUrl,
    headers: &[(&str, &str)],
    body: Option<&[u8]>,
    timeout: Duration,
) -> Result<Response, ClientError> {
    let (head, mut reader) = send(method, url, headers, body, timeout)?;
    let mut body = Vec::new();
    reader.read_to_end(&mut body)?;
    Ok(Response { head, body })
}

/// One Server-Sent Event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SseEvent {
    /// The (newline-joined) `data:` lines of one event.
    Data(String),
    /// A `:` comment line, e.g. a keep-alive.
    Comment(String),
}

/// Reads SSE events one at a time from a body.
pub struct SseReader<R: Read> {
    inner: BufReader<R>,
}

impl<R: Read> SseReader<R> {
    pub fn new(body: R) -> Self {
        Self {
            inner: BufReader::new(body),
        }
    }

    pub fn get_ref(&self) -> &R {
        self.inner.get_ref()
    }

    /// The next event, or `None` at the end of the stream.
    pub fn next_event(&mut self) -> Result<Option<SseEvent>, ClientError> {
        let mut data: Option<String> = None;
        loop {
            let mut line = String::new();
            if self.inner.read_line(&mut line)? == 0 {
                return Ok(data.map(SseEvent::Data));
            }
            let line = line.trim_end_matches(['\r', '\n']);
            if line.is_empty() {
                if let Some(d) = data.take() {
                    return Ok(Some(SseEvent::Data(d)));
                }
                continue;
            }
            if let Some(c) = line.strip_prefix(':') {
                if data.is_none() {
                    let comment = c.trim().to_string();
                    // A comment is followed by a blank line; consume it.
                    return Ok(Some(SseEvent::Comment(comment)));
                }
                continue;
            }
            if let Some(d) = line.strip_prefix("data:") {
                let d = d.strip_prefix(' ').unwrap_or(d);
                match &mut data {
                    Some(existing) => {
                        existing.push('\n');
                        existing.push_str(d);
                    }
                    None => data = Some(d.to_string()),
                }
            }
            // Other fields (event:, id:, retry:) are not used by our API.
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_parse() {
        assert_eq!(
            HttpUrl::parse("http://127.0.0.1:8080/health").unwrap(),
            HttpUrl {
                host: "127.0.0.1".into(),
                port: 8080,
                path: "/health".into()
            }
        );
        let u = HttpUrl::parse("http://localhost").unwrap();
        assert_eq!((u.port, u.path.as_str()), (80, "/"));
        assert!(HttpUrl::parse("https://x/").is_err());
        assert!(HttpUrl::parse("http://:80/").is_err());
        assert!(HttpUrl::parse("http://h:notaport/").is_err());
    }

    #[test]
    fn sse_reader_splits_events_and_comments() {
        let text =
            b": keep-alive\n\ndata: {\"a\":1}\n\ndata: line1\ndata: line2\n\ndata: [DONE]\n\n";
        let mut r = SseReader::new(&text[..]);
        assert_eq!(
            r.next_event().unwrap(),
            Some(SseEvent::Comment("keep-alive".into()))
        );
        assert_eq!(
            r.next_event().unwrap(),
            Some(SseEvent::Data("{\"a\":1}".into()))
        );
        assert_eq!(
            r.next_event().unwrap(),
            Some(SseEvent::Data("line1\nline2".into()))
        );
        assert_eq!(
            r.next_event().unwrap(),
            Some(SseEvent::Data("[DONE]".into()))
        );
        assert_eq!(r.next_event().unwrap(), None);
    }

    #[test]
    fn chunked_and_length_bodies_are_decoded() {
        use std::net::TcpListener;
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let server = std::thread::spawn(move || {
            for reply in [
                &b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n7\r\n, world\r\n0\r\n\r\n"[..],
                &b"HTTP/1.1 404 Not Found\r\nContent-Length: 4\r\nX-A: b\r\n\r\nnope"[..],
            ] {
                let (mut s, _) = listener.accept().unwrap();
                let mut buf = [0u8; 1024];
                let _ = s.read(&mut buf).unwrap();
                s.write_all(reply).unwrap();
            }
        });
        let url = HttpUrl::parse(&format!("http://{addr}/x")).unwrap();
        let r = request("GET", &url, &[], None, Duration::from_secs(5)).unwrap();
        assert_eq!((r.status(), r.text().as_str()), (200, "hello, world"));
        let r = request("POST", &url, &[], Some(b"{}"), Duration::from_secs(5)).unwrap();
        assert_eq!((r.status(), r.text().as_str()), (404, "nope"));
        assert_eq!(r.head.header("x-a"), Some("b"));
        server.join().unwrap();
    }

    #[test]
    fn connection_refused_is_an_error() {
        // Bind then drop to get a port with nothing listening.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let url = HttpUrl::parse(&format!("http://127.0.0.1:{port}/health")).unwrap();
        let e = request("GET", &url, &[], None, Duration::from_secs(2)).unwrap_err();
        assert!(matches!(e, ClientError::Connect { .. }), "{e}");
    }
}
