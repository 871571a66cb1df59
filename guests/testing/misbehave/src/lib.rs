//! A codec that misbehaves on purpose, for the host's hostile-guest tests only (never shipped,
//! never routed to by default). It serves `test.bad-*`; the base model id picks the misdeed:
//!
//! | model id              | misdeed                                                          |
//! |-----------------------|------------------------------------------------------------------|
//! | `test.bad-trap`       | `encode` executes `unreachable` (a trap, not a panic)            |
//! | `test.bad-huge-body`  | `encode` returns a 26 MB body (above what Bedrock accepts)        |
//! | `test.bad-flood`      | `encode` writes 4 MiB to stdout and stderr, then answers normally |
//! | `test.bad-count`      | `encode` covers one input too many; `decode` returns one vector too many |
//! | `test.bad-nan`        | `decode` returns a vector holding NaN                            |
//! | `test.bad-inf`        | `decode` returns a vector holding +infinity                      |
//! | `test.bad-escape-N`   | `encode` tries the filesystem, the environment and a TCP connect to 127.0.0.1:N, and reports what it got as an `invalid-input` error |
//!
//! Any other id: `info`, `check` and `encode` behave (one invocation per input).

wit_bindgen::generate!({
    path: "../../../wit/v0.1.0",
    world: "codec-guest",
});

use bedrock_embed::codec::types::{
    CodecError, CodecInfo, Embeddings, Invocation, Param, RequestOptions,
};
use exports::bedrock_embed::codec::codec::Guest;

#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code))]
struct Component;

#[cfg(target_arch = "wasm32")]
export!(Component);

impl Guest for Component {
    fn info() -> CodecInfo {
        CodecInfo {
            name: "test-misbehave".into(),
            version: env!("CARGO_PKG_VERSION").into(),
            model_prefixes: vec!["test.bad-".into()],
            params: vec![],
        }
    }

    fn check(_model_id: String, _params: Vec<Param>) -> Result<(), CodecError> {
        Ok(())
    }

    fn encode(
        model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        inputs: Vec<String>,
    ) -> Result<Vec<Invocation>, CodecError> {
        let one_each = |inputs: &[String]| {
            inputs
                .iter()
                .map(|t| Invocation {
                    body: t.as_bytes().to_vec(),
                    input_count: 1,
                })
                .collect::<Vec<_>>()
        };
        match model_id.as_str() {
            "test.bad-trap" => trap(),
            "test.bad-huge-body" => Ok(vec![Invocation {
                body: vec![b' '; 26_000_000],
                input_count: inputs.len() as u32,
            }]),
            "test.bad-flood" => {
                use std::io::Write as _;
                let line = [b'x'; 1024];
                for _ in 0..4096 {
                    // The host's pipe is small: once full the stream is closed, and a codec
                    // that ignores that is still served.
                    let _ = std::io::stdout().write_all(&line);
                    let _ = std::io::stderr().write_all(&line);
                }
                Ok(one_each(&inputs))
            }
            "test.bad-count" => {
                let mut calls = one_each(&inputs);
                calls.push(Invocation {
                    body: b"extra".to_vec(),
                    input_count: 1,
                });
                Ok(calls)
            }
            id if id.starts_with("test.bad-escape-") => {
                let port: u16 = id["test.bad-escape-".len()..].parse().unwrap_or(9);
                Err(CodecError::InvalidInput(escape(port)))
            }
            _ => Ok(one_each(&inputs)),
        }
    }

    fn decode(
        model_id: String,
        _params: Vec<Param>,
        _options: RequestOptions,
        _body: Vec<u8>,
        input_count: u32,
    ) -> Result<Embeddings, CodecError> {
        let mut vectors = vec![vec![0.5f32; 8]; input_count as usize];
        match model_id.as_str() {
            "test.bad-count" => vectors.push(vec![0.5; 8]),
            "test.bad-nan" => vectors[0][3] = f32::NAN,
            "test.bad-inf" => vectors[0][5] = f32::INFINITY,
            _ => {}
        }
        Ok(Embeddings {
            vectors,
            input_tokens: None,
        })
    }
}

#[cfg(target_arch = "wasm32")]
fn trap() -> ! {
    core::arch::wasm32::unreachable()
}

#[cfg(not(target_arch = "wasm32"))]
fn trap() -> ! {
    std::process::abort()
}

/// Tries every way out a WASI p2 guest has and says what happened, one clause each.
#[cfg(target_arch = "wasm32")]
fn escape(port: u16) -> String {
    use wasip2::sockets::network::{IpAddressFamily, IpSocketAddress, Ipv4SocketAddress};

    let mut report = Vec::new();
    let preopens = wasip2::filesystem::preopens::get_directories();
    report.push(format!("preopens: {}", preopens.len()));
    report.push(match std::fs::read("/etc/passwd") {
        Ok(b) => format!("read /etc/passwd: {} bytes", b.len()),
        Err(e) => format!("read /etc/passwd: error {e}"),
    });
    report.push(match std::fs::read_dir(".") {
        Ok(d) => format!("read_dir .: {} entries", d.count()),
        Err(e) => format!("read_dir .: error {e}"),
    });
    report.push(format!(
        "env: {} vars",
        wasip2::cli::environment::get_environment().len()
    ));

    let network = wasip2::sockets::instance_network::instance_network();
    let tcp = match wasip2::sockets::tcp_create_socket::create_tcp_socket(IpAddressFamily::Ipv4) {
        Ok(socket) => {
            let addr = IpSocketAddress::Ipv4(Ipv4SocketAddress {
                port,
                address: (127, 0, 0, 1),
            });
            match socket.start_connect(&network, addr) {
                Err(e) => format!("tcp connect 127.0.0.1:{port}: error {e:?}"),
                Ok(()) => {
                    socket.subscribe().block();
                    match socket.finish_connect() {
                        Ok(_) => format!("tcp connect 127.0.0.1:{port}: CONNECTED"),
                        Err(e) => format!("tcp connect 127.0.0.1:{port}: error {e:?}"),
                    }
                }
            }
        }
        Err(e) => format!("tcp socket: error {e:?}"),
    };
    report.push(tcp);
    report.push(
        match wasip2::sockets::ip_name_lookup::resolve_addresses(&network, "localhost") {
            Ok(_) => "dns localhost: resolved".to_string(),
            Err(e) => format!("dns localhost: error {e:?}"),
        },
    );
    report.join("; ")
}

#[cfg(not(target_arch = "wasm32"))]
fn escape(_port: u16) -> String {
    "native build: nothing to try".into()
}
