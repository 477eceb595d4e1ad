//! A client of the build service's API, for `bale submit`, `bale builds`,
//! `bale cancel`, `bale logs --build`, `bale query` and `bale watch`: every
//! answer is read as its bale-api type.

use bale_api::{
    Build, BuildList, BuildListQuery, BuildStatus, CancelOutcome, ErrorEnvelope, SearchQuery,
    SearchResults, SubmitRequest,
};
use futures::StreamExt;
use serde::de::DeserializeOwned;

use crate::ServiceError;

/// The API of one service.
#[derive(Debug, Clone)]
pub struct ServiceClient {
    base: String,
    token: Option<String>,
    http: reqwest::Client,
}

impl ServiceClient {
    /// A client of the service at `base` (`http://host:port`), with a bearer token for write calls (and a private server's reads).
    pub fn new(base: &str, token: Option<String>) -> Result<ServiceClient, ServiceError> {
        let http = reqwest::Client::builder()
            .build()
            .map_err(|e| ServiceError::Client(format!("cannot set up HTTP: {e}")))?;
        Ok(ServiceClient {
            base: base.trim_end_matches('/').to_owned(),
            token,
            http,
        })
    }

    /// Queues a build; returns its record (`id`, `status`, …).
    pub async fn submit(&self, request: &SubmitRequest) -> Result<Build, ServiceError> {
        let request = self.http.post(self.url("/api/v1/builds")).json(request);
        self.send(self.authorized(request)).await
    }

    /// One build with its steps and attempts.
    pub async fn build(&self, id: i64) -> Result<Build, ServiceError> {
        self.send(self.get_authorized(self.url(&format!("/api/v1/builds/{id}"))))
            .await
    }

    /// Builds, newest first, as the query narrows them.
    pub async fn list(&self, query: &BuildListQuery) -> Result<BuildList, ServiceError> {
        self.send(self.get_authorized(self.url("/api/v1/builds")).query(query))
            .await
    }

    /// Packages that ship `query.file`, or whose ELF files need `query.library` (exactly one is given).
    pub async fn search(&self, query: &SearchQuery) -> Result<SearchResults, ServiceError> {
        self.send(self.get_authorized(self.url("/api/v1/search")).query(query))
            .await
    }

    /// Cancels a build: at once when queued, by its worker when running.
    pub async fn cancel(&self, id: i64) -> Result<CancelOutcome, ServiceError> {
        let request = self
            .http
            .post(self.url(&format!("/api/v1/builds/{id}/cancel")));
        self.send(self.authorized(request)).await
    }

    /// The build's log so far (all of it once it ended).
    pub async fn log_text(&self, id: i64) -> Result<String, ServiceError> {
        let response = self
            .get_authorized(self.url(&format!("/api/v1/builds/{id}/log")))
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = check(response).await?;
        response
            .text()
            .await
            .map_err(|e| ServiceError::Client(format!("reading the log: {e}")))
    }

    /// Follows the build's log, calling `on_line` for each line, until it
    /// ends; returns its final status.
    pub async fn follow_log(
        &self,
        id: i64,
        on_line: &mut (dyn FnMut(&str) + Send),
    ) -> Result<BuildStatus, ServiceError> {
        let response = self
            .get_authorized(self.url(&format!("/api/v1/builds/{id}/log")))
            .header(reqwest::header::ACCEPT, "text/event-stream")
            .send()
            .await
            .map_err(|e| self.unreachable(e))?;
        let response = check(response).await?;
        let streaming = response
            .headers()
            .get(reqwest::header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("text/event-stream"));
        if !streaming {
            // It had already ended: the whole log, then the record's status.
            let text = response
                .text()
                .await
                .map_err(|e| ServiceError::Client(format!("reading the log: {e}")))?;
            text.lines().for_each(&mut *on_line);
            return self.status_of(id).await;
        }
        let mut stream = response.bytes_stream();
        let mut buffer: Vec<u8> = Vec::new();
        let mut event = String::new();
        let mut data: Vec<String> = Vec::new();
        while let Some(chunk) = stream.next().await {
            let chunk = chunk
                .map_err(|e| ServiceError::Client(format!("the log stream broke off: {e}")))?;
            buffer.extend_from_slice(&chunk);
            while let Some(end) = buffer.iter().position(|b| *b == b'\n') {
                let raw: Vec<u8> = buffer.drain(..=end).collect();
                let line = String::from_utf8_lossy(&raw);
                let line = line.trim_end_matches(['\n', '\r']);
                if line.is_empty() {
                    if event == "end" {
                        let status = data.join("\n");
                        return status.trim().parse().map_err(|e| {
                            ServiceError::Client(format!("the log stream ended oddly: {e}"))
                        });
                    }
                    if !data.is_empty() {
                        on_line(&data.join("\n"));
                    }
                    event.clear();
                    data.clear();
                } else if let Some(value) = line.strip_prefix("data:") {
                    data.push(value.strip_prefix(' ').unwrap_or(value).to_owned());
                } else if let Some(value) = line.strip_prefix("event:") {
                    event = value.trim().to_owned();
                }
            }
        }
        // The stream ended without an `end` event (the server stopped): ask for the status.
        self.status_of(id).await
    }

