//! `GET /api/v1/openapi.json`: the OpenAPI 3.1 description of every route,
//! the repository's and the service's. Hand-written next to the routes; a
//! test checks it against the router.

use axum::http::header;
use axum::response::IntoResponse;

/// The document.
pub const DOCUMENT: &str = include_str!("openapi.json");

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

/// `(METHOD, path)` of every operation in the document.
pub fn documented_routes() -> Vec<(String, String)> {
    let doc: serde_json::Value = serde_json::from_str(DOCUMENT).unwrap_or_default();
    let mut out = Vec::new();
    if let Some(paths) = doc["paths"].as_object() {
        for (path, ops) in paths {
            for method in ops
                .as_object()
                .map(|o| o.keys().cloned().collect::<Vec<_>>())
                .unwrap_or_default()
            {
                out.push((method.to_uppercase(), path.clone()));
            }
        }
    }
    out.sort();
    out
}

/// The handler.
pub(crate) async fn serve() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "application/json")], DOCUMENT)
}
