//! `bale export oci`: an OCI image layout (`oci-layout`, `index.json`,
//! `blobs/sha256/…`) that podman, skopeo, umoci and any registry take.
//!
//! Three layers, base first: the stack image, the package's runtime layer
//! (what a deploy runs the package over; the caller finds or makes it) and
//! the package at `/opt/bale/<group as path>/<name>/<version>` with the
//! image's entrypoint, `/bale/init`. Everything that varies between machines
//! is left out, so the same package and stack give the same manifest digest.
//! See `docs/exports.md`.

mod image;
mod init;
mod layer;
mod push;
mod tar;

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use bale_manifest::Manifest;
use serde_json::{json, Value};

pub use image::{CONFIG_MEDIA_TYPE, INDEX_MEDIA_TYPE, LAYER_MEDIA_TYPE, MANIFEST_MEDIA_TYPE};
pub use push::{push, Credentials, ImageName, Pushed, CREDENTIALS_ENV};

use crate::{ExportError, Package, Written};
use image::{oci_arch, rfc3339, ConfigSpec, REF_NAME};
use init::{InitService, InitSpec};
use layer::{Layer, LayerBlob};

/// The numeric user and group the image runs as: not root, and a number
/// (the one distroless images use) because the stack's `/etc/passwd` has
/// no name for it and Kubernetes' `runAsNonRoot` can check only a number.
pub const IMAGE_UID: u32 = 65532;

/// The image's writable runtime directory, `$BALE_RUN`, owned by [`IMAGE_UID`].
pub const RUN_DIR: &str = "/bale/run";

/// The image's entrypoint.
pub const INIT_PATH: &str = "/bale/init";

/// How to export.
#[derive(Debug, Clone)]
pub struct Options {
    /// The image layout directory (made if missing; an existing layout
    /// keeps its other images).
    pub out: PathBuf,
    /// The image's name and tag (`NAME:TAG`; default: the package's name and version).
    pub tag: Option<String>,
    /// The directories the package runs on, base first: the stack image's
    /// root, then its runtime layer (an overlay upper directory) when it has one.
    pub base: Vec<PathBuf>,
}

/// An image written into a layout.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Image {
    /// The layout directory.
    pub layout: PathBuf,
    /// Its name and tag.
    pub name: ImageName,
    /// `sha256:<hex>` of its manifest.
    pub manifest_digest: String,
    /// The manifest's size in bytes.
    pub manifest_size: u64,
}

/// Writes the export of `package` and returns what was written: the layout, named by its manifest's digest.
pub fn export(package: &Package, options: &Options) -> Result<Vec<Written>, ExportError> {
    let image = export_image(package, options)?;
    Ok(vec![Written {
        path: image.layout,
        digest: image.manifest_digest,
        size: image.manifest_size,
    }])
}

/// Where the package lives in the image: `/opt/bale/<group as path>/<name>/<version>`.
pub fn image_prefix(manifest: &Manifest) -> String {
    format!(
        "/opt/bale/{}/{}/{}",
        manifest.package.group.replace('.', "/"),
        manifest.package.name,
        manifest.package.version
    )
}

