//! Starting, watching and ending one sandboxed run.

use std::ffi::{CStr, CString, OsString};
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, BorrowedFd, OwnedFd, RawFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use rustix::event::{poll, PollFd, PollFlags, Timespec};
use rustix::process::{pidfd_open, pidfd_send_signal, Pid, PidfdFlags, Signal};

use crate::cgroup::{CgroupRoot, RunCgroup};
use crate::host::{ca_env, host_ca_bundle, host_proxies};
use crate::root::{host_read_only_args, RootMode, Scratch};
use crate::spec::{SandboxSpec, Upper, DEFAULT_PATH};
use crate::{LimitHit, Outcome, SandboxError};

/// This machine's way of running sandboxes, probed once and reused.
#[derive(Debug, Clone)]
pub struct Sandbox {
    bwrap: PathBuf,
    privileged: bool,
    uid: u32,
    gid: u32,
    cgroups: Result<CgroupRoot, String>,
    /// As root: an empty private directory every run mounts its own tmpfs
    /// on, inside its own mount namespace, to hold a discarded upper layer.
    memory_scratch: Option<Arc<tempfile::TempDir>>,
}

/// A run's writable layer on a tmpfs of its own: mounted, filled and gone
/// with the run's mount namespace, so a short run makes and removes nothing
/// on the host's disk (whose metadata writes cost milliseconds each).
struct MemoryScratch {
    mount_point: CString,
    upper: CString,
    work: CString,
}

/// What the sandbox's first process does between fork and exec.
struct ChildSetup {
    cgroup_procs: Vec<OwnedFd>,
    id_maps: Option<(Vec<u8>, Vec<u8>)>,
    memory_scratch: Option<MemoryScratch>,
    overlay: Option<(CString, CString)>,
    umask: Option<rustix::fs::Mode>,
    run_as: Option<crate::spec::RunAs>,
    info_write: OwnedFd,
}

impl ChildSetup {
    // Runs in the forked child of a possibly multi-threaded process: only
    // system calls on data prepared before the fork, no allocation.
    fn apply(&self) -> std::io::Result<()> {
        // Each step leaves its number on the info pipe, so a failure can be named.
        rustix::io::write(&self.info_write, &[STEP_CGROUP])?;
        for fd in &self.cgroup_procs {
            rustix::io::write(fd, b"0")?;
        }
        if let Some((uid_map, gid_map)) = &self.id_maps {
            rustix::io::write(&self.info_write, &[STEP_USERNS])?;
            // SAFETY: the child is single-threaded; no file table is unshared.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWUSER)? };
            write_proc(c"/proc/self/setgroups", b"deny")?;
            write_proc(c"/proc/self/uid_map", uid_map)?;
            write_proc(c"/proc/self/gid_map", gid_map)?;
        }
        if let Some((target, options)) = &self.overlay {
            rustix::io::write(&self.info_write, &[STEP_OVERLAY])?;
            // SAFETY: as above.
            unsafe { rustix::thread::unshare_unsafe(rustix::thread::UnshareFlags::NEWNS)? };
            // The overlay must never show up in the host's mount table.
            rustix::mount::mount_change(
                c"/",
                rustix::mount::MountPropagationFlags::PRIVATE
                    | rustix::mount::MountPropagationFlags::REC,
            )?;
            if let Some(m) = &self.memory_scratch {
                rustix::mount::mount(
                    c"tmpfs",
                    m.mount_point.as_c_str(),
                    c"tmpfs",
                    rustix::mount::MountFlags::NOSUID | rustix::mount::MountFlags::NODEV,
                    Some(c"mode=0755"),
                )?;
                let mode = rustix::fs::Mode::from_raw_mode(0o755);
                rustix::fs::mkdir(m.upper.as_c_str(), mode)?;
                rustix::fs::mkdir(m.work.as_c_str(), mode)?;
                rustix::fs::mkdir(target.as_c_str(), mode)?;
            }
            rustix::mount::mount(
                c"overlay",
                target.as_c_str(),
                c"overlay",
                rustix::mount::MountFlags::empty(),
                Some(options.as_c_str()),
            )?;
        }
        if let Some(mask) = self.umask {
            // bwrap and everything it starts inherit it.
            rustix::process::umask(mask);
        }
        if let Some(user) = self.run_as {
            // The root and its overlay are mounted; from here on nothing needs
            // root, and bwrap (not setuid) makes its own user namespace.
            rustix::io::write(&self.info_write, &[STEP_USER])?;
            drop_to(user)?;
        }
        rustix::io::write(&self.info_write, &[STEP_EXEC])?;
        rustix::io::fcntl_setfd(&self.info_write, rustix::io::FdFlags::empty())?;
        Ok(())
    }
}

