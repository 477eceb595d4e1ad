//! The dashboard's data: builds and packages from the database, logs from
//! the object store, stacks from this machine's `$BALE_HOME`, apps from the
//! service's [`crate::Apps`].

use bale_dashboard::{
    AttestationLink, BuildPage, BuildRow, CheckView, DifferenceRow, FileRow, Overview, PackagePage,
    PackageRow, Source, SourceError, StackRow, StepRow,
};
use bale_db::build_log;
use bale_db::builds::{self, BuildFilter, BuildRecord, BuildStatus};
use bale_db::packages::{self, PackageRecord};

use bale_repo::paths::PackageFile;
use bale_stack::Stacks;

use super::Service;

/// How many finished builds and packages the front page lists.
const RECENT: i64 = 50;

fn failure(what: &str, e: impl std::fmt::Display) -> SourceError {
    SourceError(format!("cannot read {what}: {e}"))
}

fn row(b: &BuildRecord) -> BuildRow {
    BuildRow {
        id: b.id,
        coordinate: b.coordinate.clone(),
        source: match &b.git_ref {
            Some(r) => format!("{} @ {r}", b.source),
            None => b.source.clone(),
        },
        status: b.status.as_str().to_owned(),
        duration_ms: b.duration_ms().and_then(|ms| u64::try_from(ms).ok()),
        steps: b
            .steps
            .iter()
            .map(|s| StepRow {
                name: s.name.clone(),
                duration_ms: u64::try_from(s.duration_ms).unwrap_or(0),
                status: s.status.clone(),
            })
            .collect(),
        error: b.error.clone(),
    }
}

fn package_row(p: &PackageRecord) -> PackageRow {
    PackageRow {
        coordinate: p.coordinate.clone(),
        arch: p.arch.clone(),
        size: p.size,
        key_id: p.key_id.clone(),
    }
}

/// The files of a package's index.json, read loosely: a page shows what it can.
fn files_of(index_json: &str) -> Vec<FileRow> {
    let Ok(index) = serde_json::from_str::<serde_json::Value>(index_json) else {
        return Vec::new();
    };
    let text = |v: &serde_json::Value| v.as_str().map(str::to_owned);
    index["files"]
        .as_array()
        .map(|files| {
            files
                .iter()
                .map(|f| FileRow {
                    path: text(&f["path"]).unwrap_or_default(),
                    class: text(&f["class"])
                        .or_else(|| text(&f["type"]))
                        .unwrap_or_default(),
                    size: f["size"].as_u64().unwrap_or(0),
                    linkage: text(&f["elf"]["linkage"]),
                    needed: f["elf"]["needed"]
                        .as_array()
                        .map(|n| {
                            n.iter()
                                .filter_map(|s| s.as_str().map(str::to_owned))
                                .collect()
                        })
                        .unwrap_or_default(),
                })
                .collect()
        })
        .unwrap_or_default()
}

/// A build's reproducibility check as the page shows it.
fn check_view(b: &BuildRecord) -> Option<CheckView> {
    let record: bale_api::Reproducibility =
        serde_json::from_str(b.reproducibility.as_deref()?).ok()?;
    Some(CheckView {
        outcome: name_of(record.outcome),
        first_worker: record.first_worker,
        second_worker: record.second_worker,
        differences: record
            .differences
            .into_iter()
            .map(|d| DifferenceRow {
                path: d.path,
                change: name_of(d.change),
                facts: d.facts,
            })
            .collect(),
    })
}

/// The name the API gives an enum's value (`not-reproducible`).
fn name_of(value: impl serde::Serialize) -> String {
    serde_json::to_value(value)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .unwrap_or_default()
}

/// Builds with their steps (listings leave steps out; the bars need them), read in one query.
async fn with_steps(
    service: &Service,
    list: Vec<BuildRecord>,
) -> Result<Vec<BuildRow>, SourceError> {
    let ids: Vec<i64> = list.iter().map(|b| b.id).collect();
    let mut steps = builds::steps_of(service.db(), &ids)
        .await
        .map_err(|e| failure("build steps", e))?;
    Ok(list
        .into_iter()
        .map(|mut b| {
            b.steps = steps.remove(&b.id).unwrap_or_default();
            row(&b)
        })
        .collect())
}

