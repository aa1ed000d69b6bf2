//! `slm-train download`: fetch TinyStories files from the Hugging Face Hub
//! over plain HTTP, resuming partial downloads and verifying SHA-256.

use std::fs::{File, OpenOptions};
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::{Context, bail};
use sha2::{Digest, Sha256};

/// The text files of the official dataset (V2, GPT-4 stories).
const DEFAULT_FILES: &[&str] = &[
    "TinyStoriesV2-GPT4-train.txt",
    "TinyStoriesV2-GPT4-valid.txt",
];

#[derive(clap::Args)]
pub struct Args {
    /// Directory to download into.
    #[arg(long, default_value = "data/raw/tinystories")]
    pub out: PathBuf,
    /// Files of the dataset repository to fetch (default: the V2 train and valid text).
    #[arg(long = "file", num_args = 1..)]
    pub files: Vec<String>,
    /// Hub endpoint (a mirror or a local server); also read from HF_ENDPOINT.
    #[arg(long, env = "HF_ENDPOINT", default_value = "https://huggingface.co")]
    pub endpoint: String,
    /// Dataset repository on the Hub.
    #[arg(long, default_value = "roneneldan/TinyStories")]
    pub repo: String,
    /// Branch, tag or commit.
    #[arg(long, default_value = "main")]
    pub revision: String,
    /// Expected checksum as FILE=SHA256HEX (repeatable); overrides the hash the Hub reports.
    #[arg(long = "sha256", value_parser = parse_checksum)]
    pub sha256: Vec<(String, String)>,
    /// Do not draw progress bars.
    #[arg(long)]
    pub no_progress: bool,
}

fn parse_checksum(s: &str) -> Result<(String, String), String> {
    let (file, hash) = s
        .split_once('=')
        .ok_or_else(|| format!("{s:?}: expected FILE=SHA256HEX"))?;
    let hash = hash.trim().to_ascii_lowercase();
    if !is_sha256(&hash) {
        return Err(format!("{s:?}: {hash:?} is not a 64-digit hex SHA-256"));
    }
    Ok((file.to_string(), hash))
}

fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| b.is_ascii_hexdigit())
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let files: Vec<String> = if args.files.is_empty() {
        DEFAULT_FILES.iter().map(|s| s.to_string()).collect()
    } else {
        args.files.clone()
    };
    std::fs::create_dir_all(&args.out)
        .with_context(|| format!("creating {}", args.out.display()))?;
    for file in &files {
        let expected = args
            .sha256
            .iter()
            .find(|(f, _)| f == file)
            .map(|(_, h)| h.clone());
        let url = file_url(&args.endpoint, &args.repo, &args.revision, file);
        let path = download_file(&url, &args.out, file, expected, !args.no_progress)?;
        println!("{}", path.display());
    }
    Ok(())
}

/// The Hub's URL layout for a file in a dataset repository.
pub fn file_url(endpoint: &str, repo: &str, revision: &str, file: &str) -> String {
    format!(
        "{}/datasets/{repo}/resolve/{revision}/{file}",
        endpoint.trim_end_matches('/')
    )
}

/// What a HEAD request (without following the redirect to the CDN) tells us.
struct Remote {
    sha256: Option<String>,
    size: Option<u64>,
}

fn agent(max_redirects: u32) -> ureq::Agent {
    ureq::Agent::config_builder()
        .max_redirects(max_redirects)
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(30)))
        .timeout_recv_body(Some(Duration::from_secs(120)))
        .build()
        .into()
}

/// The Hub puts an LFS file's SHA-256 in `X-Linked-Etag` on its redirect
/// response (plain files get a git hash in `ETag`, which we cannot verify).
fn probe(url: &str) -> anyhow::Result<Remote> {
    let resp = agent(0)
        .head(url)
        .call()
        .with_context(|| format!("cannot reach {url}"))?;
    let status = resp.status().as_u16();
    if status == 404 {
        bail!("{url}: not found (404); check --repo, --revision and --file");
    }
    if status >= 400 {
        bail!("{url}: server answered HTTP {status}");
    }
    let header = |name: &str| {
        resp.headers()
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(|v| {
                v.trim()
                    .trim_start_matches("W/")
                    .trim_matches('"')
                    .to_ascii_lowercase()
            })
    };
    let sha256 = header("x-linked-etag")
        .or_else(|| header("etag"))
        .filter(|h| is_sha256(h));
    let size = header("x-linked-size")
        .or_else(|| header("content-length"))
        .and_then(|s| s.parse().ok());
    Ok(Remote { sha256, size })
}

