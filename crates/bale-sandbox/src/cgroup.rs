//! Memory, process and CPU limits through cgroups, v2 or v1, where delegated.
//!
//! A run that asks for limits gets its own child cgroup under the cgroup
//! bale itself runs in. The sandbox's first process joins it before it
//! forks anything (it writes `0` to `cgroup.procs` between fork and exec),
//! so no descendant can escape. With cgroup v2 the controllers must already
//! be enabled in our cgroup's `cgroup.subtree_control` (or enabling them must
//! be allowed); with v1 the `pids` / `memory` hierarchies must be writable.

use std::fs;
use std::os::fd::OwnedFd;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::spec::Limits;
use crate::LimitHit;

/// Where child cgroups can be made, found once per [`crate::Sandbox`].
#[derive(Debug, Clone)]
pub(crate) enum CgroupRoot {
    /// A unified (v2) cgroup directory with the controllers it can delegate.
    V2 {
        dir: PathBuf,
        controllers: Vec<String>,
    },
    /// v1 hierarchies, one directory per controller.
    V1 {
        pids: Option<PathBuf>,
        memory: Option<PathBuf>,
        cpu: Option<PathBuf>,
    },
}

/// One run's cgroup(s), removed on drop.
#[derive(Debug)]
pub(crate) struct RunCgroup {
    dirs: Vec<PathBuf>,
    pids_dir: Option<PathBuf>,
    memory_dir: Option<PathBuf>,
    v2: bool,
}

static NEXT: AtomicU64 = AtomicU64::new(0);

struct Mount {
    root: String,
    point: PathBuf,
    fstype: String,
    options: String,
}

fn mounts() -> Vec<Mount> {
    let text = fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let mut out = Vec::new();
    for line in text.lines() {
        let Some((pre, post)) = line.split_once(" - ") else {
            continue;
        };
        let pre: Vec<&str> = pre.split(' ').collect();
        let post: Vec<&str> = post.split(' ').collect();
        if pre.len() < 5 || post.len() < 3 {
            continue;
        }
        out.push(Mount {
            root: unescape(pre[3]),
            point: PathBuf::from(unescape(pre[4])),
            fstype: post[0].to_string(),
            options: post[2].to_string(),
        });
    }
    out
}

