//! Fixtures for the repository tests: real packages (gcc, bale-archive),
//! real signatures (bale-sign), a server on 127.0.0.1, a real S3 (moto).
#![allow(dead_code)]

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use bale_archive::{Dependencies, PackMeta, PackageTree, SourceRef, StackRef};
use bale_coordinate::Coordinate;
use bale_db::tokens::{self, Scope};
use bale_repo::{bind, Repository, ServeOptions};
use bale_sign::{KeyPair, Keyring, SecretKey};
use tempfile::TempDir;

/// Builds `<out>/<variant>/<name>-<version>.bale` whose files depend on `variant`.
pub fn build_package(out: &Path, coordinate: &str, variant: &str) -> PathBuf {
    build_package_with_data(out, coordinate, variant, 0)
}

/// Like [`build_package`], plus `share/data.bin`: `data_bytes` of incompressible bytes.
pub fn build_package_with_data(
    out: &Path,
    coordinate: &str,
    variant: &str,
    data_bytes: usize,
) -> PathBuf {
    let coordinate: Coordinate = coordinate.parse().unwrap();
    let root = out.join(format!("root-{}-{variant}", coordinate.name()));
    std::fs::create_dir_all(root.join("bin")).unwrap();
    std::fs::create_dir_all(root.join("etc")).unwrap();
    let source = out.join(format!("hello-{variant}.c"));
    std::fs::write(
        &source,
        format!("#include <stdio.h>\nint main(void) {{ puts(\"hello {variant}\"); return 0; }}\n"),
    )
    .unwrap();
    let status = Command::new("gcc")
        .arg("-O1")
        .arg("-o")
        .arg(root.join("bin/hello"))
        .arg(&source)
        .status()
        .unwrap();
    assert!(status.success(), "gcc failed");
    std::fs::write(
        root.join("bin/greet"),
        format!("#!/bin/sh\necho greetings {variant}\n"),
    )
    .unwrap();
    std::fs::write(
        root.join("etc/hello.conf"),
        format!("variant = {variant}\n"),
    )
    .unwrap();
    if data_bytes > 0 {
        std::fs::create_dir_all(root.join("share")).unwrap();
        let mut state = 0x9E37_79B9_7F4A_7C15u64 ^ variant.len() as u64;
        let data: Vec<u8> = (0..data_bytes)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect();
        std::fs::write(root.join("share/data.bin"), data).unwrap();
    }
    let tree = PackageTree::scan(&root).unwrap();
    let meta = PackMeta {
        arch: None,
        coordinate: coordinate.clone(),
        stack: StackRef {
            name: "host".into(),
            digest: String::new(),
        },
        dependencies: Dependencies::default(),
        source: SourceRef::default(),
        mtime: 0,
    };
    let manifest = format!(
        "[package]\nname = \"{}\"\nversion = \"{}\"\n",
        coordinate.name(),
        coordinate.version()
    );
    let dir = out.join(variant);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(coordinate.file_name());
    let file = std::fs::File::create(&path).unwrap();
    tree.write(&meta, manifest.as_bytes(), std::io::BufWriter::new(file))
        .unwrap();
    path
}

/// A publisher's key pair, trusted in `trusted_dir` when asked.
pub struct Publisher {
    pub secret: SecretKey,
    pub key_id: String,
}

impl Publisher {
    pub fn new() -> Publisher {
        let pair = KeyPair::generate().unwrap();
        Publisher {
            key_id: pair.public.key_id().to_string(),
            secret: pair.secret,
        }
    }

    /// Trusts this publisher's key in `dir`.
    pub fn trust_in(&self, dir: &Path, name: &str) {
        Keyring::add(dir, &self.secret.public_key(), name).unwrap();
    }

    /// Writes `FILE.minisig` next to the archive.
    pub fn sign(&self, archive: &Path) -> PathBuf {
        let data = std::fs::File::open(archive).unwrap();
        let comment =
            bale_sign::default_trusted_comment(&archive.file_name().unwrap().to_string_lossy(), 0);
        let signature = bale_sign::sign(&self.secret, data, &comment).unwrap();
        let mut name = archive.file_name().unwrap().to_os_string();
        name.push(".minisig");
        let path = archive.with_file_name(name);
        std::fs::write(&path, signature.to_file_string()).unwrap();
        path
    }
}

pub use bale_testkit::{free_port, ProcessGuard};

/// Waits until something listens on the address.
pub fn wait_for_port(addr: SocketAddr, what: &str) {
    bale_testkit::wait_for_port(addr, Duration::from_secs(30), what);
}

/// A moto S3 server on a free loopback port, with one bucket.
pub struct Moto {
    pub endpoint: String,
    pub bucket: String,
    _server: bale_testkit::Moto,
}

