//! `tiktoken-cache DIR`: writes the cl100k_base ranks that tiktoken-rs ships into DIR as
//! Python tiktoken's cache file, and prints its path. Tests point `TIKTOKEN_CACHE_DIR` at DIR
//! so tiktoken (LangChain's `OpenAIEmbeddings`) loads the encoding offline, from the same ranks
//! the host decodes token ids with.
//!
//! tiktoken (`tiktoken/load.py`, `read_file_cached`) names the file after the SHA-1 of the blob
//! URL and uses it only when its SHA-256 is the one `tiktoken_ext/openai_public.py` expects;
//! otherwise it deletes it and downloads. The file is rebuilt here rank by rank
//! (`base64(token bytes) rank` per line, in rank order) and both hashes are checked, so a
//! mismatch fails here, loudly, instead of sending tiktoken to the network.

use base64::Engine as _;
use sha1::Digest as _;
use std::io::Write as _;
use std::path::PathBuf;

/// Where tiktoken fetches cl100k_base from; the cache file is named after its SHA-1.
const BLOB_URL: &str = "https://openaipublic.blob.core.windows.net/encodings/cl100k_base.tiktoken";
/// The SHA-256 tiktoken expects of that file.
const EXPECTED_SHA256: &str = "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7";
/// Ordinary cl100k_base ranks (special tokens are not in the file).
const RANKS: u32 = 100_256;

fn main() -> anyhow::Result<()> {
    let dir: PathBuf = std::env::args_os()
        .nth(1)
        .map(PathBuf::from)
        .ok_or_else(|| anyhow::anyhow!("usage: tiktoken-cache DIR"))?;
    let bpe = tiktoken_rs::cl100k_base_singleton();
    let mut file = Vec::with_capacity(1_700_000);
    for rank in 0..RANKS {
        let bytes = bpe
            .decode_bytes(&[rank])
            .map_err(|e| anyhow::anyhow!("cl100k_base has no rank {}", e.token))?;
        let b64 = base64::engine::general_purpose::STANDARD.encode(bytes);
        writeln!(file, "{b64} {rank}")?;
    }
    let sha256 = hex::encode(sha2::Sha256::digest(&file));
    anyhow::ensure!(
        sha256 == EXPECTED_SHA256,
        "the cl100k_base file rebuilt from tiktoken-rs has SHA-256 {sha256}, not the {EXPECTED_SHA256} \
         tiktoken expects: tiktoken would discard it and go to the network"
    );
    std::fs::create_dir_all(&dir)?;
    let path = dir.join(hex::encode(sha1::Sha1::digest(BLOB_URL.as_bytes())));
    std::fs::write(&path, &file)?;
    println!("{}", path.display());
    Ok(())
}
