//! The web UI's static files and the answers for unknown routes.

use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::{HttpRequest, HttpResponse};

use crate::error::ApiError;

/// Unknown path: JSON for API paths, short text for everything else.
pub async fn not_found(req: HttpRequest) -> HttpResponse {
    not_found_response(&req)
}

fn is_api_path(path: &str) -> bool {
    path.starts_with("/v1") || path.starts_with("/api")
}

pub fn not_found_response(req: &HttpRequest) -> HttpResponse {
    let path = req.path();
    if is_api_path(path) {
        use actix_web::ResponseError;
        return ApiError::not_found(format!("no route for {} {path}", req.method()))
            .error_response();
    }
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(format!("404 Not Found: {path}\n"))
}

/// Known API path, wrong method: a 405 whose `Allow` header lists the
/// methods the path does take (RFC 9110 requires it).
pub fn method_not_allowed(req: &HttpRequest, allow: &'static str) -> HttpResponse {
    use actix_web::ResponseError;
    let mut resp = ApiError::method_not_allowed(req.method().as_str(), req.path()).error_response();
    resp.headers_mut().insert(
        actix_web::http::header::ALLOW,
        actix_web::http::header::HeaderValue::from_static(allow),
    );
    resp
}

/// Default service of an API resource that only takes `allow` (e.g. `"GET"`).
pub fn only(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move |req: HttpRequest| async move { method_not_allowed(&req, allow) })
}

/// `/` when no web directory exists: say so instead of failing startup.
pub async fn ui_missing() -> HttpResponse {
    HttpResponse::NotFound()
        .content_type("text/plain; charset=utf-8")
        .body(
            "The web UI is not available: no web directory was found. Start the server from \
             the repository root or pass --web-dir <DIR>. The API is at /v1.\n",
        )
}

/// Default handler of the static file service (file not found).
pub async fn static_not_found(req: ServiceRequest) -> Result<ServiceResponse, actix_web::Error> {
    let (req, _) = req.into_parts();
    let resp = not_found_response(&req);
    Ok(ServiceResponse::new(req, resp))
}