/// Writes the image of `package` into the layout `options.out`.
pub fn export_image(package: &Package, options: &Options) -> Result<Image, ExportError> {
    let manifest = package.manifest();
    let index = package.index();
    let name = match &options.tag {
        Some(tag) => ImageName::parse_tag(tag)?,
        None => ImageName::of_package(&manifest.package.name, &manifest.package.version),
    };
    let Some((stack_root, runtime_layers)) = options.base.split_first() else {
        return Err(ExportError::Refused(
            "an image needs the package's stack image; create it with `bale stack create`".into(),
        ));
    };
    if stack_root == Path::new("/") {
        return Err(ExportError::Refused(format!(
            "{} runs on the host's own root (stack `{}`), which cannot go into an image; \
             build it on a Debian stack such as debian-bookworm",
            index.coordinate, index.stack.name
        )));
    }
    let mtime = package_mtime(package.file())?;
    let created = rfc3339(mtime);
    let prefix = image_prefix(manifest);

    let layout = &options.out;
    let blobs = layout.join("blobs").join("sha256");
    std::fs::create_dir_all(&blobs).map_err(|e| ExportError::io(&blobs, e))?;

    let mut history = Vec::new();
    let mut layers: Vec<LayerBlob> = Vec::new();
    let mut stack = Layer::default();
    stack.add_tree(stack_root, "", false)?;
    layers.push(stack.write(&blobs, mtime)?);
    history.push(format!(
        "bale: stack {} ({})",
        index.stack.name, index.stack.digest
    ));
    for dir in runtime_layers {
        let mut runtime = Layer::default();
        runtime.add_tree(dir, "", true)?;
        layers.push(runtime.write(&blobs, mtime)?);
        let key = dir.file_name().map(|n| n.to_string_lossy().into_owned());
        history.push(format!(
            "bale: runtime layer {} ({})",
            key.unwrap_or_default(),
            runtime_packages(index).join(" ")
        ));
    }
    let mut own = Layer::default();
    own.add_tree(package.root(), &prefix, false)?;
    // Paths the build baked in (a venv's scripts) name the build's prefix.
    let build_prefix = format!(
        "bale/pkgs/{}/{}/{}",
        manifest.package.group.replace('.', "/"),
        manifest.package.name,
        manifest.package.version
    );
    own.add_symlink(&build_prefix, &prefix);
    own.add_dir(RUN_DIR, 0o755, IMAGE_UID);
    let services = init_spec(manifest, &index.coordinate);
    let has_services = !services.services.is_empty();
    if has_services {
        own.add_file(INIT_PATH, 0o755, init::init_sh(&services).into_bytes());
    }
    layers.push(own.write(&blobs, mtime)?);
    history.push(format!(
        "bale: {} at {prefix} (sha256:{})",
        index.coordinate,
        package.sha256()
    ));

    let arch = match index.arch() {
        "all" => stack_arch(stack_root),
        arch => arch.to_owned(),
    };
    let (architecture, variant) = oci_arch(&arch);
    let spec = ConfigSpec {
        architecture,
        variant,
        created: created.clone(),
        env: environment(manifest, &index.coordinate, &prefix),
        ports: exposed_ports(manifest),
        workdir: workdir(manifest, &prefix),
        user: format!("{IMAGE_UID}:{IMAGE_UID}"),
        entrypoint: has_services.then(|| vec![INIT_PATH.to_owned()]),
        cmd: (!has_services).then(|| vec!["/bin/sh".to_owned()]),
        labels: labels(package, &created),
        history,
    };
    let config = layer::write_blob(&blobs, &image::config(&spec, &layers))?;
    let annotations = vec![
        ("bale.coordinate".to_owned(), index.coordinate.clone()),
        (
            "bale.package.digest".to_owned(),
            format!("sha256:{}", package.sha256()),
        ),
        ("org.opencontainers.image.created".to_owned(), created),
    ];
    let manifest_bytes = image::manifest(&config, &layers, &annotations);
    let manifest_blob = layer::write_blob(&blobs, &manifest_bytes)?;

    let mut entry = image::descriptor(MANIFEST_MEDIA_TYPE, &manifest_blob);
    entry["annotations"] = json!({
        REF_NAME: name.tag,
        "io.containerd.image.name": name.to_string(),
    });
    let index_path = layout.join("index.json");
    let existing: Option<Value> = std::fs::read(&index_path)
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok());
    write_file(
        &layout.join("oci-layout"),
        br#"{"imageLayoutVersion":"1.0.0"}"#,
    )?;
    write_file(&index_path, &image::index(existing.as_ref(), entry))?;
    Ok(Image {
        layout: layout.clone(),
        name,
        manifest_digest: manifest_blob.digest,
        manifest_size: manifest_blob.size,
    })
}

/// The packages of the runtime layer as the index names them (for the history).
fn runtime_packages(index: &bale_archive::Index) -> Vec<String> {
    let mut all: Vec<String> = index
        .dependencies
        .runtime
        .iter()
        .chain(&index.dependencies.detected)
        .cloned()
        .collect();
    all.sort();
    all.dedup();
    all
}

/// The variables every process of the image sees.
fn environment(manifest: &Manifest, coordinate: &str, prefix: &str) -> Vec<String> {
    let mut env = vec![
        format!("PATH={prefix}/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"),
        format!("BALE_PREFIX={prefix}"),
        format!("BALE_RUN={RUN_DIR}"),
        format!("BALE_APP={}", manifest.package.name),
        format!("BALE_COORDINATE={coordinate}"),
        "LANG=C.UTF-8".to_owned(),
    ];
    if let Some(port) = manifest.main_kit().and_then(|(_, kit)| kit.first_port()) {
        env.push(format!("PORT={}", port.port));
    }
    let mut named: Vec<String> = manifest
        .kits
        .values()
        .flat_map(|kit| kit.ports.iter())
        .map(|p| {
            format!(
                "PORT_{}={}",
                p.name.to_ascii_uppercase().replace('-', "_"),
                p.port
            )
        })
        .collect();
    named.sort();
    named.dedup();
    env.extend(named);
    let taken: Vec<String> = env
        .iter()
        .filter_map(|e| e.split_once('=').map(|(k, _)| k.to_owned()))
        .collect();
    for (key, value) in manifest.variable_defaults() {
        if !key.contains('=') && !taken.contains(&key) {
            env.push(format!("{key}={value}"));
        }
    }
    env
}

/// Every kit's ports.
fn exposed_ports(manifest: &Manifest) -> Vec<u16> {
    let mut ports: Vec<u16> = manifest
        .kits
        .values()
        .flat_map(|kit| kit.ports.iter().map(|p| p.port))
        .collect();
    ports.sort_unstable();
    ports.dedup();
    ports
}

/// `[run] workdir` under the prefix.
fn workdir(manifest: &Manifest, prefix: &str) -> String {
    match manifest.workdir().trim_matches('/') {
        "" | "." => prefix.to_owned(),
        dir => format!("{prefix}/{dir}"),
    }
}

