//! The console's static files, compiled into the binary (no CDN: the console works offline).
//! Each is served at a URL that carries a hash of its bytes and cached for a year; a new build
//! with a changed file changes the URL. Where they came from: `assets/README.md`.

use std::sync::LazyLock;

use axum::extract::Path;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use sha2::Digest;

struct Asset {
    name: &'static str,
    content_type: &'static str,
    bytes: &'static [u8],
}

const FILES: [Asset; 4] = [
    Asset {
        name: "htmx.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/htmx.min.js"),
    },
    Asset {
        name: "sse.min.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/sse.min.js"),
    },
    Asset {
        name: "console.js",
        content_type: "text/javascript; charset=utf-8",
        bytes: include_bytes!("assets/console.js"),
    },
    Asset {
        name: "console.css",
        content_type: "text/css; charset=utf-8",
        bytes: include_bytes!("assets/console.css"),
    },
];

/// The served name of each file: `htmx.min-0123456789ab.js`.
fn versioned(asset: &Asset) -> String {
    let digest = hex::encode(sha2::Sha256::digest(asset.bytes));
    let (stem, ext) = asset.name.rsplit_once('.').unwrap_or((asset.name, ""));
    format!("{stem}-{}.{ext}", &digest[..12])
}

static NAMES: LazyLock<Vec<String>> = LazyLock::new(|| FILES.iter().map(versioned).collect());

/// The URLs the pages link to.
pub struct Urls {
    pub htmx: String,
    pub sse: String,
    pub js: String,
    pub css: String,
}

pub static URLS: LazyLock<Urls> = LazyLock::new(|| {
    let url = |i: usize| format!("/console/assets/{}", NAMES[i]);
    Urls {
        htmx: url(0),
        sse: url(1),
        js: url(2),
        css: url(3),
    }
});

/// `GET /console/assets/{file}`: the file whose versioned name this is, cached for a year.
pub async fn serve(Path(file): Path<String>) -> Response {
    let Some(index) = NAMES.iter().position(|n| *n == file) else {
        return (StatusCode::NOT_FOUND, "Not found.").into_response();
    };
    let asset = &FILES[index];
    let mut response = asset.bytes.into_response();
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(asset.content_type),
    );
    headers.insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=31536000, immutable"),
    );
    response
}