impl Moto {
    /// Starts moto, or returns `None` (with the reason printed) when it is not
    /// installed outside CI. Under CI=true a missing moto fails the test.
    pub async fn start() -> Option<Moto> {
        let server = tokio::task::spawn_blocking(bale_testkit::Moto::start)
            .await
            .unwrap()?;
        let bucket = "bale-test".to_owned();
        server.create_bucket(&bucket);
        Some(Moto {
            endpoint: server.endpoint.clone(),
            bucket,
            _server: server,
        })
    }

    /// The storage URL and options for `bale serve`.
    pub fn configure(&self, options: &mut ServeOptions) {
        options.storage_url = format!(
            "s3://{}?endpoint={}&region=us-east-1",
            self.bucket, self.endpoint
        );
        options.storage_options = vec![
            ("aws_access_key_id".into(), "testing".into()),
            ("aws_secret_access_key".into(), "testing".into()),
        ];
    }
}

/// Which storage a test server uses.
pub enum Backend {
    Local,
    S3(Moto),
}

impl Backend {
    /// The backend for a test variant, or `None` when S3 is unavailable (and allowed to be).
    pub async fn get(s3: bool) -> Option<Backend> {
        if s3 {
            Moto::start().await.map(Backend::S3)
        } else {
            Some(Backend::Local)
        }
    }
}

/// A repository server on 127.0.0.1, stopped when dropped.
pub struct TestServer {
    pub url: String,
    pub addr: SocketAddr,
    pub home: TempDir,
    pub repo: Repository,
    pub options: ServeOptions,
    pub publisher: Publisher,
    _backend: Backend,
    shutdown: Option<tokio::sync::oneshot::Sender<()>>,
}

/// Default options for a test home: port 0, trusted publisher key, SQLite.
pub fn options_for(home: &Path) -> ServeOptions {
    let mut options = ServeOptions::for_home(&bale_home::Home::new(home));
    options.listen = "127.0.0.1:0".parse().unwrap();
    options
}

impl TestServer {
    pub async fn start(backend: Backend, configure: impl FnOnce(&mut ServeOptions)) -> TestServer {
        let home = tempfile::tempdir().unwrap();
        let mut options = options_for(home.path());
        if let Backend::S3(moto) = &backend {
            moto.configure(&mut options);
        }
        let publisher = Publisher::new();
        publisher.trust_in(&options.trusted_keys_dir, "publisher");
        configure(&mut options);
        let server = bind(options.clone()).await.unwrap();
        let addr = server.local_addr().unwrap();
        let repo = server.repository().clone();
        let (tx, rx) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(server.run_until(async move {
            let _ = rx.await;
        }));
        TestServer {
            url: format!("http://{addr}"),
            addr,
            home,
            repo,
            options,
            publisher,
            _backend: backend,
            shutdown: Some(tx),
        }
    }

    pub async fn token(&self, scope: Scope) -> String {
        tokens::create(self.repo.database(), scope).await.unwrap()
    }

    /// A directory for fixtures that lives as long as the server.
    pub fn work_dir(&self, name: &str) -> PathBuf {
        let dir = self.home.path().join("work").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        dir
    }

    /// PUT raw bytes to a tree path, with a token and optional signature header.
    pub async fn put(
        &self,
        path: &str,
        body: Vec<u8>,
        token: Option<&str>,
        signature: Option<&Path>,
    ) -> reqwest::Response {
        let mut request = reqwest::Client::new()
            .put(format!("{}{path}", self.url))
            .body(body);
        if let Some(token) = token {
            request = request.bearer_auth(token);
        }
        if let Some(sig) = signature {
            use base64::Engine;
            let text = std::fs::read(sig).unwrap();
            request = request.header(
                bale_repo::server::SIGNATURE_HEADER,
                base64::engine::general_purpose::STANDARD.encode(text),
            );
        }
        request.send().await.unwrap()
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        reqwest::get(format!("{}{path}", self.url)).await.unwrap()
    }

    pub async fn get_json(&self, path: &str) -> (u16, serde_json::Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.unwrap())
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

/// The `{"error": {"code"}}` of an error response.
pub async fn error_code(response: reqwest::Response) -> (u16, String, String) {
    let status = response.status().as_u16();
    let body: serde_json::Value = response.json().await.unwrap();
    (
        status,
        body["error"]["code"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    )
}

/// The tree path of a coordinate's amd64 archive (the fixtures' ELF files
/// are this machine's): `/org/example/hello/2.10/hello-2.10-amd64.bale`.
pub fn archive_path(coordinate: &str) -> String {
    let coordinate = coordinate.parse::<Coordinate>().unwrap();
    format!(
        "/{}/{}",
        coordinate.relative_dir(),
        coordinate.arch_file_name("amd64")
    )
}