// mountinfo writes spaces and a few other bytes as octal escapes.
fn unescape(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' && i + 3 < b.len() {
            let digits = &b[i + 1..i + 4];
            if let Some(v) = std::str::from_utf8(digits)
                .ok()
                .and_then(|d| u8::from_str_radix(d, 8).ok())
            {
                out.push(v);
                i += 4;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn own_cgroups() -> Vec<(String, String)> {
    let text = fs::read_to_string("/proc/self/cgroup").unwrap_or_default();
    text.lines()
        .filter_map(|l| {
            let mut it = l.splitn(3, ':');
            let _id = it.next()?;
            let controllers = it.next()?.to_string();
            let path = it.next()?.to_string();
            Some((controllers, path))
        })
        .collect()
}

fn join_cgroup(mount: &Mount, path: &str) -> PathBuf {
    let rel = path
        .strip_prefix(mount.root.trim_end_matches('/'))
        .unwrap_or(path);
    mount.point.join(rel.trim_start_matches('/'))
}

fn writable_dir(dir: &Path) -> bool {
    rustix::fs::access(dir, rustix::fs::Access::WRITE_OK).is_ok()
}

impl CgroupRoot {
    /// Finds where this process may create limited child cgroups, or says why not.
    pub(crate) fn probe() -> Result<CgroupRoot, String> {
        let mounts = mounts();
        let own = own_cgroups();
        let mut reasons = Vec::new();
        if let (Some(m), Some((_, path))) = (
            mounts.iter().find(|m| m.fstype == "cgroup2"),
            own.iter().find(|(c, _)| c.is_empty()),
        ) {
            let dir = join_cgroup(m, path);
            let available = fs::read_to_string(dir.join("cgroup.controllers")).unwrap_or_default();
            let controllers: Vec<String> = available
                .split_whitespace()
                .filter(|c| *c == "pids" || *c == "memory" || *c == "cpu")
                .map(str::to_string)
                .collect();
            if controllers.is_empty() {
                reasons.push(format!(
                    "cgroup v2 at {} offers no pids, memory or cpu controller",
                    dir.display()
                ));
            } else if !writable_dir(&dir) {
                reasons.push(format!(
                    "cgroup v2 directory {} is not writable (not delegated to this user)",
                    dir.display()
                ));
            } else {
                return Ok(CgroupRoot::V2 { dir, controllers });
            }
        }
        let v1 = |name: &str| -> Option<PathBuf> {
            let m = mounts
                .iter()
                .find(|m| m.fstype == "cgroup" && m.options.split(',').any(|o| o == name))?;
            let (_, path) = own.iter().find(|(c, _)| c.split(',').any(|c| c == name))?;
            let dir = join_cgroup(m, path);
            writable_dir(&dir).then_some(dir)
        };
        let (pids, memory, cpu) = (v1("pids"), v1("memory"), v1("cpu"));
        if pids.is_some() || memory.is_some() || cpu.is_some() {
            return Ok(CgroupRoot::V1 { pids, memory, cpu });
        }
        reasons.push("no writable cgroup v1 pids, memory or cpu hierarchy".to_string());
        Err(reasons.join("; "))
    }

    /// Creates a cgroup for one run with `limits` applied.
    pub(crate) fn create(&self, limits: &Limits) -> Result<RunCgroup, String> {
        let name = format!(
            "bale-{}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        match self {
            CgroupRoot::V2 { dir, controllers } => {
                for (wanted, c) in [
                    (limits.pids.is_some(), "pids"),
                    (limits.memory_bytes.is_some(), "memory"),
                    (limits.cpu_millis.is_some(), "cpu"),
                ] {
                    if wanted && !controllers.iter().any(|x| x == c) {
                        return Err(format!(
                            "the {c} controller is not available in {}",
                            dir.display()
                        ));
                    }
                }
                let enabled =
                    fs::read_to_string(dir.join("cgroup.subtree_control")).unwrap_or_default();
                let wanted = [
                    (limits.pids.is_some(), "pids"),
                    (limits.memory_bytes.is_some(), "memory"),
                    (limits.cpu_millis.is_some(), "cpu"),
                ];
                // Only what this run needs: a controller that cannot be
                // enabled here must not cost the runs that do not use it.
                for c in wanted.iter().filter(|(w, _)| *w).map(|(_, c)| *c) {
                    if !enabled.split_whitespace().any(|e| e == c) {
                        fs::write(dir.join("cgroup.subtree_control"), format!("+{c}")).map_err(|e| {
                            format!(
                                "cannot enable the {c} controller below {} ({e}); a cgroup holding processes cannot delegate controllers, run bale in a leaf cgroup of its own",
                                dir.display()
                            )
                        })?;
                    }
                }
                let child = dir.join(&name);
                fs::create_dir(&child)
                    .map_err(|e| format!("cannot create cgroup {}: {e}", child.display()))?;
                let run = RunCgroup {
                    dirs: vec![child.clone()],
                    pids_dir: Some(child.clone()),
                    memory_dir: Some(child.clone()),
                    v2: true,
                };
                if let Some(p) = limits.pids {
                    write_limit(&child.join("pids.max"), p)?;
                }
                if let Some(m) = limits.memory_bytes {
                    write_limit(&child.join("memory.max"), m)?;
                    // Swap would let the tree exceed the limit silently.
                    let _ = fs::write(child.join("memory.swap.max"), "0");
                }
                if let Some(millis) = limits.cpu_millis {
                    let quota = millis.saturating_mul(CPU_PERIOD_US / 1000);
                    let file = child.join("cpu.max");
                    fs::write(&file, format!("{quota} {CPU_PERIOD_US}"))
                        .map_err(|e| format!("cannot set {}: {e}", file.display()))?;
                }
                Ok(run)
            }
            CgroupRoot::V1 { pids, memory, cpu } => {
                let mut run = RunCgroup {
                    dirs: Vec::new(),
                    pids_dir: None,
                    memory_dir: None,
                    v2: false,
                };
                if let Some(p) = limits.pids {
                    let parent = pids
                        .as_ref()
                        .ok_or("no writable cgroup v1 pids hierarchy")?;
                    let dir = parent.join(&name);
                    fs::create_dir(&dir)
                        .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
                    run.dirs.push(dir.clone());
                    write_limit(&dir.join("pids.max"), p)?;
                    run.pids_dir = Some(dir);
                }
                if let Some(m) = limits.memory_bytes {
                    let parent = memory
                        .as_ref()
                        .ok_or("no writable cgroup v1 memory hierarchy")?;
                    let dir = parent.join(&name);
                    fs::create_dir(&dir)
                        .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
                    run.dirs.push(dir.clone());
                    write_limit(&dir.join("memory.limit_in_bytes"), m)?;
                    // Only present with swap accounting; the limit above is what counts.
                    let _ = fs::write(dir.join("memory.memsw.limit_in_bytes"), m.to_string());
                    run.memory_dir = Some(dir);
                }
                if let Some(millis) = limits.cpu_millis {
                    let parent = cpu.as_ref().ok_or("no writable cgroup v1 cpu hierarchy")?;
                    let dir = parent.join(&name);
                    fs::create_dir(&dir)
                        .map_err(|e| format!("cannot create cgroup {}: {e}", dir.display()))?;
                    run.dirs.push(dir.clone());
                    write_limit(&dir.join("cpu.cfs_period_us"), CPU_PERIOD_US)?;
                    write_limit(
                        &dir.join("cpu.cfs_quota_us"),
                        millis.saturating_mul(CPU_PERIOD_US / 1000),
                    )?;
                }
                Ok(run)
            }
        }
    }
}

/// The CFS period CPU quotas are measured in, in microseconds (the kernel's default).
const CPU_PERIOD_US: u64 = 100_000;

fn write_limit(file: &Path, value: u64) -> Result<(), String> {
    fs::write(file, value.to_string())
        .map_err(|e| format!("cannot set {}: {e}", file.display()))?;
    let back = fs::read_to_string(file).unwrap_or_default();
    if back.trim() != value.to_string()
        && !(value > 0 && back.trim().parse::<u64>().is_ok_and(|b| b <= value))
    {
        return Err(format!(
            "{} did not take the limit {value} (reads {})",
            file.display(),
            back.trim()
        ));
    }
    Ok(())
}

fn count(file: &Path, key: &str) -> u64 {
    fs::read_to_string(file)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| l.split_once(' '))
        .find(|(k, _)| *k == key)
        .and_then(|(_, v)| v.trim().parse().ok())
        .unwrap_or(0)
}

impl RunCgroup {
    /// Files the sandbox's first process writes `0` to, joining the cgroup.
    pub(crate) fn procs_files(&self) -> Result<Vec<OwnedFd>, String> {
        self.dirs
            .iter()
            .map(|d| {
                let f = d.join("cgroup.procs");
                rustix::fs::open(
                    &f,
                    rustix::fs::OFlags::WRONLY | rustix::fs::OFlags::CLOEXEC,
                    rustix::fs::Mode::empty(),
                )
                .map_err(|e| format!("cannot open {}: {e}", f.display()))
            })
            .collect()
    }

    /// Which limit the run ran into, if any.
    pub(crate) fn hit(&self) -> Option<LimitHit> {
        if let Some(d) = &self.memory_dir {
            let oom = if self.v2 {
                count(&d.join("memory.events"), "oom_kill")
            } else {
                count(&d.join("memory.oom_control"), "oom_kill")
            };
            if oom > 0 {
                return Some(LimitHit::Memory);
            }
        }
        if let Some(d) = &self.pids_dir {
            if count(&d.join("pids.events"), "max") > 0 {
                return Some(LimitHit::Pids);
            }
        }
        None
    }

    /// Kills whatever is left in the cgroup.
    pub(crate) fn kill_all(&self) {
        for d in &self.dirs {
            if self.v2 && fs::write(d.join("cgroup.kill"), "1").is_ok() {
                continue;
            }
            let procs = fs::read_to_string(d.join("cgroup.procs")).unwrap_or_default();
            for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
                if let Some(pid) = rustix::process::Pid::from_raw(pid) {
                    let _ = rustix::process::kill_process(pid, rustix::process::Signal::KILL);
                }
            }
        }
    }
}

impl Drop for RunCgroup {
    fn drop(&mut self) {
        self.kill_all();
        let deadline = Instant::now() + Duration::from_secs(5);
        for d in &self.dirs {
            // Dying processes leave the cgroup a moment after the kill.
            while fs::remove_dir(d).is_err() && d.exists() && Instant::now() < deadline {
                std::thread::sleep(Duration::from_millis(5));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape("/a\\040b"), "/a b");
        assert_eq!(unescape("/plain"), "/plain");
    }

    #[test]
    fn cgroup_paths_are_joined_below_the_mount_root() {
        let m = Mount {
            root: "/".into(),
            point: "/sys/fs/cgroup/pids".into(),
            fstype: "cgroup".into(),
            options: "rw,pids".into(),
        };
        assert_eq!(
            join_cgroup(&m, "/a/b"),
            PathBuf::from("/sys/fs/cgroup/pids/a/b")
        );
        let m = Mount {
            root: "/ns".into(),
            point: "/sys/fs/cgroup".into(),
            fstype: "cgroup2".into(),
            options: "rw".into(),
        };
        assert_eq!(join_cgroup(&m, "/ns/x"), PathBuf::from("/sys/fs/cgroup/x"));
    }
}