const STEP_CGROUP: u8 = 1;
const STEP_USERNS: u8 = 2;
const STEP_OVERLAY: u8 = 3;
const STEP_EXEC: u8 = 4;
const STEP_USER: u8 = 5;

/// Gives up root for good: no supplementary groups, then the group, then the user.
fn drop_to(user: crate::spec::RunAs) -> std::io::Result<()> {
    let uid = rustix::process::Uid::from_raw(user.uid);
    let gid = rustix::process::Gid::from_raw(user.gid);
    rustix::thread::set_thread_groups(&[])?;
    rustix::thread::set_thread_gid(gid)?;
    rustix::thread::set_thread_uid(uid)?;
    Ok(())
}

/// What the child was doing when it failed, from the last step byte it wrote.
fn failed_step(info_read: OwnedFd) -> &'static str {
    let mut bytes = Vec::new();
    let _ = std::fs::File::from(info_read).read_to_end(&mut bytes);
    match bytes.last() {
        Some(&STEP_CGROUP) => "joining the run's cgroup",
        Some(&STEP_USERNS) => "entering a user namespace",
        Some(&STEP_OVERLAY) => "mounting the overlay root",
        Some(&STEP_EXEC) => "starting bwrap",
        Some(&STEP_USER) => "switching to the run's user",
        _ => "starting the sandbox",
    }
}

fn write_proc(path: &CStr, data: &[u8]) -> std::io::Result<()> {
    let fd = rustix::fs::open(
        path,
        rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
        rustix::fs::Mode::empty(),
    )?;
    rustix::io::write(&fd, data)?;
    Ok(())
}

fn find_in_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_else(|| DEFAULT_PATH.into());
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

impl Sandbox {
    /// Finds bubblewrap and what this machine allows (privileges, cgroups).
    pub fn new() -> Result<Sandbox, SandboxError> {
        let bwrap = find_in_path("bwrap").ok_or(SandboxError::BwrapMissing)?;
        let uid = rustix::process::geteuid().as_raw();
        let gid = rustix::process::getegid().as_raw();
        let privileged = uid == 0;
        // Without it runs fall back to a scratch directory on disk.
        let memory_scratch = privileged
            .then(|| {
                tempfile::Builder::new()
                    .prefix("bale-sandbox-")
                    .tempdir()
                    .ok()
            })
            .flatten()
            .map(Arc::new);
        Ok(Sandbox {
            bwrap,
            privileged,
            uid,
            gid,
            cgroups: CgroupRoot::probe(),
            memory_scratch,
        })
    }

    /// The user a run switches to: only a root sandbox can, and needs to.
    fn run_as(&self, spec: &SandboxSpec) -> Option<crate::spec::RunAs> {
        spec.run_as.filter(|user| self.privileged && user.uid != 0)
    }

    /// Whether runs mount their overlay as root rather than in a user namespace.
    pub fn privileged(&self) -> bool {
        self.privileged
    }

    /// Whether memory and process limits can be enforced here; the error says why not.
    pub fn limits_available(&self) -> Result<(), SandboxError> {
        self.cgroups
            .as_ref()
            .map(|_| ())
            .map_err(|reason| SandboxError::LimitsUnavailable {
                reason: reason.clone(),
            })
    }

    fn root_mode(&self, spec: &SandboxSpec) -> RootMode {
        if spec.is_host_root() && !self.privileged {
            RootMode::HostReadOnly
        } else {
            RootMode::Overlay {
                userns: !self.privileged,
            }
        }
    }