impl Source for Service {
    async fn overview(&self) -> Result<Overview, SourceError> {
        let db = self.db();
        let mut queue = Vec::new();
        for status in [BuildStatus::Running, BuildStatus::Queued] {
            let filter = BuildFilter {
                status: Some(status),
                limit: Some(RECENT),
                ..Default::default()
            };
            queue.extend(
                builds::list(db, &filter)
                    .await
                    .map_err(|e| failure("the queue", e))?,
            );
        }
        queue.sort_by_key(|b| b.id);
        let recent: Vec<BuildRecord> = builds::list(
            db,
            &BuildFilter {
                limit: Some(RECENT * 2),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| failure("builds", e))?
        .into_iter()
        .filter(|b| b.status.is_finished())
        .take(RECENT as usize)
        .collect();
        let mut published = packages::search_name(db, "")
            .await
            .map_err(|e| failure("packages", e))?;
        published.sort_by_key(|p| std::cmp::Reverse(p.published_at));
        published.truncate(RECENT as usize);

        let home = self.inner.home.clone();
        let app_list = self.inner.apps.clone();
        let (stacks, apps) = tokio::task::spawn_blocking(move || {
            let stacks = Stacks::load(&home, None)
                .and_then(|s| s.list())
                .map_err(|e| failure("stacks", e))?;
            let apps = match app_list {
                Some(list) => list.list().map_err(|e| failure("apps", e))?,
                None => Vec::new(),
            };
            Ok::<_, SourceError>((stacks, apps))
        })
        .await
        .map_err(|e| failure("stacks and apps", e))??;

        Ok(Overview {
            queue: with_steps(self, queue).await?,
            recent: with_steps(self, recent).await?,
            packages: published.iter().map(package_row).collect(),
            stacks: stacks
                .into_iter()
                .map(|s| StackRow {
                    name: s.name,
                    state: s.state.to_string(),
                    size: s.size_bytes,
                    digest: s.digest,
                })
                .collect(),
            apps,
        })
    }

    async fn build(&self, id: i64) -> Result<Option<BuildPage>, SourceError> {
        let Some(b) = builds::get(self.db(), id)
            .await
            .map_err(|e| failure("the build", e))?
        else {
            return Ok(None);
        };
        let mut log = String::new();
        if let Some(key) = &b.log_key {
            if let Some(bytes) = self
                .inner
                .repo
                .storage()
                .read_small(key)
                .await
                .map_err(|e| failure("the log", e))?
            {
                log = String::from_utf8_lossy(&bytes).into_owned();
            }
        }
        if log.is_empty() {
            let lines = build_log::read(self.db(), id, 0, i64::MAX)
                .await
                .map_err(|e| failure("the log", e))?;
            log = lines.into_iter().map(|l| l.line + "\n").collect();
        }
        Ok(Some(BuildPage {
            build: row(&b),
            requested_by: b.requested_by.clone(),
            worker: b.worker.clone(),
            commit: b.commit.clone(),
            log,
            check: check_view(&b),
        }))
    }

    async fn package(
        &self,
        coordinate: &str,
        arch: Option<&str>,
    ) -> Result<Option<PackagePage>, SourceError> {
        let all = packages::get_all(self.db(), coordinate)
            .await
            .map_err(|e| failure("the package", e))?;
        let stored = || all.iter().filter(|p| p.stored);
        let chosen = match arch {
            Some(arch) => stored().find(|p| p.arch == arch),
            None => stored()
                .find(|p| p.arch == bale_archive::LEGACY_ARCH)
                .or_else(|| stored().next()),
        };
        let Some(p) = chosen else {
            return Ok(None);
        };
        let mut attestations = Vec::new();
        if let Ok(parsed) = coordinate.parse::<bale_coordinate::Coordinate>() {
            for (file, label) in [
                (PackageFile::Spdx, "SPDX"),
                (PackageFile::CycloneDx, "CycloneDX"),
                (PackageFile::Provenance, "provenance"),
            ] {
                // Only what the repository holds is linked, under either name.
                for key in [
                    bale_repo::paths::arch_key(&parsed, &p.arch, file),
                    bale_repo::paths::key(&parsed, file),
                ] {
                    if let Ok(Some(_)) = self.inner.repo.storage().head(&key).await {
                        attestations.push(AttestationLink {
                            label: label.into(),
                            href: format!("/{key}"),
                        });
                        break;
                    }
                }
            }
        }
        Ok(Some(PackagePage {
            package: package_row(p),
            files: files_of(&p.index_json),
            attestations,
        }))
    }
}
