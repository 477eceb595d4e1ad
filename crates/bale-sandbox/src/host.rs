//! What a networked sandbox takes from the host: its CA bundle and proxies.

use std::path::{Path, PathBuf};

/// Where the host's CA bundle appears inside a networked sandbox, by default.
pub const SANDBOX_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// Variables that point tools at the CA bundle inside the sandbox.
pub const CA_VARIABLES: [&str; 5] = [
    "SSL_CERT_FILE",
    "PIP_CERT",
    "NODE_EXTRA_CA_CERTS",
    "CARGO_HTTP_CAINFO",
    "REQUESTS_CA_BUNDLE",
];

/// Proxy variables copied from the host into a networked sandbox.
pub const PROXY_VARIABLES: [&str; 8] = [
    "http_proxy",
    "https_proxy",
    "ftp_proxy",
    "all_proxy",
    "no_proxy",
    "HTTP_PROXY",
    "HTTPS_PROXY",
    "NO_PROXY",
];

/// The host's CA bundle: `SSL_CERT_FILE` if it names a file, else the
/// usual locations of Debian, Fedora and Alpine.
pub fn host_ca_bundle() -> Option<PathBuf> {
    let from_env = std::env::var_os("SSL_CERT_FILE").map(PathBuf::from);
    from_env
        .into_iter()
        .chain(
            [
                "/etc/ssl/certs/ca-certificates.crt",
                "/etc/pki/tls/certs/ca-bundle.crt",
                "/etc/ssl/cert.pem",
            ]
            .iter()
            .map(PathBuf::from),
        )
        .find(|p| p.is_file())
}

/// Variables naming the package registries (mirrors) the host's pip, npm
/// and cargo use, copied into a networked sandbox so its downloads go where
/// the host's would. They choose where packages come from, not which.
pub const REGISTRY_VARIABLES: [&str; 8] = [
    "PIP_INDEX_URL",
    "PIP_EXTRA_INDEX_URL",
    "PIP_TRUSTED_HOST",
    "npm_config_registry",
    "NPM_CONFIG_REGISTRY",
    "CARGO_REGISTRIES_CRATES_IO_PROTOCOL",
    "CARGO_HTTP_PROXY",
    "CARGO_NET_GIT_FETCH_WITH_CLI",
];

/// The host's proxy and registry settings, to pass through when the network is on.
pub fn host_proxies() -> Vec<(String, String)> {
    PROXY_VARIABLES
        .iter()
        .chain(&REGISTRY_VARIABLES)
        .filter_map(|k| std::env::var(k).ok().map(|v| (k.to_string(), v)))
        .collect()
}

/// The CA variables, all pointing at the bundle at `at` inside the sandbox.
pub fn ca_env(at: &Path) -> Vec<(String, String)> {
    CA_VARIABLES
        .iter()
        .map(|k| (k.to_string(), at.to_string_lossy().into_owned()))
        .collect()
}

/// Whether `path` exists in one of `layers` (a sandbox path, absolute).
pub(crate) fn exists_in_layers(layers: &[PathBuf], path: &Path) -> bool {
    let rel = path.strip_prefix("/").unwrap_or(path);
    layers
        .iter()
        .any(|l| l.join(rel).symlink_metadata().is_ok())
}
