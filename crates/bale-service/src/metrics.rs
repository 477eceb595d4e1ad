//! `GET /metrics`: Prometheus text. Build figures come from the database
//! (every process shares them); request counts are this process's.

use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::{Arc, Mutex};

use axum::extract::{Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use bale_db::builds::{self, BuildStatus};
use bale_repo::server::ApiError;

use crate::Service;

/// Requests served, by method and status.
#[derive(Debug, Clone, Default)]
pub(crate) struct Metrics {
    requests: Arc<Mutex<BTreeMap<(String, u16), u64>>>,
}

/// Middleware: counts every response.
pub(crate) async fn count(
    State(metrics): State<Metrics>,
    request: Request,
    next: Next,
) -> Response {
    let method = request.method().to_string();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    if let Ok(mut map) = metrics.requests.lock() {
        *map.entry((method, status)).or_default() += 1;
    }
    response
}

/// The handler.
pub(crate) async fn serve(State(service): State<Service>) -> Result<Response, ApiError> {
    let db = service.repository().database();
    let queued = builds::queue_length(db).await?;
    let stats = builds::stats(db).await?;
    let mut out = String::new();
    let _ = writeln!(out, "# HELP bale_queue_length Builds waiting for a worker.");
    let _ = writeln!(out, "# TYPE bale_queue_length gauge");
    let _ = writeln!(out, "bale_queue_length {queued}");
    let _ = writeln!(out, "# HELP bale_builds Builds recorded, by status.");
    let _ = writeln!(out, "# TYPE bale_builds gauge");
    for status in BuildStatus::ALL {
        let n = stats
            .iter()
            .find(|s| s.status == status.as_str())
            .map(|s| s.count)
            .unwrap_or(0);
        let _ = writeln!(out, "bale_builds{{status=\"{status}\"}} {n}");
    }
    let _ = writeln!(
        out,
        "# HELP bale_build_duration_seconds Run time of ended builds, by status."
    );
    let _ = writeln!(out, "# TYPE bale_build_duration_seconds summary");
    for s in stats.iter().filter(|s| s.timed > 0) {
        let _ = writeln!(
            out,
            "bale_build_duration_seconds_sum{{status=\"{}\"}} {:.3}",
            s.status,
            s.duration_ms_sum as f64 / 1000.0
        );
        let _ = writeln!(
            out,
            "bale_build_duration_seconds_count{{status=\"{}\"}} {}",
            s.status, s.timed
        );
    }
    let _ = writeln!(out, "# HELP bale_http_requests_total HTTP requests served by this process, by method and status.");
    let _ = writeln!(out, "# TYPE bale_http_requests_total counter");
    let requests = service
        .metrics()
        .requests
        .lock()
        .map(|m| m.clone())
        .unwrap_or_default();
    for ((method, status), n) in requests {
        let _ = writeln!(
            out,
            "bale_http_requests_total{{method=\"{method}\",status=\"{status}\"}} {n}"
        );
    }
    Ok((
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        out,
    )
        .into_response())
}
