//! The town's own certificate authority, for devices that must install it
//! before they trust the site (`tls init`): `/ca.crt` (the certificate,
//! DER, which Android, iOS, Windows and the domestic desktops all import)
//! and `/install-ca` (a page in Chinese, English below, on installing it,
//! with the fingerprint to compare). Both are also on the plain-HTTP
//! redirect listener, since a device that does not trust the authority yet
//! cannot open the https site to fetch it.

use axum::Router;
use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;

use crate::AppState;
use crate::error::AppError;
use crate::tls::authority::{self, AUTHORITY_CERTIFICATE};

pub fn router() -> Router<AppState> {
    Router::new().route("/ca.crt", get(certificate)).route("/install-ca", get(install_page))
}

/// The authority's certificate as PEM, when `tls init` made one: beside
/// the certificate in service, else in the data directory's `tls`.
fn authority_pem(state: &AppState) -> Option<String> {
    let beside_certificate = state.config.tls_cert.as_deref().and_then(std::path::Path::parent);
    beside_certificate
        .into_iter()
        .chain([state.config.tls_dir().as_path()])
        .find_map(|dir| std::fs::read_to_string(dir.join(AUTHORITY_CERTIFICATE)).ok())
}

async fn certificate(State(state): State<AppState>) -> Result<Response, AppError> {
    let pem = authority_pem(&state).ok_or_else(no_authority)?;
    let der = authority::der_of_pem(&pem)
        .map_err(|error| AppError::Internal(error.context("the authority's certificate")))?;
    Ok((
        [
            (header::CONTENT_TYPE, "application/x-x509-ca-cert"),
            (header::CONTENT_DISPOSITION, "attachment; filename=\"mediation-ca.crt\""),
        ],
        der,
    )
        .into_response())
}

fn no_authority() -> AppError {
    AppError::NotFound(
        "this server has no certificate authority of its own (its certificate comes from a public one)".into(),
    )
}

async fn install_page(State(state): State<AppState>) -> Result<Html<String>, AppError> {
    let pem = authority_pem(&state).ok_or_else(no_authority)?;
    let fingerprint = authority::fingerprint_of_pem(&pem)
        .map_err(|error| AppError::Internal(error.context("the authority's certificate")))?;
    let site = state.config.public_url();
    let page = maud::html! {
        (maud::DOCTYPE)
        html lang="zh-CN" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { "安装本镇证书 · Install the town's certificate" }
                link rel="stylesheet" href="/style.css";
                link rel="icon" type="image/svg+xml" href="/favicon.svg";
            }
            body {
                main class="install-ca" {
                    h1 { "安装本镇的证书" }
                    p { "本镇调解平台用本镇自己的证书加密。每台设备（村调解室的电脑、手机）第一次使用前安装一次，之后打开 "
                        a href=(site) { (site) } " 不再有安全警告，摄像头和麦克风才能使用。" }
                    p { "这个证书只对本平台的地址有效，不能用来冒充其他网站。" }
                    p { a class="button primary" href="/ca.crt" download="mediation-ca.crt" { "下载证书" } }
                    p { "下载后请核对指纹（SHA-256），与调解办公室提供的一致才安装：" }
                    p { code class="fingerprint" { (fingerprint) } }
                    h2 { "安卓手机" }
                    ol {
                        li { "点上面的“下载证书”。" }
                        li { "打开“设置” → “安全” → “更多安全设置” → “加密与凭据” → “安装证书” → “CA 证书”。" }
                        li { "选择下载的 mediation-ca.crt，确认安装。" }
                    }
                    h2 { "苹果手机（iPhone）" }
                    ol {
                        li { "用 Safari 打开本页，点“下载证书”，选择“允许”。" }
                        li { "打开“设置” → “已下载描述文件” → “安装”。" }
                        li { "再打开“设置” → “通用” → “关于本机” → “证书信任设置”，打开本证书的开关。" }
                    }
                    h2 { "电脑（Windows、统信 UOS、银河麒麟）" }
                    ol {
                        li {
                            "Windows：双击下载的证书 → “安装证书” → “本地计算机” → "
                            "放入“受信任的根证书颁发机构”。"
                        }
                        li {
                            "统信 UOS、银河麒麟或 Chromium 浏览器：打开浏览器“设置” → “隐私和安全” → “安全” → "
                            "“管理证书” → “授权机构” → “导入”，勾选“信任该证书，以标识网站的身份”。"
                        }
                        li { "重新打开浏览器。" }
                    }
                    p { "遇到困难请联系镇调解办公室。" }
                    hr;
                    section lang="en" {
                        h2 { "Install the town's certificate" }
                        p {
                            "This mediation service encrypts with the town's own certificate authority. "
                            "Install it once on each device before first use; then " (site)
                            " opens without a warning and the camera and microphone work. "
                            "The authority is valid for this service's addresses only."
                        }
                        p {
                            "Download it above and compare its SHA-256 fingerprint with the one the mediation "
                            "office gives you. Android: Settings → Security → Encryption & credentials → Install a "
                            "certificate → CA certificate. iPhone: Settings → Profile Downloaded → Install, then "
                            "General → About → Certificate Trust Settings. Windows: open the file → Install "
                            "Certificate → Trusted Root Certification Authorities. Chromium: Settings → Privacy "
                            "and security → Security → Manage certificates → Authorities → Import."
                        }
                    }
                }
            }
        }
    };
    Ok(Html(page.into_string()))
}