/// Downloads `url` to `dir/name`, resuming from `dir/name.part` and checking
/// the SHA-256 (given, or reported by the Hub). Returns the final path.
pub fn download_file(
    url: &str,
    dir: &Path,
    name: &str,
    expected: Option<String>,
    progress: bool,
) -> anyhow::Result<PathBuf> {
    anyhow::ensure!(
        !name.contains("..") && !name.starts_with('/'),
        "refusing file name {name:?}: it must stay inside the output directory"
    );
    let final_path = dir.join(name);
    let part_path = dir.join(format!("{name}.part"));
    let remote = probe(url)?;
    let expected = expected.or(remote.sha256);

    if final_path.exists() {
        if let Some(want) = &expected {
            let have = sha256_file(&final_path)?;
            if &have == want {
                tracing::info!(file = %final_path.display(), "already downloaded and verified");
                return Ok(final_path);
            }
            bail!(
                "{} exists but its SHA-256 is {have}, expected {want}; remove it to download again",
                final_path.display()
            );
        }
        tracing::info!(file = %final_path.display(), "already present (no checksum to verify)");
        return Ok(final_path);
    }
    if let Some(parent) = part_path.parent() {
        std::fs::create_dir_all(parent)
            .with_context(|| format!("creating {}", parent.display()))?;
    }

    // Resume: hash what we already have, then ask only for the rest.
    let mut hasher = Sha256::new();
    let mut have = 0u64;
    if part_path.exists() {
        let mut f =
            File::open(&part_path).with_context(|| format!("opening {}", part_path.display()))?;
        have = copy_into_hasher(&mut f, &mut hasher)
            .with_context(|| format!("reading {}", part_path.display()))?;
    }
    let complete = remote.size.is_some_and(|size| have >= size && have > 0);
    if !complete {
        let mut request = agent(10).get(url);
        if have > 0 {
            request = request.header("Range", format!("bytes={have}-"));
        }
        let mut resp = request
            .call()
            .with_context(|| format!("downloading {url}"))?;
        let status = resp.status().as_u16();
        let append = match status {
            206 => true,
            200 => {
                // The server ignored the range: start over.
                hasher = Sha256::new();
                have = 0;
                false
            }
            416 => true, // nothing left to fetch
            s => bail!("{url}: server answered HTTP {s}"),
        };
        let mut out = OpenOptions::new()
            .create(true)
            .write(true)
            .append(append)
            .truncate(!append)
            .open(&part_path)
            .with_context(|| format!("opening {}", part_path.display()))?;
        if status != 416 {
            let bar = if progress {
                let bar = indicatif::ProgressBar::new(remote.size.unwrap_or(0));
                if let Ok(style) = indicatif::ProgressStyle::with_template(
                    "{msg} {wide_bar} {bytes}/{total_bytes} {binary_bytes_per_sec} ETA {eta}",
                ) {
                    bar.set_style(style);
                }
                bar.set_message(name.to_string());
                bar.set_position(have);
                bar
            } else {
                indicatif::ProgressBar::hidden()
            };
            let mut body = resp.body_mut().as_reader();
            let mut buf = vec![0u8; 1 << 16];
            loop {
                let n = body
                    .read(&mut buf)
                    .with_context(|| format!("downloading {url} (partial file kept for resume)"))?;
                if n == 0 {
                    break;
                }
                out.write_all(&buf[..n])
                    .with_context(|| format!("writing {}", part_path.display()))?;
                hasher.update(&buf[..n]);
                have += n as u64;
                bar.set_position(have);
            }
            bar.finish_and_clear();
        }
        out.sync_all()
            .with_context(|| format!("writing {}", part_path.display()))?;
    }
    if let Some(size) = remote.size {
        anyhow::ensure!(
            have == size,
            "{}: got {have} bytes but the server reported {size}; run again to resume",
            part_path.display()
        );
    }
    let actual = hex(&hasher.finalize());
    match &expected {
        Some(want) if *want != actual => {
            std::fs::remove_file(&part_path).ok();
            bail!(
                "{name}: checksum mismatch: SHA-256 is {actual}, expected {want}; \
                 the download was deleted, run again"
            );
        }
        Some(_) => tracing::info!(file = name, sha256 = %actual, "checksum verified"),
        None => tracing::warn!(
            file = name,
            sha256 = %actual,
            "the server sent no SHA-256; pass --sha256 FILE=HEX to verify"
        ),
    }
    std::fs::rename(&part_path, &final_path)
        .with_context(|| format!("renaming {} into place", part_path.display()))?;
    Ok(final_path)
}

