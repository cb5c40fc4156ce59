//! A minimal HTTP/1.1 JSON POST for the HTTP hook and OpenLineage.
//!
//! Built on hyper's connection API with rustls (ring, the OS trust store) for `https://`:
//! the Spark Connect client already compiles exactly these crates, so the hooks add no
//! dependency, and an async client lets the bus bound every call with a tokio timeout and
//! cancel it by dropping it. One connection per request (events are few; no pool to leak).

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::Uri;
use hyper::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncRead, AsyncWrite};
use tokio::net::TcpStream;
use tokio_rustls::TlsConnector;
use tokio_rustls::rustls::pki_types::ServerName;
use tokio_rustls::rustls::{ClientConfig, RootCertStore};

use crate::error::BoxError;

/// At most this much of an error response's body is kept for the message.
const ERROR_BODY_LIMIT: usize = 2048;

/// POSTs `body` as `application/json` to `url` with `headers`; `Ok(status)` for a 2xx
/// answer, an error otherwise. The whole exchange is bounded by `timeout`.
pub(crate) async fn post_json(
    url: &str,
    headers: &[(String, String)],
    body: Vec<u8>,
    timeout: Duration,
) -> Result<u16, BoxError> {
    tokio::time::timeout(timeout, post(url, headers, body))
        .await
        .map_err(|_| format!("POST {url}: no answer within {}s", timeout.as_secs_f64()))?
}

async fn post(url: &str, headers: &[(String, String)], body: Vec<u8>) -> Result<u16, BoxError> {
    let uri: Uri = url
        .parse()
        .map_err(|e| format!("invalid URL '{url}': {e}"))?;
    let https = match uri.scheme_str() {
        Some("http") => false,
        Some("https") => true,
        _ => return Err(format!("unsupported URL '{url}' (http:// or https:// only)").into()),
    };
    let host = uri
        .host()
        .ok_or_else(|| format!("URL '{url}' has no host"))?;
    let port = uri.port_u16().unwrap_or(if https { 443 } else { 80 });
    let bare_host = host.trim_start_matches('[').trim_end_matches(']');
    let stream = TcpStream::connect((bare_host, port))
        .await
        .map_err(|e| format!("POST {url}: cannot connect: {e}"))?;
    let _ = stream.set_nodelay(true);
    let authority = match uri.port_u16() {
        Some(p) => format!("{host}:{p}"),
        None => host.to_string(),
    };
    let path = uri.path_and_query().map_or("/", |p| p.as_str()).to_string();
    let mut request = hyper::Request::post(path)
        .header(HOST, authority)
        .header(CONTENT_TYPE, "application/json")
        .header(USER_AGENT, concat!("tauro/", env!("CARGO_PKG_VERSION")));
    for (k, v) in headers {
        let name = HeaderName::try_from(k.as_str()).map_err(|e| format!("header '{k}': {e}"))?;
        let value = HeaderValue::try_from(v.as_str()).map_err(|e| format!("header '{k}': {e}"))?;
        request = request.header(name, value);
    }
    let request = request.body(Full::new(Bytes::from(body)))?;
    if https {
        let name = ServerName::try_from(bare_host.to_string())
            .map_err(|e| format!("URL '{url}': invalid TLS server name: {e}"))?;
        let tls = TlsConnector::from(tls_config()?)
            .connect(name, stream)
            .await
            .map_err(|e| format!("POST {url}: TLS handshake failed: {e}"))?;
        exchange(url, tls, request).await
    } else {
        exchange(url, stream, request).await
    }
}

async fn exchange<S>(
    url: &str,
    stream: S,
    request: hyper::Request<Full<Bytes>>,
) -> Result<u16, BoxError>
where
    S: AsyncRead + AsyncWrite + Send + Unpin + 'static,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(stream))
        .await
        .map_err(|e| format!("POST {url}: {e}"))?;
    let driver = tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!(error = %e, "HTTP hook connection ended with an error");
        }
    });
    let result = async {
        let response = sender
            .send_request(request)
            .await
            .map_err(|e| format!("POST {url}: {e}"))?;
        let status = response.status();
        let body = Limited::new(response.into_body(), ERROR_BODY_LIMIT)
            .collect()
            .await
            .map(|b| b.to_bytes())
            .unwrap_or_default();
        if status.is_success() {
            Ok(status.as_u16())
        } else {
            let text = String::from_utf8_lossy(&body);
            Err(format!("POST {url}: HTTP {status}: {}", text.trim()).into())
        }
    }
    .await;
    driver.abort();
    result
}

/// The TLS client configuration: the OS trust store, ring, TLS 1.2 and 1.3.
fn tls_config() -> Result<Arc<ClientConfig>, BoxError> {
    static CONFIG: OnceLock<Result<Arc<ClientConfig>, String>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::debug!(error = %e, "skipped a certificate of the OS trust store");
            }
            let (added, _) = roots.add_parsable_certificates(found.certs);
            if added == 0 {
                return Err("no trusted root certificates found in the OS trust store".into());
            }
            let provider = Arc::new(tokio_rustls::rustls::crypto::ring::default_provider());
            ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .map(|b| Arc::new(b.with_root_certificates(roots).with_no_client_auth()))
                .map_err(|e| e.to_string())
        })
        .clone()
        .map_err(Into::into)
}
