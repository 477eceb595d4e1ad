//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every route,
//! the repository's and the service's, built in code. Each operation's
//! request body, query and answers are the JSON schemas of the bale-api
//! types its handler reads and writes (under `components/schemas`), so a
//! field renamed there changes the wire and the document together. Tests
//! check the document against the router and every reference in it.

use std::sync::OnceLock;

use axum::http::header;
use axum::response::IntoResponse;
use bale_api::{
    Build, BuildList, BuildListQuery, CancelOutcome, ErrorEnvelope, Health, HookBuild, HookIgnored,
    PackageDetail, PackageList, PackageVersions, PublishOutcome, SearchQuery, SearchResults,
    StackChange, StackList, StackSanitized, SubmitRequest,
};
use schemars::generate::{SchemaGenerator, SchemaSettings};
use schemars::JsonSchema;
use serde_json::{json, Map, Value};

/// Routes the repository serves (not registered by this crate), as documented.
pub const REPOSITORY_ROUTES: &[(&str, &str)] = &[
    ("GET", "/api/v1/health"),
    ("GET", "/api/v1/packages"),
    ("GET", "/api/v1/packages/{group}/{name}"),
    ("GET", "/api/v1/packages/{group}/{name}/{version}"),
    ("GET", "/api/v1/search"),
    ("GET", "/{group_path}/{name}/{version}/{file}"),
    ("HEAD", "/{group_path}/{name}/{version}/{file}"),
    ("PUT", "/{group_path}/{name}/{version}/{file}"),
];

/// Where the types' schemas go in the document.
const SCHEMAS: &str = "/components/schemas";
/// The shared error answer.
const ERROR: &str = "#/components/responses/Error";

/// The document, built once.
pub fn document() -> &'static Value {
    static DOCUMENT: OnceLock<Value> = OnceLock::new();
    DOCUMENT.get_or_init(build)
}