fn copy_into_hasher(r: &mut impl Read, hasher: &mut Sha256) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 16];
    let mut total = 0;
    loop {
        let n = r.read(&mut buf)?;
        if n == 0 {
            return Ok(total);
        }
        hasher.update(&buf[..n]);
        total += n as u64;
    }
}

fn sha256_file(path: &Path) -> anyhow::Result<String> {
    let mut f = File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let mut hasher = Sha256::new();
    copy_into_hasher(&mut f, &mut hasher).with_context(|| format!("reading {}", path.display()))?;
    Ok(hex(&hasher.finalize()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::{BufRead, BufReader};
    use std::net::TcpListener;
    use std::sync::{Arc, Mutex};

    /// A tiny HTTP/1.1 server in the Hub's layout: `HEAD/GET /datasets/.../resolve/main/F`
    /// answers 302 to `/cdn/F` with `X-Linked-Etag` (the LFS SHA-256) and
    /// `X-Linked-Size`; `/cdn/F` serves the bytes with Range support.
    struct Hub {
        endpoint: String,
        requests: Arc<Mutex<Vec<String>>>,
    }

    fn serve(files: Vec<(String, Vec<u8>, String)>) -> Hub {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let endpoint = format!("http://{}", listener.local_addr().unwrap());
        let requests = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&requests);
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut reader = BufReader::new(stream.try_clone().unwrap());
                let mut line = String::new();
                if reader.read_line(&mut line).is_err() {
                    continue;
                }
                let mut range = None;
                loop {
                    let mut h = String::new();
                    if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
                        break;
                    }
                    if let Some(v) = h.to_ascii_lowercase().strip_prefix("range: bytes=") {
                        range = v.trim().trim_end_matches('-').parse::<usize>().ok();
                    }
                }
                let mut parts = line.split_whitespace();
                let method = parts.next().unwrap_or("").to_string();
                let path = parts.next().unwrap_or("").to_string();
                log.lock()
                    .unwrap()
                    .push(format!("{method} {path} range={range:?}"));
                let head = method == "HEAD";
                let resp: Vec<u8> = if let Some(name) = path.strip_prefix("/cdn/") {
                    match files.iter().find(|(n, _, _)| n == name) {
                        Some((_, data, _)) => {
                            let start = range.unwrap_or(0);
                            if start >= data.len() && range.is_some() {
                                b"HTTP/1.1 416 Range Not Satisfiable\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec()
                            } else {
                                let body = &data[start..];
                                let status = if range.is_some() { "206 Partial Content" } else { "200 OK" };
                                let mut r = format!(
                                    "HTTP/1.1 {status}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n",
                                    body.len()
                                )
                                .into_bytes();
                                if !head {
                                    r.extend_from_slice(body);
                                }
                                r
                            }
                        }
                        None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                    }
                } else if let Some(name) =
                    path.strip_prefix("/datasets/roneneldan/TinyStories/resolve/main/")
                {
                    match files.iter().find(|(n, _, _)| n == name) {
                        Some((_, data, etag)) => format!(
                            "HTTP/1.1 302 Found\r\nlocation: /cdn/{name}\r\nx-linked-etag: \"{etag}\"\r\nx-linked-size: {}\r\ncontent-length: 0\r\nconnection: close\r\n\r\n",
                            data.len()
                        )
                        .into_bytes(),
                        None => b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n".to_vec(),
                    }
                } else {
                    b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                        .to_vec()
                };
                let _ = stream.write_all(&resp);
            }
        });
        Hub { endpoint, requests }
    }

    fn fixture() -> Vec<u8> {
        std::fs::read(slm_testdata::shared_data(
            "fixtures/tinystories-valid-40.txt",
        ))
        .unwrap()
    }

    fn url(hub: &Hub, name: &str) -> String {
        file_url(&hub.endpoint, "roneneldan/TinyStories", "main", name)
    }

    #[test]
    fn downloads_and_verifies_the_hub_checksum() {
        let data = fixture();
        let sha = hex(&Sha256::digest(&data));
        let hub = serve(vec![("valid.txt".into(), data.clone(), sha.clone())]);
        let dir = tempfile::tempdir().unwrap();
        let path = download_file(
            &url(&hub, "valid.txt"),
            dir.path(),
            "valid.txt",
            None,
            false,
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        assert!(!dir.path().join("valid.txt.part").exists());
        // A second run finds the verified file and downloads nothing.
        let before = hub.requests.lock().unwrap().len();
        download_file(
            &url(&hub, "valid.txt"),
            dir.path(),
            "valid.txt",
            None,
            false,
        )
        .unwrap();
        let log = hub.requests.lock().unwrap();
        assert!(
            log[before..].iter().all(|r| r.starts_with("HEAD")),
            "{log:?}"
        );
    }

    #[test]
    fn resumes_a_partial_download_with_a_range_request() {
        let data = fixture();
        let sha = hex(&Sha256::digest(&data));
        let hub = serve(vec![("valid.txt".into(), data.clone(), sha)]);
        let dir = tempfile::tempdir().unwrap();
        let half = data.len() / 2;
        std::fs::write(dir.path().join("valid.txt.part"), &data[..half]).unwrap();
        let path = download_file(
            &url(&hub, "valid.txt"),
            dir.path(),
            "valid.txt",
            None,
            false,
        )
        .unwrap();
        assert_eq!(std::fs::read(&path).unwrap(), data);
        let log = hub.requests.lock().unwrap();
        assert!(
            log.iter()
                .any(|r| r == &format!("GET /cdn/valid.txt range=Some({half})")),
            "{log:?}"
        );
    }

    #[test]
    fn checksum_mismatch_is_an_error_and_removes_the_download() {
        let data = fixture();
        let wrong = "0".repeat(64);
        let hub = serve(vec![("valid.txt".into(), data, wrong.clone())]);
        let dir = tempfile::tempdir().unwrap();
        let err = download_file(
            &url(&hub, "valid.txt"),
            dir.path(),
            "valid.txt",
            None,
            false,
        )
        .unwrap_err();
        let msg = format!("{err:#}");
        assert!(
            msg.contains("valid.txt") && msg.contains("checksum mismatch"),
            "{msg}"
        );
        assert!(msg.contains(&wrong), "{msg}");
        assert!(!dir.path().join("valid.txt").exists());
        assert!(!dir.path().join("valid.txt.part").exists());
    }

    #[test]
    fn explicit_checksum_overrides_the_hub() {
        let data = fixture();
        let hub = serve(vec![("valid.txt".into(), data.clone(), "1".repeat(64))]);
        let dir = tempfile::tempdir().unwrap();
        let good = hex(&Sha256::digest(&data));
        download_file(
            &url(&hub, "valid.txt"),
            dir.path(),
            "valid.txt",
            Some(good),
            false,
        )
        .unwrap();
        assert_eq!(std::fs::read(dir.path().join("valid.txt")).unwrap(), data);
    }

    #[test]
    fn missing_file_is_a_clear_error() {
        let hub = serve(vec![]);
        let dir = tempfile::tempdir().unwrap();
        let err =
            download_file(&url(&hub, "nope.txt"), dir.path(), "nope.txt", None, false).unwrap_err();
        let msg = format!("{err:#}");
        assert!(msg.contains("nope.txt") && msg.contains("404"), "{msg}");
    }

    #[test]
    fn checksum_flags_are_validated() {
        assert_eq!(
            parse_checksum(&format!("a.txt={}", "AB".repeat(32))).unwrap(),
            ("a.txt".to_string(), "ab".repeat(32))
        );
        assert!(
            parse_checksum("a.txt")
                .unwrap_err()
                .contains("FILE=SHA256HEX")
        );
        assert!(
            parse_checksum("a.txt=1234")
                .unwrap_err()
                .contains("64-digit")
        );
    }

    #[test]
    fn hub_url_layout() {
        assert_eq!(
            file_url(
                "https://huggingface.co/",
                "roneneldan/TinyStories",
                "main",
                "x.txt"
            ),
            "https://huggingface.co/datasets/roneneldan/TinyStories/resolve/main/x.txt"
        );
    }
}