    async fn status_of(&self, id: i64) -> Result<BuildStatus, ServiceError> {
        Ok(self.build(id).await?.status)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A GET with the token: a private server wants one on reads too.
    fn get_authorized(&self, url: String) -> reqwest::RequestBuilder {
        self.authorized(self.http.get(url))
    }

    fn authorized(&self, request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
        match &self.token {
            Some(token) => request.bearer_auth(token),
            None => request,
        }
    }

    fn unreachable(&self, error: reqwest::Error) -> ServiceError {
        ServiceError::Client(format!(
            "cannot reach the build service at {}: {error} (is `bale serve` running there?)",
            self.base
        ))
    }

    async fn send<T: DeserializeOwned>(
        &self,
        request: reqwest::RequestBuilder,
    ) -> Result<T, ServiceError> {
        let response = request.send().await.map_err(|e| self.unreachable(e))?;
        let response = check(response).await?;
        let url = response.url().path().to_owned();
        let body = response
            .bytes()
            .await
            .map_err(|e| ServiceError::Client(format!("reading the answer to {url}: {e}")))?;
        serde_json::from_slice(&body).map_err(|e| {
            ServiceError::Client(format!(
                "the service's answer to {url} is not what this bale reads ({e}); is it the same version?"
            ))
        })
    }
}

/// The response when it succeeded, else its error message.
async fn check(response: reqwest::Response) -> Result<reqwest::Response, ServiceError> {
    let status = response.status();
    if status.is_success() {
        return Ok(response);
    }
    let body = response.bytes().await.unwrap_or_default();
    let message = match serde_json::from_slice::<ErrorEnvelope>(&body) {
        Ok(envelope) => envelope.error.message,
        Err(_) => String::from_utf8_lossy(&body).chars().take(500).collect(),
    };
    // The service's own 401 says which token to create; a stand-in or proxy may not.
    let hint = if status == reqwest::StatusCode::UNAUTHORIZED && !message.contains("BALE_TOKEN") {
        " (set BALE_TOKEN to a token with the needed scope: `bale token create --scope build`)"
    } else {
        ""
    };
    Err(ServiceError::Client(format!(
        "the service answered {status}: {message}{hint}"
    )))
}

#[cfg(test)]
mod tests {
    use bale_api::{BuildListQuery, BuildStatus, SearchQuery, SearchResults, SubmitRequest};
    use bale_db::tokens::{self, Scope};
    use bale_home::Home;
    use bale_repo::ServeOptions;

    use super::ServiceClient;
    use crate::{bind, ServiceOptions, WorkerOptions};

    /// A service without workers on a free port: its URL, database and the guards that keep it up.
    async fn service() -> (
        String,
        bale_db::Database,
        tempfile::TempDir,
        tokio::sync::oneshot::Sender<()>,
    ) {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::new(dir.path());
        let mut serve = ServeOptions::for_home(&home);
        serve.listen = "127.0.0.1:0".parse().unwrap();
        let options = ServiceOptions {
            serve,
            home: home.clone(),
            workers: 0,
            worker: WorkerOptions::new("test", "/nonexistent/bale".into(), home),
            hook_secret: None,
            apps: None,
        };
        let bound = bind(options).await.unwrap();
        let url = format!("http://{}", bound.local_addr().unwrap());
        let db = bound.service().repository().database().clone();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        tokio::spawn(bound.run_until(async move {
            let _ = stopped.await;
        }));
        (url, db, dir, stop)
    }