/// `(METHOD, path)` of every operation in the document, sorted.
pub fn documented_routes() -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(paths) = document()["paths"].as_object() {
        for (path, ops) in paths {
            for method in ops.as_object().into_iter().flat_map(|o| o.keys()) {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// The handler.
pub(crate) async fn serve() -> impl IntoResponse {
    static TEXT: OnceLock<String> = OnceLock::new();
    let text = TEXT.get_or_init(|| document().to_string());
    ([(header::CONTENT_TYPE, "application/json")], text.as_str())
}

/// Schemas of what the API answers (serialized) and what it reads (deserialized).
struct Schemas {
    answers: SchemaGenerator,
    requests: SchemaGenerator,
}

impl Schemas {
    fn new() -> Schemas {
        let settings = SchemaSettings::draft2020_12().with(|s| {
            s.definitions_path = SCHEMAS.into();
            // The document is OpenAPI, whose dialect is 2020-12 already.
            s.meta_schema = None;
        });
        Schemas {
            answers: settings.clone().for_serialize().into_generator(),
            requests: settings.for_deserialize().into_generator(),
        }
    }

    fn answer<T: JsonSchema>(&mut self) -> Value {
        self.answers.subschema_for::<T>().to_value()
    }

    fn request<T: JsonSchema>(&mut self) -> Value {
        self.requests.subschema_for::<T>().to_value()
    }

    /// Query parameters: one per property of `T`, with its description.
    fn query<T: JsonSchema>(&mut self) -> Vec<Value> {
        let root = self.requests.root_schema_for::<T>().to_value();
        let required: Vec<&str> = root["required"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let mut out = Vec::new();
        for (name, schema) in root["properties"].as_object().into_iter().flatten() {
            let mut schema = schema.clone();
            let description = schema
                .as_object_mut()
                .and_then(|o| o.remove("description"))
                .unwrap_or_else(|| json!(""));
            // An absent parameter is how a query says "none": it is never null.
            if let Some(Value::Array(kinds)) = schema.get_mut("type") {
                kinds.retain(|k| k != "null");
                if let [only] = kinds.as_slice() {
                    let only = only.clone();
                    schema["type"] = only;
                }
            }
            out.push(json!({
                "name": name,
                "in": "query",
                "required": required.contains(&name.as_str()),
                "description": description,
                "schema": schema,
            }));
        }
        out
    }

    /// Every type's schema, for `components/schemas`.
    fn into_components(mut self) -> Map<String, Value> {
        let mut all = self.requests.take_definitions(true);
        all.extend(self.answers.take_definitions(true));
        all
    }
}

/// One operation being described.
struct Op {
    method: &'static str,
    path: &'static str,
    value: Map<String, Value>,
}

impl Op {
    fn new(method: &'static str, path: &'static str, tag: &str, summary: &str) -> Op {
        let mut value = Map::new();
        value.insert("summary".into(), json!(summary));
        value.insert("tags".into(), json!([tag]));
        value.insert("responses".into(), json!({}));
        // Path parameters come from the template: ids are numbers, the rest text.
        let params: Vec<Value> = path
            .split('/')
            .filter_map(|part| part.strip_prefix('{')?.strip_suffix('}'))
            .map(|name| {
                let kind = if name == "id" { "integer" } else { "string" };
                json!({"name": name, "in": "path", "required": true, "schema": {"type": kind}})
            })
            .collect();
        if !params.is_empty() {
            value.insert("parameters".into(), json!(params));
        }
        Op {
            method,
            path,
            value,
        }
    }

    fn query(mut self, params: Vec<Value>) -> Op {
        let list = self.value.entry("parameters").or_insert_with(|| json!([]));
        if let Some(list) = list.as_array_mut() {
            list.extend(params);
        }
        self
    }

    fn body(mut self, media: &str, schema: Value) -> Op {
        self.value.insert(
            "requestBody".into(),
            json!({"required": true, "content": {media: {"schema": schema}}}),
        );
        self
    }

    fn answer(self, status: u16, description: &str, media: &str, schema: Value) -> Op {
        self.response(
            status,
            json!({"description": description, "content": {media: {"schema": schema}}}),
        )
    }

    fn empty(self, status: u16, description: &str) -> Op {
        self.response(status, json!({ "description": description }))
    }

    fn errors(mut self, statuses: &[u16]) -> Op {
        for status in statuses {
            self = self.response(*status, json!({ "$ref": ERROR }));
        }
        self
    }

    /// A read: open, unless the server is private (`[server] private = true`),
    /// where it needs a token of any scope and answers 401 without one.
    fn read(mut self) -> Op {
        self.value
            .insert("security".into(), json!([{}, { "bearer": ["read"] }]));
        self.errors(&[401, 403])
    }

    fn token(mut self, scope: &str) -> Op {
        self.value
            .insert("security".into(), json!([{ "bearer": [scope] }]));
        self
    }

    fn response(mut self, status: u16, response: Value) -> Op {
        if let Some(responses) = self
            .value
            .get_mut("responses")
            .and_then(Value::as_object_mut)
        {
            responses.insert(status.to_string(), response);
        }
        self
    }
}

const JSON: &str = "application/json";
const BINARY: &str = "application/octet-stream";

/// Every operation, the repository's then the service's.
fn operations(s: &mut Schemas) -> Vec<Op> {
    let text = || json!({"type": "string"});
    let binary = || json!({"type": "string", "format": "binary"});
    let tree = "/{group_path}/{name}/{version}/{file}";
    let stack_verb = |path: &'static str, summary: &str, answer: Value| {
        Op::new("post", path, "stacks", summary)
            .answer(200, "Done", JSON, answer)
            .errors(&[400, 401, 403, 404, 422])
            .token("admin")
    };
    let change = s.answer::<StackChange>();
    vec![
        Op::new("get", "/api/v1/health", "repository", "Liveness").answer(
            200,
            "The server answers",
            JSON,
            s.answer::<Health>(),
        ),
        Op::new(
            "get",
            "/api/v1/packages",
            "repository",
            "Packages whose name contains q, with their versions",
        )
        .query(vec![json!({
            "name": "q", "in": "query", "required": false,
            "description": "Text in the package name", "schema": {"type": "string"},
        })])
        .answer(200, "Packages", JSON, s.answer::<PackageList>()),
        Op::new(
            "get",
            "/api/v1/packages/{group}/{name}",
            "repository",
            "Published versions of a package, oldest first",
        )
        .answer(200, "Versions", JSON, s.answer::<PackageVersions>())
        .errors(&[400, 404]),
        Op::new(
            "get",
            "/api/v1/packages/{group}/{name}/{version}",
            "repository",
            "One package: index.json, digest, signature status",
        )
        .query(vec![json!({
            "name": "arch", "in": "query", "required": false,
            "description": "The architecture's file (amd64, arm64, all, …); without it amd64's when published, else the first",
            "schema": {"type": "string"},
        })])
        .answer(200, "The package", JSON, s.answer::<PackageDetail>())
        .errors(&[400, 404]),
        Op::new(
            "get",
            "/api/v1/search",
            "repository",
            "Packages that ship a file (?file=PATH) or whose ELF files need a library (?library=SONAME)",
        )
        .query(s.query::<SearchQuery>())
        .answer(200, "Hits", JSON, s.answer::<SearchResults>())
        .errors(&[400]),
        Op::new(
            "get",
            tree,
            "repository",
            "The repository tree: a package, its signature or its index (Range supported)",
        )
        .answer(200, "The file", BINARY, binary())
        .empty(206, "Part of the file")
        .errors(&[400, 404]),
        Op::new(
            "head",
            tree,
            "repository",
            "The tree file's size, ETag and Last-Modified",
        )
        .empty(200, "Found")
        .empty(400, "Not a repository path")
        .empty(404, "Not found"),
        Op::new(
            "put",
            tree,
            "repository",
            "Publish NAME-VERSION.bale (signature base64 in the bale-signature header) or add NAME-VERSION.bale.minisig",
        )
        .body(BINARY, binary())
        .answer(200, "Already published with these bytes", JSON, s.answer::<PublishOutcome>())
        .answer(201, "Published, or signed", JSON, s.answer::<PublishOutcome>())
        .errors(&[400, 401, 403, 404, 409, 413])
        .token("publish"),
        Op::new("post", "/api/v1/builds", "builds", "Queue a build")
            .body(JSON, s.request::<SubmitRequest>())
            .answer(201, "Queued", JSON, s.answer::<Build>())
            .errors(&[400, 401, 403])
            .token("build"),
        Op::new("get", "/api/v1/builds", "builds", "Builds, newest first")
            .query(s.query::<BuildListQuery>())
            .answer(200, "Builds", JSON, s.answer::<BuildList>())
            .errors(&[400]),
        Op::new(
            "get",
            "/api/v1/builds/{id}",
            "builds",
            "One build with its steps and attempts",
        )
        .answer(200, "The build", JSON, s.answer::<Build>())
        .errors(&[400, 404]),
        Op::new(
            "get",
            "/api/v1/builds/{id}/log",
            "builds",
            "The build's log: server-sent events while it runs (Accept: text/event-stream; one event per line, then an `end` event whose data is the status), text once it ended",
        )
        .response(
            200,
            json!({"description": "The log", "content": {
                "text/event-stream": {"schema": text()},
                "text/plain": {"schema": text()},
            }}),
        )
        .errors(&[400, 404]),
        Op::new(
            "post",
            "/api/v1/builds/{id}/cancel",
            "builds",
            "Cancel a build: a queued one at once, a running one by killing its processes",
        )
        .answer(200, "Canceled", JSON, s.answer::<CancelOutcome>())
        .answer(202, "The worker is stopping it", JSON, s.answer::<CancelOutcome>())
        .errors(&[400, 401, 403, 404, 409])
        .token("build"),
        Op::new(
            "get",
            "/api/v1/stacks",
            "stacks",
            "The stacks of this machine and their state",
        )
        .answer(200, "Stacks", JSON, s.answer::<StackList>())
        .errors(&[500]),
        stack_verb(
            "/api/v1/stacks/{name}/create",
            "Create the stack: a new clean installation (debootstrap)",
            change.clone(),
        ),
        stack_verb(
            "/api/v1/stacks/{name}/start",
            "Keep the stack's image and layers warm",
            change.clone(),
        ),
        stack_verb(
            "/api/v1/stacks/{name}/stop",
            "Evict the stack's dependency layers",
            change,
        ),
        {
            let sanitized = s.answer::<StackSanitized>();
            stack_verb(
                "/api/v1/stacks/{name}/sanitize",
                "Verify the image against its digest and package list; rebuild it if anything differs",
                sanitized,
            )
        },
        Op::new(
            "post",
            "/api/v1/hooks/git",
            "builds",
            "A GitHub- or Gitea-style push event signed with X-Hub-Signature-256; a branch NAME-VERSION or tag vVERSION is built",
        )
        .body(JSON, json!({"type": "object"}))
        .answer(201, "Queued", JSON, s.answer::<HookBuild>())
        .answer(202, "Nothing to build", JSON, s.answer::<HookIgnored>())
        .errors(&[400, 401, 404, 422]),
        Op::new("get", "/api/v1/openapi.json", "service", "This document").answer(
            200,
            "OpenAPI 3.1",
            JSON,
            json!({"type": "object"}),
        ),
        Op::new(
            "get",
            "/metrics",
            "service",
            "Prometheus metrics: queue length, builds by status, build durations, requests",
        )
        .answer(200, "Prometheus text", "text/plain", text()),
    ]
}

fn build() -> Value {
    let mut schemas = Schemas::new();
    let ops = operations(&mut schemas);
    let error = schemas.answer::<ErrorEnvelope>();
    let mut paths = Map::new();
    for op in ops {
        let read = matches!(op.method, "get" | "head");
        let op = if read && !bale_repo::server::auth::OPEN_PATHS.contains(&op.path) {
            op.read()
        } else {
            op
        };
        let entry = paths.entry(op.path).or_insert_with(|| json!({}));
        if let Some(entry) = entry.as_object_mut() {
            entry.insert(op.method.to_owned(), Value::Object(op.value));
        }
    }
    json!({
        "openapi": "3.1.0",
        "info": {
            "title": "bale",
            "version": "1",
            "description": "The bale repository and build service. Write calls need a bearer token (bale token create --scope build|publish|admin). Reads are open unless the server is private ([server] private = true), where every read but health and this document needs a token of any scope (read is the least). Errors are {\"error\": {\"code\", \"message\"}}.",
        },
        "paths": paths,
        "components": {
            "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"}},
            "responses": {
                "Error": {
                    "description": "An error: a stable code and a message that says what to do",
                    "content": {JSON: {"schema": error}},
                },
            },
            "schemas": schemas.into_components(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The target of a local `$ref`, if the document has it.
    fn resolve<'a>(doc: &'a Value, reference: &str) -> Option<&'a Value> {
        doc.pointer(reference.strip_prefix('#')?)
    }

    fn refs_in(value: &Value, out: &mut Vec<String>) {
        match value {
            Value::Object(map) => {
                if let Some(Value::String(r)) = map.get("$ref") {
                    out.push(r.clone());
                }
                map.values().for_each(|v| refs_in(v, out));
            }
            Value::Array(items) => items.iter().for_each(|v| refs_in(v, out)),
            _ => {}
        }
    }

    #[test]
    fn every_json_answer_refers_to_a_schema_component_that_exists() {
        let doc = document();
        let mut checked = 0;
        for (path, ops) in doc["paths"].as_object().unwrap() {
            for (method, op) in ops.as_object().unwrap() {
                for (status, response) in op["responses"].as_object().unwrap() {
                    let response = match response.get("$ref").and_then(Value::as_str) {
                        Some(r) => resolve(doc, r)
                            .unwrap_or_else(|| panic!("{method} {path} {status}: {r} is missing")),
                        None => response,
                    };
                    let Some(schema) = response.pointer("/content/application~1json/schema") else {
                        continue;
                    };
                    if path == "/api/v1/openapi.json" {
                        continue;
                    }
                    let mut refs = Vec::new();
                    refs_in(schema, &mut refs);
                    assert!(
                        refs.iter().any(|r| r.starts_with("#/components/schemas/")),
                        "{method} {path} {status} answers JSON with no bale-api type: {schema}"
                    );
                    for r in refs {
                        assert!(
                            resolve(doc, &r).is_some(),
                            "{method} {path} {status}: {r} is missing"
                        );
                    }
                    checked += 1;
                }
            }
        }
        assert!(checked > 20, "only {checked} JSON answers were found");
    }

    /// The document as a snapshot: a change to the API shows in review.
    #[test]
    fn the_document_is_as_reviewed() {
        let text = serde_json::to_string_pretty(document()).unwrap();
        insta::assert_snapshot!(text);
    }

    #[test]
    fn every_reference_in_the_document_resolves() {
        let doc = document();
        let mut refs = Vec::new();
        refs_in(doc, &mut refs);
        assert!(refs.len() > 30);
        for r in refs {
            assert!(resolve(doc, &r).is_some(), "{r} is missing");
        }
    }

    #[test]
    fn the_build_schema_has_exactly_the_fields_a_build_is_sent_with() {
        let build = Build {
            id: 1,
            status: bale_api::BuildStatus::Queued,
            source: "/src".into(),
            git_ref: None,
            fresh: false,
            arch: Some("amd64".into()),
            also_queued: vec![2],
            requested_by: None,
            coordinate: None,
            package: None,
            commit: None,
            worker: None,
            stack: None,
            stack_digest: None,
            stack_packages: Vec::new(),
            tries: 0,
            lease_until: None,
            cancel_requested: false,
            created_at: 0,
            started_at: None,
            finished_at: None,
            duration_ms: None,
            installed_size: None,
            package_digest: None,
            error: None,
            log_key: None,
            log: "/api/v1/builds/1/log".into(),
            // Sent when not empty: the example must carry one to be compared.
            attestations: vec!["/org/example/hello/1.0/hello-1.0.bale.spdx.json".into()],
            steps: Vec::new(),
            attempts: Some(Vec::new()),
            check: true,
            reproducibility: Some(bale_api::Reproducibility {
                outcome: bale_api::CheckOutcome::Pending,
                first_worker: "w".into(),
                first_digest: "sha256:00".into(),
                second_worker: None,
                second_digest: None,
                differences: Vec::new(),
                kept: Vec::new(),
            }),
        };
        let sent = serde_json::to_value(&build).unwrap();
        let mut sent: Vec<&String> = sent.as_object().unwrap().keys().collect();
        sent.sort();
        let schema = &document()["components"]["schemas"]["Build"];
        let mut documented: Vec<&String> =
            schema["properties"].as_object().unwrap().keys().collect();
        documented.sort();
        assert_eq!(sent, documented);
        assert!(documented.contains(&&"ref".to_owned()));
        let required: Vec<&str> = schema["required"]
            .as_array()
            .unwrap()
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(required.contains(&"status") && !required.contains(&"attempts"));
    }

    #[test]
    fn query_parameters_come_from_the_query_types() {
        let doc = document();
        let params = doc["paths"]["/api/v1/builds"]["get"]["parameters"]
            .as_array()
            .unwrap();
        let mut names: Vec<&str> = params.iter().filter_map(|p| p["name"].as_str()).collect();
        names.sort();
        assert_eq!(names, ["limit", "package", "status"]);
        assert!(params
            .iter()
            .all(|p| p["in"] == "query" && p["required"] == false));
    }
}
