//! A real HTTPS client for the webhook tests (rustls, HTTP/1.1 or 1.0 by hand), and a running
//! `driftgate serve` that is stopped when dropped.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used, clippy::panic, clippy::format_collect)]

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};

/// A TLS client configuration trusting the CAs in these PEM files.
pub fn client(cas: &[&Path]) -> Arc<rustls::ClientConfig> {
    let mut roots = rustls::RootCertStore::empty();
    for ca in cas {
        for c in CertificateDer::pem_file_iter(ca).unwrap() {
            roots.add(c.unwrap()).unwrap();
        }
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Arc::new(
        rustls::ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_root_certificates(roots)
            .with_no_client_auth(),
    )
}

/// The answer to one request: status code, body, and the server's leaf certificate.
pub struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Body.
    pub body: Vec<u8>,
    /// The certificate the server presented.
    pub peer: Vec<u8>,
    /// The status line and headers.
    pub head: String,
}

impl Answer {
    /// The value of header `name` (any case), if present.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// Sends one request over a new TLS connection to 127.0.0.1:`port` as `localhost`.
pub fn request(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    version: &str,
) -> std::io::Result<Answer> {
    send(config, port, method, path, body, version, &[])
}

/// `request` over HTTP/1.1 with extra headers.
pub fn request_with(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    send(config, port, method, path, body, "HTTP/1.1", headers)
}

fn send(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
    method: &str,
    path: &str,
    body: &[u8],
    version: &str,
    headers: &[(&str, &str)],
) -> std::io::Result<Answer> {
    let conn = rustls::ClientConnection::new(Arc::clone(config), ServerName::try_from("localhost").unwrap())
        .map_err(std::io::Error::other)?;
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(Duration::from_secs(10)))?;
    let mut tls = rustls::StreamOwned::new(conn, stream);
    let extra: String = headers.iter().map(|(k, v)| format!("{k}: {v}\r\n")).collect();
    let head = format!(
        "{method} {path} {version}\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{extra}Connection: close\r\n\r\n",
        body.len()
    );
    tls.write_all(head.as_bytes())?;
    tls.write_all(body)?;
    tls.flush()?;
    let mut raw = Vec::new();
    match tls.read_to_end(&mut raw) {
        Ok(_) => {}
        // servers may close without close_notify after Connection: close
        Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof && !raw.is_empty() => {}
        Err(e) => return Err(e),
    }
    let peer = tls.conn.peer_certificates().and_then(|c| c.first()).map(|c| c.to_vec()).unwrap_or_default();
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").ok_or_else(|| std::io::Error::other("no HTTP head"))?;
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let mut body = raw[split + 4..].to_vec();
    if head.to_ascii_lowercase().contains("transfer-encoding: chunked") {
        body = dechunk(&body);
    }
    Ok(Answer { status, body, peer, head })
}

/// A TLS connection to the server, handshake done, reads timing out after 10 s: for requests a
/// test writes by hand.
pub fn tls_stream(
    config: &Arc<rustls::ClientConfig>,
    port: u16,
) -> rustls::StreamOwned<rustls::ClientConnection, TcpStream> {
    let conn = rustls::ClientConnection::new(Arc::clone(config), ServerName::try_from("localhost").unwrap()).unwrap();
    let stream = TcpStream::connect(("127.0.0.1", port)).unwrap();
    stream.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let mut tls = rustls::StreamOwned::new(conn, stream);
    tls.conn.complete_io(&mut tls.sock).unwrap();
    tls
}

/// One keep-alive HTTP/1.1 connection over TLS: requests are sent on it one after another until
/// the server says `Connection: close` or closes it.
pub struct KeepAlive {
    tls: rustls::StreamOwned<rustls::ClientConnection, TcpStream>,
    /// Whether the server asked to close after its last response.
    pub closing: bool,
}

impl KeepAlive {
    /// Connects and completes the TLS handshake.
    pub fn connect(config: &Arc<rustls::ClientConfig>, port: u16) -> std::io::Result<Self> {
        let conn = rustls::ClientConnection::new(Arc::clone(config), ServerName::try_from("localhost").unwrap())
            .map_err(std::io::Error::other)?;
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_read_timeout(Some(Duration::from_secs(20)))?;
        let mut tls = rustls::StreamOwned::new(conn, stream);
        tls.conn.complete_io(&mut tls.sock)?;
        Ok(Self { tls, closing: false })
    }

