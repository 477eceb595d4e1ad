//! A build's live log: lines go to the database in batches as they come,
//! so any server process can stream them while the build runs.

use bale_db::scrub::Scrubber;
use bale_db::{build_log, Database};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// Lines written by one attempt.
#[derive(Debug)]
pub(crate) struct LiveLog {
    tx: mpsc::UnboundedSender<String>,
    task: JoinHandle<()>,
}

impl LiveLog {
    /// Starts appending after the build's last stored line (an earlier attempt's, if any).
    /// Every line goes through `scrubber` before it is stored.
    pub(crate) async fn start(
        db: &Database,
        build: i64,
        scrubber: Scrubber,
    ) -> Result<LiveLog, bale_db::DbError> {
        let mut seq = build_log::next_seq(db, build).await?;
        let (tx, mut rx) = mpsc::unbounded_channel::<String>();
        let db = db.clone();
        let task = tokio::spawn(async move {
            while let Some(first) = rx.recv().await {
                // Whatever arrived while the last batch was written goes in one transaction.
                let mut batch = vec![scrubber.scrub(&first)];
                while batch.len() < 1000 {
                    match rx.try_recv() {
                        Ok(line) => batch.push(scrubber.scrub(&line)),
                        Err(_) => break,
                    }
                }
                match build_log::append(&db, build, seq, &batch).await {
                    Ok(()) => seq += batch.len() as i64,
                    Err(error) => tracing::warn!(build, %error, "cannot store log lines"),
                }
            }
        });
        Ok(LiveLog { tx, task })
    }

    /// Where the build's own output goes.
    pub(crate) fn sender(&self) -> mpsc::UnboundedSender<String> {
        self.tx.clone()
    }

    /// Adds a line of the worker's own.
    pub(crate) fn line(&self, text: impl Into<String>) {
        let _ = self.tx.send(text.into());
    }

    /// Waits until every line sent so far is stored (all senders must be gone).
    pub(crate) async fn close(self) {
        drop(self.tx);
        let _ = self.task.await;
    }
}
