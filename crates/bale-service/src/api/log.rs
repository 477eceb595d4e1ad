//! `GET /api/v1/builds/ID/log`: server-sent events while the build runs
//! (each line an event, then an `end` event with the status), plain text
//! once it ended (from the object store) or when the client takes no
//! event stream.

use std::convert::Infallible;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{header, HeaderMap};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use bale_db::{build_log, builds};
use bale_repo::server::ApiError;
use futures::channel::mpsc;
use futures::SinkExt;

use super::builds::{no_build, parse_id};
use super::Service;

/// How often a running build's new lines are looked for.
const POLL: Duration = Duration::from_millis(200);
/// Lines read per query.
const BATCH: i64 = 1000;

/// The handler.
pub(super) async fn log(
    State(service): State<Service>,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let id = parse_id(&id)?;
    let build = builds::get(service.db(), id)
        .await?
        .ok_or_else(|| no_build(id))?;
    let wants_stream = headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.contains("text/event-stream"));
    if build.status.is_finished() || !wants_stream {
        let text = text_so_far(&service, id, build.log_key.as_deref()).await?;
        return Ok(([(header::CONTENT_TYPE, "text/plain; charset=utf-8")], text).into_response());
    }
    let (tx, rx) = mpsc::channel::<Result<Event, Infallible>>(64);
    tokio::spawn(follow(service, id, tx));
    Ok(Sse::new(rx)
        .keep_alive(KeepAlive::default())
        .into_response())
}

/// The stored log of an ended build, else the live lines so far.
async fn text_so_far(
    service: &Service,
    id: i64,
    log_key: Option<&str>,
) -> Result<String, ApiError> {
    if let Some(key) = log_key {
        if let Some(bytes) = service.inner.repo.storage().read_small(key).await? {
            return Ok(String::from_utf8_lossy(&bytes).into_owned());
        }
    }
    let lines = build_log::read(service.db(), id, 0, i64::MAX).await?;
    let mut text: String = lines.into_iter().map(|l| l.line + "\n").collect();
    if text.is_empty() {
        text.push_str("");
    }
    Ok(text)
}

/// Sends lines as they are stored, until the build ends or the client goes.
async fn follow(service: Service, id: i64, mut tx: mpsc::Sender<Result<Event, Infallible>>) {
    let db = service.db().clone();
    let mut next = 0i64;
    loop {
        // The status is read before the lines: lines stored before it ended are all sent.
        let build = match builds::get(&db, id).await {
            Ok(Some(build)) => build,
            _ => return,
        };
        loop {
            let Ok(lines) = build_log::read(&db, id, next, BATCH).await else {
                return;
            };
            let count = lines.len() as i64;
            for line in lines {
                next = line.seq + 1;
                if tx
                    .send(Ok(Event::default()
                        .id(line.seq.to_string())
                        .data(line.line)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
            if count < BATCH {
                break;
            }
        }
        if build.status.is_finished() {
            // The worker drops the live lines once the log is stored: send the rest from there.
            if let Some(key) = &build.log_key {
                if let Ok(Some(bytes)) = service.inner.repo.storage().read_small(key).await {
                    let text = String::from_utf8_lossy(&bytes).into_owned();
                    for (seq, line) in text.lines().enumerate().skip(next as usize) {
                        if tx
                            .send(Ok(Event::default().id(seq.to_string()).data(line)))
                            .await
                            .is_err()
                        {
                            return;
                        }
                    }
                }
            }
            let _ = tx
                .send(Ok(Event::default()
                    .event("end")
                    .data(build.status.as_str())))
                .await;
            return;
        }
        tokio::time::sleep(POLL).await;
    }
}
