//! The emulator's SigV4 check against signatures it did not make: the AWS signing test suite
//! (tests/data/sigv4/README.md says where each vector comes from). Each vector is a signed
//! request as a server receives it and the signature AWS computed; the verifier must arrive at
//! the same signature from the request alone, and at another one when anything signed changes.
//!
//! The emulator re-signs with the aws-sigv4 crate, the library the Rust SDK signs with, so a
//! canonicalisation rule both got wrong would pass every SDK test; these vectors would not.

use std::path::{Path, PathBuf};

use bedrock_emulator::sigv4::{
    Authorization, ReceivedRequest, expected_signature, parse_amz_date, parse_authorization,
};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Every vector in tests/data/sigv4 is checked; this is how many there are, so that a vector
/// lost from the directory fails the test instead of shrinking it.
const VECTORS: usize = 13;

struct Vector {
    name: String,
    secret: String,
    token: Option<String>,
    method: String,
    path_and_query: String,
    headers: HeaderMap,
    body: Vec<u8>,
    signature: String,
}

fn vectors() -> Vec<Vector> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sigv4");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    assert_eq!(dirs.len(), VECTORS, "vectors in {}", dir.display());
    dirs.iter().map(|d| load(d)).collect()
}

fn load(dir: &Path) -> Vector {
    let read = |f: &str| {
        std::fs::read_to_string(dir.join(f))
            .unwrap_or_else(|e| panic!("{}/{f}: {e}", dir.display()))
    };
    let context: serde_json::Value = serde_json::from_str(&read("context.json")).expect("json");
    let signed = read("header-signed-request.txt");
    let (head, body) = signed.split_once("\n\n").unwrap_or((&signed, ""));
    let mut lines = head.lines();
    let request_line = lines.next().expect("request line");
    let mut parts = request_line.split(' ');
    let (method, path_and_query) = (parts.next().unwrap(), parts.next().unwrap());
    let mut headers = HeaderMap::new();
    for line in lines {
        let (name, value) = line.split_once(':').expect("Name:value");
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).expect("header name"),
            HeaderValue::from_str(value.trim()).expect("header value"),
        );
    }
    let credentials = &context["credentials"];
    Vector {
        name: dir.file_name().unwrap().to_string_lossy().into_owned(),
        secret: credentials["secret_access_key"]
            .as_str()
            .unwrap()
            .to_string(),
        token: credentials["token"].as_str().map(str::to_string),
        method: method.to_string(),
        path_and_query: path_and_query.to_string(),
        headers,
        body: body.trim_end_matches('\n').as_bytes().to_vec(),
        signature: read("header-signature.txt").trim().to_string(),
    }
}

impl Vector {
    fn request(&self) -> ReceivedRequest<'_> {
        ReceivedRequest {
            method: &self.method,
            path_and_query: &self.path_and_query,
            authority: None,
            headers: &self.headers,
            body: &self.body,
        }
    }

    fn auth(&self) -> Authorization {
        let value = self.headers["authorization"].to_str().unwrap();
        parse_authorization(value).unwrap_or_else(|e| panic!("{}: {e:?}", self.name))
    }

    /// What the emulator computes for `req` with this vector's key, scope and time.
    fn verify(&self, req: &ReceivedRequest<'_>) -> String {
        let date = self.headers["x-amz-date"].to_str().unwrap();
        let time = parse_amz_date(date).expect("X-Amz-Date");
        expected_signature(req, &self.auth(), &self.secret, self.token.as_deref(), time)
            .unwrap_or_else(|e| panic!("{}: {e:?}", self.name))
    }
}

#[test]
fn the_verifier_computes_the_signature_aws_published() {
    for v in vectors() {
        // The vector is consistent with itself: the signature sent is the one published.
        assert_eq!(v.auth().signature, v.signature, "{}", v.name);
        assert_eq!(v.verify(&v.request()), v.signature, "{}", v.name);
    }
}

#[test]
fn a_changed_signed_part_changes_the_signature() {
    for v in vectors() {
        let mut tampered = v.headers.clone();
        tampered.insert("host", HeaderValue::from_static("attacker.example.com"));
        let req = ReceivedRequest {
            headers: &tampered,
            ..v.request()
        };
        assert_ne!(v.verify(&req), v.signature, "{}: host changed", v.name);

        let path = format!("{}x", v.path_and_query);
        let req = ReceivedRequest {
            path_and_query: &path,
            ..v.request()
        };
        assert_ne!(v.verify(&req), v.signature, "{}: path changed", v.name);
    }
    // The %3A vector: the same path with ':' unencoded is a different canonical URI.
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "double-url-encode")
        .unwrap();
    let decoded = v.path_and_query.replace("%3A", ":");
    let req = ReceivedRequest {
        path_and_query: &decoded,
        ..v.request()
    };
    assert_ne!(v.verify(&req), v.signature, "':' is not '%3A'");
    // A signed body: another body is another payload hash.
    let v = vectors()
        .into_iter()
        .find(|v| v.name == "post-x-www-form-urlencoded")
        .unwrap();
    let req = ReceivedRequest {
        body: b"Param1=value2",
        ..v.request()
    };
    assert_ne!(v.verify(&req), v.signature, "body changed");
}
