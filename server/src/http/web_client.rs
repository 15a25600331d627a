//! The web client's files. They are built into the binary (so the binary
//! copied alone to a server serves every page), each answered with its
//! type, a strong ETag (a kiosk revalidating after `no-cache` gets a 304
//! with no body) and gzip when the browser takes it: the pages and modules
//! are about a quarter of their size compressed, which is what a village
//! line of 256 kbit/s notices. `--web-dir` serves a directory instead, for
//! working on the client without rebuilding.

use std::collections::HashMap;
use std::io::Write;
use std::path::Path;
use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::body::{Body, Bytes};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use tower_http::services::{ServeDir, ServeFile};

#[derive(rust_embed::Embed)]
#[folder = "../web-client/"]
struct Embedded;

/// The page a path with no file behind it gets (the sign-in page), as the
/// directory service does.
const FALLBACK_PAGE: &str = "index.html";

/// Compressed copies smaller than this share of the original are kept.
const WORTH_COMPRESSING: f64 = 0.9;

/// The static-file service: the embedded files, or `web_dir` when given.
pub fn service(web_dir: Option<&Path>) -> Router {
    match web_dir {
        Some(dir) => {
            Router::new().fallback_service(ServeDir::new(dir).fallback(ServeFile::new(dir.join(FALLBACK_PAGE))))
        }
        None => {
            let files = WebFiles::embedded();
            Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| async move {
                files.answer(&method, uri.path(), &headers)
            })
        }
    }
}

/// The files built into the binary, prepared once per process.
pub struct WebFiles {
    files: HashMap<String, WebFile>,
}

struct WebFile {
    content_type: HeaderValue,
    etag: HeaderValue,
    plain: Bytes,
    /// The gzip copy and its ETag, when compressing pays.
    gzip: Option<(Bytes, HeaderValue)>,
}

impl WebFiles {
    /// The embedded files (compressed on first use, then shared).
    pub fn embedded() -> Arc<WebFiles> {
        static FILES: OnceLock<Arc<WebFiles>> = OnceLock::new();
        FILES
            .get_or_init(|| {
                let files = Embedded::iter()
                    .filter_map(|name| {
                        let file = Embedded::get(&name)?;
                        let tag = hex::encode(&file.metadata.sha256_hash()[..16]);
                        let web_file = WebFile::new(&tag, content_type(&name), file.data.into_owned());
                        Some((name.into_owned(), web_file))
                    })
                    .collect();
                Arc::new(WebFiles { files })
            })
            .clone()
    }

    /// The file at `path` for a GET or HEAD with these request headers.
    pub fn answer(&self, method: &Method, path: &str, request: &HeaderMap) -> Response {
        if method != Method::GET && method != Method::HEAD {
            return (StatusCode::METHOD_NOT_ALLOWED, [(header::ALLOW, "GET, HEAD")]).into_response();
        }
        let Some(file) = self.find(path) else {
            return (StatusCode::NOT_FOUND, "not found").into_response();
        };
        let gzip = file.gzip.as_ref().filter(|_| accepts_gzip(request));
        let (body, etag) = match gzip {
            Some((body, etag)) => (body, etag),
            None => (&file.plain, &file.etag),
        };
        let mut response = if matches_etag(request, etag) {
            StatusCode::NOT_MODIFIED.into_response()
        } else if method == Method::HEAD {
            let mut response = Body::empty().into_response();
            response.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(body.len()));
            response
        } else {
            Body::from(body.clone()).into_response()
        };
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, file.content_type.clone());
        headers.insert(header::ETAG, etag.clone());
        if file.gzip.is_some() {
            headers.insert(header::VARY, HeaderValue::from_static("accept-encoding"));
        }
        if gzip.is_some() {
            headers.insert(header::CONTENT_ENCODING, HeaderValue::from_static("gzip"));
        }
        response
    }

    /// The file a path names: `/` and a folder's path are its
    /// `index.html`; a path with no extension and no file is the sign-in
    /// page; a missing file with an extension is not found.
    fn find(&self, path: &str) -> Option<&WebFile> {
        let name = path.trim_start_matches('/');
        let name = if name.is_empty() || name.ends_with('/') { format!("{name}index.html") } else { name.to_owned() };
        if let Some(file) = self.files.get(&name) {
            return Some(file);
        }
        let last = name.rsplit('/').next().unwrap_or_default();
        if last.contains('.') { None } else { self.files.get(FALLBACK_PAGE) }
    }
}

impl WebFile {
    fn new(tag: &str, content_type: &'static str, plain: Vec<u8>) -> Self {
        let gzip = compressible(content_type).then(|| gzip(&plain)).flatten().filter(|compressed| {
            // Lossless: the ratio only decides whether a copy is kept.
            #[allow(clippy::cast_precision_loss)]
            let ratio = compressed.len() as f64 / plain.len().max(1) as f64;
            ratio < WORTH_COMPRESSING
        });
        WebFile {
            content_type: HeaderValue::from_static(content_type),
            etag: etag(tag),
            gzip: gzip.map(|compressed| (Bytes::from(compressed), etag(&format!("{tag}-gzip")))),
            plain: Bytes::from(plain),
        }
    }
}