    /// Runs `spec.command` in a fresh sandbox, streaming its output to the
    /// sinks, and waits for it (or for the timeout).
    pub fn run(
        &self,
        spec: &SandboxSpec,
        stdout: &mut (dyn Write + Send),
        stderr: &mut (dyn Write + Send),
    ) -> Result<Outcome, SandboxError> {
        validate(spec)?;
        let mode = self.root_mode(spec);
        if mode == RootMode::HostReadOnly && spec.upper != Upper::Discard {
            return Err(SandboxError::UpperUnavailable);
        }
        let cgroup = self.run_cgroup(spec)?;
        let ca_bundle = if spec.network { host_ca_bundle() } else { None };
        let root = self.plan_root(spec, mode, ca_bundle.is_some())?;
        let (info_read, info_write) = rustix::pipe::pipe_with(rustix::pipe::PipeFlags::CLOEXEC)
            .map_err(|e| SandboxError::Spawn {
                step: "making a pipe",
                source: e.into(),
            })?;
        let mut root_args = root.args;
        if self.run_as(spec).is_some() {
            // bwrap starts as the run's user and needs a namespace of its own.
            root_args.insert(0, "--unshare-user".into());
        }
        let args = bwrap_args(
            spec,
            root_args,
            ca_bundle.as_deref(),
            info_write.as_raw_fd(),
        );
        let setup = ChildSetup {
            cgroup_procs: match &cgroup {
                Some(c) => c
                    .procs_files()
                    .map_err(|reason| SandboxError::LimitsUnavailable { reason })?,
                None => Vec::new(),
            },
            id_maps: (mode == RootMode::Overlay { userns: true }).then(|| {
                (
                    format!("0 {} 1", self.uid).into_bytes(),
                    format!("0 {} 1", self.gid).into_bytes(),
                )
            }),
            memory_scratch: root.memory_scratch,
            overlay: root.overlay,
            umask: spec
                .umask
                .map(|m| rustix::fs::Mode::from_raw_mode(m & 0o777)),
            run_as: self.run_as(spec),
            info_write,
        };
        let env = sandbox_env(spec, ca_bundle.is_some());
        let (child, info_read) = self.spawn_bwrap(&args, env, setup, info_read)?;
        let (status, timed_out) =
            wait_streaming(child, info_read, spec, cgroup.as_ref(), stdout, stderr)?;

        let code = status
            .code()
            .unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
        let limit_hit: Option<LimitHit> = cgroup.as_ref().and_then(RunCgroup::hit);
        drop(cgroup);
        drop(root.scratch);
        Ok(Outcome {
            status: code,
            timed_out,
            limit_hit,
        })
    }

    /// A cgroup of the run's own when the spec asks for limits; an error
    /// when this machine cannot enforce them.
    fn run_cgroup(&self, spec: &SandboxSpec) -> Result<Option<RunCgroup>, SandboxError> {
        if !spec.limits.any() {
            return Ok(None);
        }
        let root = self
            .cgroups
            .as_ref()
            .map_err(|r| SandboxError::LimitsUnavailable { reason: r.clone() })?;
        root.create(&spec.limits)
            .map(Some)
            .map_err(|reason| SandboxError::LimitsUnavailable { reason })
    }

    /// Where the run's root comes from: the overlay to mount between fork
    /// and exec (on a tmpfs of its own or over scratch directories), or the
    /// host's root bound read-only; and the bwrap arguments that make it `/`.
    fn plan_root(
        &self,
        spec: &SandboxSpec,
        mode: RootMode,
        with_ca: bool,
    ) -> Result<RootPlan, SandboxError> {
        // A discarded upper of a privileged run lives in memory, unless the
        // spec names where it goes.
        let in_memory = match (&self.memory_scratch, mode) {
            (Some(dir), RootMode::Overlay { userns: false })
                if spec.upper == Upper::Discard && spec.scratch.is_none() =>
            {
                Some(dir.path().to_path_buf())
            }
            _ => None,
        };
        let scratch = match mode {
            RootMode::Overlay { .. } if in_memory.is_none() => Some(Scratch::create(spec)?),
            _ => None,
        };
        let mut args: Vec<OsString> = Vec::new();
        let mut memory_scratch = None;
        let overlay = match (&scratch, mode, &in_memory) {
            (None, RootMode::Overlay { .. }, Some(dir)) => {
                // bwrap, as root over a writable root, makes the binds' mount points itself.
                let (upper, work, merged) =
                    (dir.join("upper"), dir.join("work"), dir.join("merged"));
                let options =
                    crate::root::overlay_options(&spec.lower_layers, &upper, &work, false, true)?;
                args.extend(["--bind".into(), merged.clone().into(), "/".into()]);
                memory_scratch = Some(MemoryScratch {
                    mount_point: c_path(dir)?,
                    upper: c_path(&upper)?,
                    work: c_path(&work)?,
                });
                Some((c_path(&merged)?, options))
            }
            (Some(s), RootMode::Overlay { userns }, _) => {
                for b in &spec.binds {
                    s.prepare_mount_point(&spec.lower_layers, &b.dst, b.src.is_dir())?;
                }
                if with_ca {
                    s.prepare_mount_point(&spec.lower_layers, &spec.ca_bundle_path, false)?;
                }
                args.extend(["--bind".into(), s.merged.clone().into(), "/".into()]);
                Some((
                    c_path(&s.merged)?,
                    s.overlay_options(&spec.lower_layers, userns)?,
                ))
            }
            _ => {
                args.extend(["--unshare-user", "--uid", "0", "--gid", "0"].map(OsString::from));
                args.extend(host_read_only_args()?);
                args.extend(["--tmpfs", "/run"].map(OsString::from));
                None
            }
        };
        Ok(RootPlan {
            scratch,
            memory_scratch,
            overlay,
            args,
        })
    }

