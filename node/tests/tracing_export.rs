//! OpenTelemetry trace export (issue 3): the real `nebuladns` binary, configured with
//! `tracing.otlp_endpoint`, sends its spans over OTLP/HTTP with protobuf to a tiny receiver in
//! this test; a reload through the API shows up as a `reload` span, flushed on SIGTERM.
#![allow(clippy::unwrap_used, clippy::expect_used)] // Tests may unwrap (house rules).

mod support;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use support::nebula::{http_request, Nebula};
use support::peers::TempDir;

const BINARY: &str = env!("CARGO_BIN_EXE_nebuladns");

/// Requests larger than this are not OTLP batches this test could produce; stop reading.
const MAX_BODY: usize = 16 * 1024 * 1024;
const MAX_HEAD: usize = 64 * 1024;

/// One request the receiver got.
#[derive(Debug, Clone)]
struct Received {
    method: String,
    path: String,
    content_type: Option<String>,
    body: Vec<u8>,
}

/// A minimal OTLP/HTTP collector: accepts HTTP/1.1 requests (keep-alive included), records each
/// and answers 200 with an empty body.
struct Receiver {
    addr: SocketAddr,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start() -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&received);
        thread::spawn(move || {
            for stream in listener.incoming().flatten() {
                let sink = Arc::clone(&sink);
                thread::spawn(move || serve_connection(stream, &sink));
            }
        });
        Receiver { addr, received }
    }

    fn received(&self) -> Vec<Received> {
        self.received.lock().unwrap().clone()
    }
}

fn serve_connection(stream: TcpStream, sink: &Mutex<Vec<Received>>) {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut writer = stream.try_clone().unwrap();
    let mut reader = BufReader::new(stream);
    loop {
        let mut request_line = String::new();
        match reader.read_line(&mut request_line) {
            Ok(0) | Err(_) => return,
            Ok(_) => {}
        }
        let mut parts = request_line.split_whitespace();
        let method = parts.next().unwrap_or_default().to_owned();
        let path = parts.next().unwrap_or_default().to_owned();
        let mut content_length = 0usize;
        let mut content_type = None;
        let mut chunked = false;
        let mut head = request_line.len();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            head += line.len();
            assert!(head <= MAX_HEAD, "request head too long");
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            let Some((name, value)) = line.split_once(':') else {
                continue;
            };
            let value = value.trim();
            match name.to_ascii_lowercase().as_str() {
                "content-length" => content_length = value.parse().unwrap(),
                "content-type" => content_type = Some(value.to_owned()),
                "transfer-encoding" => chunked = value.eq_ignore_ascii_case("chunked"),
                _ => {}
            }
        }
        let body = if chunked {
            read_chunked(&mut reader)
        } else {
            assert!(content_length <= MAX_BODY, "body too long");
            let mut body = vec![0; content_length];
            reader.read_exact(&mut body).unwrap();
            body
        };
        sink.lock().unwrap().push(Received {
            method,
            path,
            content_type,
            body,
        });
        let response = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n";
        if writer.write_all(response.as_bytes()).is_err() {
            return;
        }
    }
}

fn read_chunked(reader: &mut impl BufRead) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let mut size_line = String::new();
        reader.read_line(&mut size_line).unwrap();
        let size = usize::from_str_radix(size_line.trim().split(';').next().unwrap(), 16).unwrap();
        assert!(body.len() + size <= MAX_BODY, "body too long");
        let start = body.len();
        body.resize(start + size, 0);
        reader.read_exact(&mut body[start..]).unwrap();
        let mut crlf = String::new();
        reader.read_line(&mut crlf).unwrap();
        if size == 0 {
            return body;
        }
    }
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn write(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap();
}

#[test]
fn reload_span_is_exported_over_otlp_http_and_flushed_on_sigterm() {
    let receiver = Receiver::start();
    let service = format!("nebula-trace-test-{}", std::process::id());
    let dir = TempDir::new("nebula-otlp").unwrap();
    write(
        &dir.path().join("t.zone"),
        "$ORIGIN trace.test.\n$TTL 300\n@ SOA ns1 hostmaster 1 7200 3600 1209600 300\n  NS ns1\nns1 A 192.0.2.1\n",
    );
    let config = dir.path().join("nebula.toml");
    write(
        &config,
        &format!(
            "[server]\ndata_dir = \"{}\"\n[dns]\nlisten = [\"127.0.0.1:0\"]\nudp_workers = 1\n[http]\nlisten = \"127.0.0.1:0\"\n[metrics]\nlisten = \"127.0.0.1:0\"\n[tracing]\notlp_endpoint = \"http://{}\"\nservice_name = \"{service}\"\n[[zone]]\nname = \"trace.test.\"\nfile = \"t.zone\"\n",
            dir.path().join("data").display(),
            receiver.addr,
        ),
    );
    let mut server = Nebula::launch(Path::new(BINARY), dir, &config).unwrap();
    let http = server.http();
    let (status, body) = http_request(http, "POST", "/api/v1/reload").unwrap();
    assert_eq!(status, 200, "{body}");

    server.signal("TERM").unwrap();
    let exit = server
        .wait_for_exit(Duration::from_secs(20))
        .unwrap()
        .expect("nebuladns exits within 20 s of SIGTERM");
    assert!(exit.success(), "exit status {exit}");

    let received = receiver.received();
    let exports: Vec<&Received> = received
        .iter()
        .filter(|r| r.method == "POST" && r.path == "/v1/traces")
        .filter(|r| r.content_type.as_deref() == Some("application/x-protobuf"))
        .collect();
    assert!(
        !exports.is_empty(),
        "no OTLP/HTTP protobuf export arrived; got {:?}",
        received
            .iter()
            .map(|r| (&r.method, &r.path, &r.content_type, r.body.len()))
            .collect::<Vec<_>>()
    );
    assert!(
        exports.iter().any(|r| contains(&r.body, b"reload")),
        "no exported batch names the span \"reload\""
    );
    assert!(
        exports
            .iter()
            .any(|r| contains(&r.body, service.as_bytes())),
        "no exported batch carries the service name {service:?}"
    );
    assert!(
        exports
            .iter()
            .any(|r| contains(&r.body, b"POST /api/v1/reload")),
        "no exported batch has the HTTP request span"
    );
}