    /// Sends one request and reads its response (Content-Length bodies only); the status and body.
    pub fn send(&mut self, method: &str, path: &str, body: &[u8]) -> std::io::Result<(u16, Vec<u8>)> {
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        self.tls.write_all(head.as_bytes())?;
        self.tls.write_all(body)?;
        self.tls.flush()?;
        let mut raw = Vec::new();
        let mut byte = [0u8; 1];
        while !raw.ends_with(b"\r\n\r\n") {
            if self.tls.read(&mut byte)? == 0 {
                return Err(std::io::Error::new(std::io::ErrorKind::UnexpectedEof, "closed before a response"));
            }
            raw.push(byte[0]);
        }
        let head = String::from_utf8_lossy(&raw).to_ascii_lowercase();
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
        let length = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0);
        self.closing = head.lines().any(|l| l.starts_with("connection:") && l.contains("close"));
        let mut body = vec![0u8; length];
        self.tls.read_exact(&mut body)?;
        Ok((status, body))
    }

    /// Reads until the server closes the connection; whether it did within `limit`.
    pub fn closed_within(&mut self, limit: Duration) -> bool {
        let _ = self.tls.sock.set_read_timeout(Some(limit));
        let mut buf = [0u8; 64];
        match self.tls.read(&mut buf) {
            Ok(n) => n == 0,
            Err(e) => !matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut),
        }
    }
}

fn dechunk(mut data: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    while let Some(end) = data.windows(2).position(|w| w == b"\r\n") {
        let size = usize::from_str_radix(String::from_utf8_lossy(&data[..end]).trim(), 16).unwrap_or(0);
        if size == 0 {
            break;
        }
        out.extend_from_slice(&data[end + 2..end + 2 + size]);
        data = &data[end + 2 + size + 2..];
    }
    out
}

/// A port free now on 127.0.0.1, for a server started later.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// A `driftgate serve` child process.
pub struct Server {
    child: Child,
    /// Its port.
    pub port: u16,
    /// Lines it wrote to stderr so far are collected here by a reader thread.
    pub log: Arc<std::sync::Mutex<Vec<String>>>,
    /// Audit events it wrote to stdout.
    pub events: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Server {
    /// Starts `driftgate serve` with `args` plus a free port, and waits until it listens.
    pub fn start(args: &[&str], cert_dir: &Path) -> Self {
        Self::start_env(args, cert_dir, &[])
    }

    /// `start`, with environment variables.
    pub fn start_env(args: &[&str], cert_dir: &Path, env: &[(&str, &str)]) -> Self {
        Self::start_on(free_port(), args, cert_dir, env)
    }

    /// `start_env` on a given port (see [`free_port`]).
    pub fn start_on(port: u16, args: &[&str], cert_dir: &Path, env: &[(&str, &str)]) -> Self {
        // tests stop servers often: no drain delay unless a test asks for one
        let drain: &[&str] =
            if args.iter().any(|a| a.starts_with("--drain-delay")) { &[] } else { &["--drain-delay=0"] };
        let mut child = Command::new(super::bin())
            .envs(env.iter().copied())
            .arg("serve")
            .args(args)
            .args(drain)
            .arg(format!("--listen=127.0.0.1:{port}"))
            .arg(format!("--tls-cert={}", cert_dir.join("tls.crt").display()))
            .arg(format!("--tls-key={}", cert_dir.join("tls.key").display()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(std::sync::Mutex::new(Vec::new()));
        let events = Arc::new(std::sync::Mutex::new(Vec::new()));
        let (l, e) = (Arc::clone(&log), Arc::clone(&events));
        let stderr = child.stderr.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                l.lock().unwrap().push(line);
            }
        });
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                e.lock().unwrap().push(line);
            }
        });
        let server = Self { child, port, log, events };
        server.wait_for("listening on");
        server
    }

    /// Waits (at most 20 s) for a stderr line containing `text`.
    pub fn wait_for(&self, text: &str) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log.lock().unwrap().iter().any(|l| l.contains(text)) {
            assert!(Instant::now() < deadline, "server never said {text:?}: {:?}", self.log.lock().unwrap());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for the exit status.
    pub fn terminate(self) -> Option<i32> {
        let _ = Command::new("kill").args(["-TERM", &self.child.id().to_string()]).status();
        self.wait_exit()
    }

    /// Waits (at most 30 s) for the process to exit; its exit code.
    pub fn wait_exit(mut self) -> Option<i32> {
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `driftgate serve` with the guestbook enforce config (tests/fixtures/configs) and `extra`
/// flags, once it decides reviews; with a client trusting its CA.
pub fn serve_guestbook(tmp: &Path, extra: &[&str]) -> (Server, Arc<rustls::ClientConfig>) {
    let ca = certs(tmp);
    let config = format!("--config={}", super::fixtures().join("configs/guestbook-enforce.yaml").display());
    let mut args = vec![config.as_str()];
    args.extend_from_slice(extra);
    let server = Server::start(&args, tmp);
    server.wait_for("desired state loaded");
    (server, client(&[&ca]))
}

/// Writes a CA and a serving certificate for localhost/127.0.0.1 into `dir` with `driftgate certs`.
pub fn certs(dir: &Path) -> PathBuf {
    let status = Command::new(super::bin())
        .args([
            "certs",
            "--service",
            "driftgate",
            "--namespace",
            "test",
            "--dns",
            "localhost",
            "--ip",
            "127.0.0.1",
            "--out",
        ])
        .arg(dir)
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    dir.join("ca.crt")
}