    /// Starts bwrap with `args`, the child running `setup` between fork and
    /// exec; hands back the info pipe's read end for the namespace's PID.
    fn spawn_bwrap(
        &self,
        args: &[OsString],
        env: Vec<(String, String)>,
        setup: ChildSetup,
        info_read: OwnedFd,
    ) -> Result<(Child, OwnedFd), SandboxError> {
        let mut cmd = Command::new(&self.bwrap);
        cmd.args(args)
            .env_clear()
            .envs(env)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // SAFETY: `apply` makes only system calls on memory prepared before the fork.
        unsafe { cmd.pre_exec(move || setup.apply()) };
        let spawned = cmd.spawn();
        // Drops our copy of the info pipe's write end, so EOF means bwrap is done with it.
        drop(cmd);
        match spawned {
            Ok(child) => Ok((child, info_read)),
            Err(source) => Err(SandboxError::Spawn {
                step: failed_step(info_read),
                source,
            }),
        }
    }
}

/// The root of one run, as [`Sandbox::plan_root`] decided it.
struct RootPlan {
    /// The run's directories on disk, removed when dropped after the run.
    scratch: Option<Scratch>,
    /// The tmpfs upper layer of a privileged run, mounted by the child.
    memory_scratch: Option<MemoryScratch>,
    /// The overlay's mount point and options, mounted by the child.
    overlay: Option<(CString, CString)>,
    /// The bwrap arguments that make the root `/`.
    args: Vec<OsString>,
}

/// bwrap's command line after the root's arguments: kernel file systems,
/// hidden paths, binds, the CA bundle, namespaces, and the command. Paths
/// pass as they are, never through a lossy string.
fn bwrap_args(
    spec: &SandboxSpec,
    root_args: Vec<OsString>,
    ca_bundle: Option<&Path>,
    info_fd: RawFd,
) -> Vec<OsString> {
    let mut args = root_args;
    args.extend(["--proc", "/proc", "--dev", "/dev", "--tmpfs", "/tmp"].map(OsString::from));
    for h in &spec.hide {
        if crate::host::exists_in_layers(&spec.lower_layers, h) {
            args.extend(["--tmpfs".into(), h.into()]);
        }
    }
    for b in &spec.binds {
        let flag = if b.writable { "--bind" } else { "--ro-bind" };
        args.extend([flag.into(), b.src.clone().into(), b.dst.clone().into()]);
    }
    if let Some(bundle) = ca_bundle {
        args.extend([
            "--ro-bind".into(),
            bundle.into(),
            spec.ca_bundle_path.clone().into(),
        ]);
    }
    args.extend(["--unshare-pid", "--unshare-ipc", "--unshare-uts"].map(OsString::from));
    if !spec.network {
        args.push("--unshare-net".into());
    }
    args.extend(["--hostname".into(), spec.hostname.clone().into()]);
    args.extend(["--die-with-parent", "--new-session"].map(OsString::from));
    args.extend(["--chdir".into(), spec.workdir.clone().into()]);
    args.extend(["--info-fd".into(), info_fd.to_string().into(), "--".into()]);
    args.extend(spec.command.iter().map(OsString::from));
    args
}