/// The services, the main kit's as the default, the variables and hooks the init handles.
fn init_spec(manifest: &Manifest, coordinate: &str) -> InitSpec {
    let services: Vec<InitService> = manifest
        .services()
        .iter()
        .map(|(name, command)| InitService {
            name: name.clone(),
            command: command.clone(),
            port: manifest.port_for_service(name),
        })
        .collect();
    let default_services = match manifest.main_kit() {
        Some((kit_name, kit)) => services
            .iter()
            .filter(|s| kit.covers(kit_name, &s.name))
            .map(|s| s.name.clone())
            .collect(),
        None => Vec::new(),
    };
    // A package without kits (or whose main kit covers nothing) starts everything.
    let default_services = if default_services.is_empty() {
        services.iter().map(|s| s.name.clone()).collect()
    } else {
        default_services
    };
    let variables = manifest.variables();
    InitSpec {
        coordinate: coordinate.to_owned(),
        services,
        default_services,
        required: variables
            .iter()
            .filter(|(_, v)| v.required && v.default.is_none() && v.provision.is_none())
            .map(|(k, _)| (*k).to_owned())
            .collect(),
        provisioned: variables
            .iter()
            .filter(|(_, v)| v.provision.is_some())
            .map(|(k, _)| (*k).to_owned())
            .collect(),
        post_install: manifest.hooks.post_install.clone(),
        deploy: manifest.hooks.deploy.clone(),
    }
}

/// The image's labels: the OCI standard ones bale knows and the package's identity.
fn labels(package: &Package, created: &str) -> Vec<(String, String)> {
    let manifest = package.manifest();
    let index = package.index();
    let p = &manifest.package;
    let mut labels = vec![
        ("bale.coordinate".to_owned(), index.coordinate.clone()),
        (
            "bale.package.digest".to_owned(),
            format!("sha256:{}", package.sha256()),
        ),
        ("bale.stack".to_owned(), index.stack.name.clone()),
        ("bale.stack.digest".to_owned(), index.stack.digest.clone()),
        (
            "org.opencontainers.image.created".to_owned(),
            created.to_owned(),
        ),
        ("org.opencontainers.image.title".to_owned(), p.name.clone()),
        (
            "org.opencontainers.image.version".to_owned(),
            p.version.clone(),
        ),
    ];
    let optional = [
        ("org.opencontainers.image.description", &p.description),
        ("org.opencontainers.image.licenses", &p.license),
        ("org.opencontainers.image.authors", &p.maintainer),
        ("org.opencontainers.image.url", &p.homepage),
        ("org.opencontainers.image.source", &index.source.git),
        ("org.opencontainers.image.revision", &index.source.commit),
    ];
    for (key, value) in optional {
        if let Some(value) = value {
            labels.push((key.to_owned(), value.clone()));
        }
    }
    labels
}

/// The mtime every entry of the package carries: its `SOURCE_DATE_EPOCH`,
/// read from the archive's first tar header.
fn package_mtime(file: &Path) -> Result<u64, ExportError> {
    let input = File::open(file).map_err(|e| ExportError::io(file, e))?;
    let mut decoder = zstd::Decoder::new(input).map_err(|e| ExportError::io(file, e))?;
    let mut header = [0u8; tar::BLOCK];
    decoder
        .read_exact(&mut header)
        .map_err(|e| ExportError::io(file, e))?;
    let field = &header[136..148];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0 && b != b' ')
        .map(|&b| b as char)
        .collect();
    u64::from_str_radix(text.trim(), 8).map_err(|_| {
        ExportError::Refused(format!(
            "{}: its first entry has no readable mtime ({text:?})",
            file.display()
        ))
    })
}

/// The Debian architecture of a stack image, from its dpkg database (for a package of arch `all`).
fn stack_arch(root: &Path) -> String {
    let status = std::fs::read_to_string(root.join("var/lib/dpkg/status")).unwrap_or_default();
    status
        .split("\n\n")
        .find(|para| para.lines().any(|l| l == "Package: dpkg"))
        .and_then(|para| para.lines().find_map(|l| l.strip_prefix("Architecture: ")))
        .map(|a| a.trim().to_owned())
        .unwrap_or_else(|| {
            match std::env::consts::ARCH {
                "x86_64" => "amd64",
                "aarch64" => "arm64",
                other => other,
            }
            .to_owned()
        })
}

fn write_file(path: &Path, bytes: &[u8]) -> Result<(), ExportError> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut temp = tempfile::Builder::new()
        .prefix(".bale-")
        .tempfile_in(dir)
        .map_err(|e| ExportError::io(dir, e))?;
    std::io::Write::write_all(&mut temp, bytes)
        .and_then(|()| {
            use std::os::unix::fs::PermissionsExt;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(0o644))
        })
        .map_err(|e| ExportError::io(path, e))?;
    temp.persist(path)
        .map_err(|e| ExportError::io(path, e.error))?;
    Ok(())
}
