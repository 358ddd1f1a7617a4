//! The tenant admin portal at `/admin`: three files compiled into the binary, so the portal
//! needs no build step, no asset directory and no internet. It is a client of `/api/v1` like
//! any other: it holds the caller's session in the browser and every write goes through the
//! same permission checks.

use std::sync::LazyLock;

use actix_web::http::header::{CACHE_CONTROL, CONTENT_SECURITY_POLICY, CONTENT_TYPE, ETAG, IF_NONE_MATCH};
use actix_web::{HttpRequest, HttpResponse, web};

const INDEX: &str = include_str!("../../admin/index.html");
const SCRIPT: &str = include_str!("../../admin/app.js");
const STYLE: &str = include_str!("../../admin/app.css");

/// Scripts, styles and images from this server only: the portal renders data with
/// `textContent`, and this policy stops anything injected from running anyway.
const POLICY: &str = "default-src 'self'; img-src 'self' data:; style-src 'self'; script-src 'self'; \
                      object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'";

/// Each file with its ETag. The build's files never change while it runs, so a hash of them
/// is a strong validator; `no-cache` makes browsers ask again after an upgrade instead of
/// running a stale script.
static ASSETS: LazyLock<[(&str, String); 3]> = LazyLock::new(|| {
    let tag =
        |body: &str| format!("\"{}\"", &hex::encode(<sha2::Sha256 as sha2::Digest>::digest(body.as_bytes()))[..16]);
    [(INDEX, tag(INDEX)), (SCRIPT, tag(SCRIPT)), (STYLE, tag(STYLE))]
});

pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/admin", web::get().to(page)).route("/admin/{tail:.*}", web::get().to(page));
}

/// `/admin/app.js` and `/admin/app.css` are the assets; every other path under `/admin` is the
/// page itself, whose script routes on the URL's fragment.
async fn page(req: HttpRequest) -> HttpResponse {
    let [index, script, style] = &*ASSETS;
    let ((body, tag), kind) = match req.path() {
        "/admin/app.js" => (script, "text/javascript; charset=utf-8"),
        "/admin/app.css" => (style, "text/css; charset=utf-8"),
        _ => (index, "text/html; charset=utf-8"),
    };
    let fresh = req.headers().get(IF_NONE_MATCH).and_then(|v| v.to_str().ok()).is_some_and(|v| v == tag);
    let mut res = if fresh { HttpResponse::NotModified() } else { HttpResponse::Ok() };
    res.insert_header((ETAG, tag.as_str()))
        .insert_header((CACHE_CONTROL, "no-cache"))
        .insert_header((CONTENT_SECURITY_POLICY, POLICY))
        .insert_header(("X-Content-Type-Options", "nosniff"))
        .insert_header(("Referrer-Policy", "no-referrer"));
    if fresh { res.finish() } else { res.insert_header((CONTENT_TYPE, kind)).body(*body) }
}