fn etag(tag: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{tag}\"")).expect("a hex tag is a valid header value")
}

fn gzip(plain: &[u8]) -> Option<Vec<u8>> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    encoder.write_all(plain).ok()?;
    encoder.finish().ok()
}

/// The type of a file of the web client, by its extension.
fn content_type(name: &str) -> &'static str {
    match name.rsplit('.').next().unwrap_or_default() {
        "html" => "text/html; charset=utf-8",
        "js" | "mjs" => "text/javascript; charset=utf-8",
        "css" => "text/css; charset=utf-8",
        "json" => "application/json",
        "webmanifest" => "application/manifest+json",
        "svg" => "image/svg+xml",
        "png" => "image/png",
        "ico" => "image/x-icon",
        "woff2" => "font/woff2",
        "txt" => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn compressible(content_type: &str) -> bool {
    content_type.starts_with("text/") || content_type.contains("json") || content_type == "image/svg+xml"
}

/// Whether `Accept-Encoding` lists gzip with a weight above zero.
fn accepts_gzip(request: &HeaderMap) -> bool {
    request
        .get_all(header::ACCEPT_ENCODING)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .any(|coding| {
            let mut parts = coding.split(';').map(str::trim);
            let name = parts.next().unwrap_or_default();
            let refused = parts.any(|parameter| {
                parameter
                    .strip_prefix("q=")
                    .and_then(|weight| weight.parse::<f32>().ok())
                    .is_some_and(|weight| weight <= 0.0)
            });
            (name.eq_ignore_ascii_case("gzip") || name == "*") && !refused
        })
}

/// Whether `If-None-Match` names `etag` (or is `*`).
fn matches_etag(request: &HeaderMap, etag: &HeaderValue) -> bool {
    let wanted = etag.to_str().unwrap_or_default();
    request
        .get_all(header::IF_NONE_MATCH)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|tag| tag.trim().trim_start_matches("W/"))
        .any(|tag| tag == wanted || tag == "*")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(pairs: &[(header::HeaderName, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.clone(), HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn every_page_and_module_is_built_in_with_its_type() {
        let files = WebFiles::embedded();
        for (path, wanted) in [
            ("/", "text/html; charset=utf-8"),
            ("/join.html", "text/html; charset=utf-8"),
            ("/js/call.js", "text/javascript; charset=utf-8"),
            ("/style.css", "text/css; charset=utf-8"),
        ] {
            let response = files.answer(&Method::GET, path, &HeaderMap::new());
            assert_eq!(response.status(), StatusCode::OK, "{path}");
            assert_eq!(response.headers()[header::CONTENT_TYPE], wanted, "{path}");
        }
        assert!(files.files.len() > 30, "only {} files built in", files.files.len());
    }

    #[test]
    fn gzip_only_for_a_browser_that_takes_it() {
        let files = WebFiles::embedded();
        let plain = files.answer(&Method::GET, "/js/call.js", &HeaderMap::new());
        assert!(plain.headers().get(header::CONTENT_ENCODING).is_none());
        let zipped =
            files.answer(&Method::GET, "/js/call.js", &request(&[(header::ACCEPT_ENCODING, "gzip, deflate, br")]));
        assert_eq!(zipped.headers()[header::CONTENT_ENCODING], "gzip");
        assert_ne!(plain.headers()[header::ETAG], zipped.headers()[header::ETAG]);
        let refused = files.answer(&Method::GET, "/js/call.js", &request(&[(header::ACCEPT_ENCODING, "gzip;q=0, br")]));
        assert!(refused.headers().get(header::CONTENT_ENCODING).is_none());
    }

    #[test]
    fn a_known_version_is_not_sent_again() {
        let files = WebFiles::embedded();
        let first = files.answer(&Method::GET, "/js/call.js", &HeaderMap::new());
        let tag = first.headers()[header::ETAG].to_str().unwrap().to_owned();
        let again = files.answer(&Method::GET, "/js/call.js", &request(&[(header::IF_NONE_MATCH, &tag)]));
        assert_eq!(again.status(), StatusCode::NOT_MODIFIED);
        let other = files.answer(&Method::GET, "/js/call.js", &request(&[(header::IF_NONE_MATCH, "\"0123\"")]));
        assert_eq!(other.status(), StatusCode::OK);
    }

    #[test]
    fn missing_files_and_other_methods() {
        let files = WebFiles::embedded();
        assert_eq!(files.answer(&Method::GET, "/js/missing.js", &HeaderMap::new()).status(), StatusCode::NOT_FOUND);
        let page = files.answer(&Method::GET, "/mediator", &HeaderMap::new());
        assert_eq!(page.status(), StatusCode::OK);
        assert_eq!(page.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(files.answer(&Method::POST, "/", &HeaderMap::new()).status(), StatusCode::METHOD_NOT_ALLOWED);
        let head = files.answer(&Method::HEAD, "/style.css", &HeaderMap::new());
        assert_eq!(head.status(), StatusCode::OK);
        assert!(head.headers()[header::CONTENT_LENGTH].to_str().unwrap().parse::<usize>().unwrap() > 100);
    }
}