/// Streams the child's output to the sinks while waiting for it to end or
/// for the spec's timeout (then the whole tree is killed); returns its
/// status and whether it timed out. No process of the run is left after.
fn wait_streaming(
    mut child: Child,
    info_read: OwnedFd,
    spec: &SandboxSpec,
    cgroup: Option<&RunCgroup>,
    stdout: &mut (dyn Write + Send),
    stderr: &mut (dyn Write + Send),
) -> Result<(ExitStatus, bool), SandboxError> {
    let outer =
        Pid::from_raw(child.id() as i32).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok());
    let inner = read_child_pid(info_read).and_then(|p| pidfd_open(p, PidfdFlags::empty()).ok());
    let (mut out_pipe, mut err_pipe) = (child.stdout.take(), child.stderr.take());
    std::thread::scope(|scope| {
        let out_thread = scope.spawn(move || copy_all(out_pipe.as_mut(), stdout));
        let err_thread = scope.spawn(move || copy_all(err_pipe.as_mut(), stderr));
        let deadline = spec.timeout.map(|t| Instant::now() + t);
        let timed_out = wait_or_kill(&mut child, outer.as_ref(), inner.as_ref(), deadline, cgroup)?;
        let status = child
            .wait()
            .map_err(|source| SandboxError::Wait { source })?;
        // The namespace's first process exits only after every other one is gone.
        if let Some(inner) = &inner {
            wait_readable(
                inner.as_fd(),
                Some(Instant::now() + Duration::from_secs(10)),
            );
        }
        if let Some(c) = cgroup {
            c.kill_all();
        }
        out_thread.join().map_err(|_| SandboxError::Output {
            source: std::io::Error::other("output reader panicked"),
        })??;
        err_thread.join().map_err(|_| SandboxError::Output {
            source: std::io::Error::other("output reader panicked"),
        })??;
        Ok((status, timed_out))
    })
}