    #[tokio::test]
    async fn a_build_for_an_architecture_no_stack_has_is_queued_but_not_claimed() {
        let (url, db, _dir, _stop) = service().await;
        let token = tokens::create(&db, Scope::Build).await.unwrap();
        let client = ServiceClient::new(&url, Some(token)).unwrap();
        let submit = |arch: &str| SubmitRequest {
            source: "https://git.example/app.git".into(),
            git_ref: None,
            fresh: false,
            check: false,
            arch: Some(arch.into()),
        };
        let foreign = if bale_inspect::machine_arch() == "arm64" {
            "riscv64"
        } else {
            "arm64"
        };
        let queued = client.submit(&submit(foreign)).await.unwrap();
        assert_eq!(queued.arch.as_deref(), Some(foreign));
        assert_eq!(
            client.build(queued.id).await.unwrap().arch.as_deref(),
            Some(foreign)
        );
        // This worker has stacks only for the machine's own architecture.
        let archs = vec![bale_inspect::machine_arch().to_owned()];
        let claimed = bale_db::queue::claim_for(&db, "w", 30_000, Some(&archs))
            .await
            .unwrap();
        assert!(
            claimed.is_none(),
            "a worker without an {foreign} stack claimed {claimed:?}"
        );

        // The only live worker said which architectures it claims for.
        let all = client.submit(&submit("all-supported")).await.unwrap();
        assert_eq!(all.arch.as_deref(), Some(bale_inspect::machine_arch()));
        assert!(all.also_queued.is_empty(), "one architecture here: {all:?}");
        let claimed = bale_db::queue::claim_for(&db, "w", 30_000, Some(&archs))
            .await
            .unwrap()
            .expect("the machine's build is claimed");
        assert_eq!(claimed.build.id, all.id);

        // A worker with a stack for the other architecture claims its build,
        // and from then on a submit for every architecture queues both.
        let both = vec![bale_inspect::machine_arch().to_owned(), foreign.to_owned()];
        let claimed = bale_db::queue::claim_for(&db, "w2", 30_000, Some(&both))
            .await
            .unwrap()
            .expect("the foreign build is claimed by the worker that has its stack");
        assert_eq!(claimed.build.id, queued.id);
        let all = client.submit(&submit("all-supported")).await.unwrap();
        assert_eq!(all.also_queued.len(), 1, "two architectures now: {all:?}");
        let second = client.build(all.also_queued[0]).await.unwrap();
        let mut archs = vec![all.arch.clone(), second.arch.clone()];
        archs.sort();
        let mut expected: Vec<Option<String>> = both.into_iter().map(Some).collect();
        expected.sort();
        assert_eq!(archs, expected);

        let bad = client
            .submit(&submit("../x"))
            .await
            .unwrap_err()
            .to_string();
        assert!(bad.contains("not a Debian architecture"), "{bad}");
    }

    #[tokio::test]
    async fn the_client_reads_every_answer_of_the_builds_api_as_its_type() {
        let (url, db, _dir, _stop) = service().await;
        let token = tokens::create(&db, Scope::Build).await.unwrap();
        let client = ServiceClient::new(&url, Some(token)).unwrap();
        let request = SubmitRequest {
            source: "https://git.example/app.git".into(),
            git_ref: Some("main".into()),
            fresh: true,
            check: false,
            arch: None,
        };
        let build = client.submit(&request).await.unwrap();
        assert_eq!(
            (build.status, build.fresh, build.git_ref.as_deref()),
            (BuildStatus::Queued, true, Some("main"))
        );
        assert_eq!(build.log, format!("/api/v1/builds/{}/log", build.id));

        let queued = BuildListQuery {
            status: Some("queued".into()),
            ..BuildListQuery::default()
        };
        let list = client.list(&queued).await.unwrap();
        let ids: Vec<i64> = list.builds.iter().map(|b| b.id).collect();
        assert_eq!(ids, [build.id]);
        assert_eq!(list.builds[0].attempts, None, "listings carry no attempts");
        let one = client.build(build.id).await.unwrap();
        assert_eq!(one.attempts, Some(Vec::new()), "never claimed");

        let canceled = client.cancel(build.id).await.unwrap();
        assert_eq!(
            (canceled.status, canceled.cancel_requested),
            (BuildStatus::Canceled, false)
        );
        let again = client.cancel(build.id).await.unwrap_err().to_string();
        assert!(
            again.contains("409") && again.contains("already ended"),
            "{again}"
        );
        let mut lines = Vec::new();
        let status = client
            .follow_log(build.id, &mut |line| lines.push(line.to_owned()))
            .await
            .unwrap();
        assert_eq!(status, BuildStatus::Canceled);

        let found = client
            .search(&SearchQuery {
                file: Some("bin/hello".into()),
                library: None,
            })
            .await
            .unwrap();
        assert_eq!(
            found,
            SearchResults::Files {
                file: "bin/hello".into(),
                packages: Vec::new()
            }
        );
    }

    #[tokio::test]
    async fn a_refused_call_says_which_token_to_create() {
        let (url, _db, _dir, _stop) = service().await;
        let anonymous = ServiceClient::new(&url, None).unwrap();
        let request = SubmitRequest {
            source: "https://git.example/app.git".into(),
            git_ref: None,
            fresh: false,
            check: false,
            arch: None,
        };
        let refused = anonymous.submit(&request).await.unwrap_err().to_string();
        assert!(
            refused.contains("401") && refused.contains("bale token create --scope build"),
            "{refused}"
        );
        // The service's message names BALE_TOKEN already: it is not said twice.
        assert_eq!(refused.matches("BALE_TOKEN").count(), 1, "{refused}");
    }
}