/// Waits for bwrap to end, or until the deadline passes and then kills the
/// tree; returns whether it timed out.
fn wait_or_kill(
    child: &mut Child,
    outer: Option<&OwnedFd>,
    inner: Option<&OwnedFd>,
    deadline: Option<Instant>,
    cgroup: Option<&RunCgroup>,
) -> Result<bool, SandboxError> {
    if let Some(outer) = outer {
        if !wait_readable(outer.as_fd(), deadline) {
            kill_tree(inner, Some(outer), cgroup);
            return Ok(true);
        }
        return Ok(false);
    }
    let Some(deadline) = deadline else {
        return Ok(false);
    };
    // No pidfd (an old kernel): poll the child instead.
    loop {
        if child
            .try_wait()
            .map_err(|source| SandboxError::Wait { source })?
            .is_some()
        {
            return Ok(false);
        }
        if Instant::now() >= deadline {
            let _ = child.kill();
            return Ok(true);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn c_path(p: &Path) -> Result<CString, SandboxError> {
    CString::new(p.as_os_str().as_encoded_bytes()).map_err(|_| SandboxError::BadPath {
        path: p.to_path_buf(),
        reason: "contains a NUL byte",
    })
}

fn validate(spec: &SandboxSpec) -> Result<(), SandboxError> {
    if spec.command.is_empty() {
        return Err(SandboxError::EmptyCommand);
    }
    if spec.lower_layers.is_empty() {
        return Err(SandboxError::NoLayers);
    }
    for l in &spec.lower_layers {
        if !l.is_absolute() || !l.is_dir() {
            return Err(SandboxError::LayerMissing { path: l.clone() });
        }
    }
    // The kernel refuses overlapping layers (ELOOP); say so in words.
    for (i, a) in spec.lower_layers.iter().enumerate() {
        for b in &spec.lower_layers[i + 1..] {
            if a.starts_with(b) || b.starts_with(a) {
                return Err(SandboxError::BadPath {
                    path: a.clone(),
                    reason: "overlay layers may not lie inside one another (the host stack `/` takes no further layers)",
                });
            }
        }
    }
    for b in &spec.binds {
        if !b.dst.is_absolute() {
            return Err(SandboxError::BadPath {
                path: b.dst.clone(),
                reason: "a sandbox path must be absolute",
            });
        }
        if b.src.symlink_metadata().is_err() {
            return Err(SandboxError::BindMissing {
                path: b.src.clone(),
            });
        }
    }
    for p in spec
        .hide
        .iter()
        .chain([&spec.workdir, &spec.ca_bundle_path])
    {
        if !p.is_absolute() {
            return Err(SandboxError::BadPath {
                path: p.clone(),
                reason: "a sandbox path must be absolute",
            });
        }
    }
    Ok(())
}

fn sandbox_env(spec: &SandboxSpec, with_ca: bool) -> Vec<(String, String)> {
    let mut env: Vec<(String, String)> = vec![
        ("PATH".into(), DEFAULT_PATH.into()),
        ("HOME".into(), "/root".into()),
        ("LANG".into(), "C.UTF-8".into()),
    ];
    if spec.network {
        if with_ca {
            env.extend(ca_env(&spec.ca_bundle_path));
        }
        env.extend(host_proxies());
    }
    for (k, v) in &spec.env {
        env.retain(|(e, _)| e != k);
        env.push((k.clone(), v.clone()));
    }
    env
}

/// Reads `{"child-pid": N, ...}` from bwrap's info pipe.
fn read_child_pid(fd: OwnedFd) -> Option<Pid> {
    let mut file = std::fs::File::from(fd);
    let mut text = Vec::new();
    let mut buf = [0u8; 512];
    while !text.contains(&b'}') {
        match file.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => text.extend_from_slice(&buf[..n]),
        }
    }
    let text = String::from_utf8_lossy(&text);
    let rest = &text[text.find("\"child-pid\"")? + "\"child-pid\"".len()..];
    let digits: String = rest
        .trim_start_matches([':', ' '])
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
    Pid::from_raw(digits.parse().ok()?)
}

/// Waits until `fd` is readable (a pidfd: the process ended) or the deadline passes.
fn wait_readable(fd: BorrowedFd<'_>, deadline: Option<Instant>) -> bool {
    loop {
        let timeout = match deadline {
            Some(d) => {
                let left = d.saturating_duration_since(Instant::now());
                if left.is_zero() {
                    return false;
                }
                Some(Timespec {
                    tv_sec: left.as_secs() as i64,
                    tv_nsec: left.subsec_nanos() as i64,
                })
            }
            None => None,
        };
        let mut fds = [PollFd::new(&fd, PollFlags::IN)];
        match poll(&mut fds, timeout.as_ref()) {
            Ok(n) if n > 0 => return true,
            Ok(_) => continue,
            Err(rustix::io::Errno::INTR) => continue,
            Err(_) => return true,
        }
    }
}

/// Kills the whole tree: the PID namespace's first process (the kernel then
/// kills every process in it), bwrap itself, and the cgroup's members.
fn kill_tree(inner: Option<&OwnedFd>, outer: Option<&OwnedFd>, cgroup: Option<&RunCgroup>) {
    if let Some(fd) = inner {
        let _ = pidfd_send_signal(fd, Signal::KILL);
    }
    if let Some(fd) = outer {
        let _ = pidfd_send_signal(fd, Signal::KILL);
    }
    if let Some(c) = cgroup {
        c.kill_all();
    }
}

fn copy_all(from: Option<&mut impl Read>, to: &mut (dyn Write + Send)) -> Result<(), SandboxError> {
    let Some(from) = from else { return Ok(()) };
    let mut buf = [0u8; 16 * 1024];
    // After a failed write keep draining, so the sandbox never blocks on a full pipe.
    let mut failed: Option<std::io::Error> = None;
    loop {
        match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) if failed.is_none() => {
                if let Err(e) = to.write_all(&buf[..n]) {
                    failed = Some(e);
                }
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(source) => return Err(SandboxError::Output { source }),
        }
    }
    match failed {
        Some(source) => Err(SandboxError::Output { source }),
        None => to.flush().map_err(|source| SandboxError::Output { source }),
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::ffi::OsStrExt;

    use super::*;
    use crate::spec::Bind;

    #[test]
    fn bwrap_gets_paths_that_are_not_utf8_byte_for_byte() {
        let src = PathBuf::from(std::ffi::OsStr::from_bytes(b"/srv/caf\xe9"));
        let mut spec = SandboxSpec::new(vec![PathBuf::from("/l")], vec!["true".into()]);
        spec.binds.push(Bind::read_only(&src, "/data"));
        let args = bwrap_args(&spec, Vec::new(), None, 3);
        let at = args.iter().position(|a| a == "--ro-bind").unwrap();
        assert_eq!(args[at + 1].as_bytes(), b"/srv/caf\xe9");
        assert_eq!(args[at + 2], "/data");
    }

    #[test]
    fn overlay_options_keep_paths_that_are_not_utf8() {
        let lower = PathBuf::from(std::ffi::OsStr::from_bytes(b"/layers/\xff"));
        let options = crate::root::overlay_options(
            &[lower, PathBuf::from("/stack")],
            Path::new("/u"),
            Path::new("/w"),
            false,
            true,
        )
        .unwrap();
        assert_eq!(
            options.as_bytes(),
            b"lowerdir=/layers/\xff:/stack,upperdir=/u,workdir=/w,volatile"
        );
    }
}
