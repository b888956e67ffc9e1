//! The HTTP endpoint Prometheus scrapes: `GET /metrics` answers the
//! registry encoded as of now in the Prometheus text format; anything else
//! is 404 (405 for another method on `/metrics`). When the agent has a
//! token, every request needs `Authorization: Bearer <token>` (401
//! otherwise), as the control plane does. Plain HTTP/1.1 with keep-alive,
//! a bounded number of connections and a deadline to send a request.

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::header::{ALLOW, AUTHORIZATION, CONTENT_TYPE, HeaderValue, WWW_AUTHENTICATE};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use prometheus_client::encoding::prometheus_text;
use prometheus_client::registry::Registry;
use tokio::net::TcpListener;
use tokio::sync::Semaphore;
use tokio_util::sync::CancellationToken;
use tokio_util::task::TaskTracker;
use tracing::{debug, warn};

use crate::service::auth::{bearer_token, constant_time_eq};

/// The one path served.
pub const METRICS_PATH: &str = "/metrics";
/// Scrape connections served at once; more wait in the listen backlog.
/// A few Prometheus servers and a curl need far fewer.
pub const MAX_SCRAPE_CONNECTIONS: usize = 16;
/// How long a connection may take to send a request's headers (also how
/// long an idle keep-alive connection is kept).
pub const REQUEST_HEADER_TIMEOUT: Duration = Duration::from_secs(30);
/// How long open scrapes may finish once the agent stops.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);
/// Pause after a failed accept (descriptors exhausted), so the loop does
/// not spin.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// What every connection shares.
struct Endpoint {
    registry: Registry,
    token: Option<Arc<[u8]>>,
}

/// Serves `registry` on `listener` until `cancel`; then gives open scrapes
/// a moment to finish. `token`: the bearer token every request must carry.
pub async fn serve(
    listener: TcpListener,
    registry: Registry,
    token: Option<String>,
    cancel: CancellationToken,
) {
    let endpoint = Arc::new(Endpoint {
        registry,
        token: token.map(|t| Arc::from(t.into_bytes())),
    });
    let slots = Arc::new(Semaphore::new(MAX_SCRAPE_CONNECTIONS));
    let tracker = TaskTracker::new();
    loop {
        let permit = tokio::select! {
            () = cancel.cancelled() => break,
            p = Arc::clone(&slots).acquire_owned() => match p {
                Ok(p) => p,
                Err(_) => break,
            },
        };
        let stream = tokio::select! {
            () = cancel.cancelled() => break,
            r = listener.accept() => match r {
                Ok((stream, _)) => stream,
                Err(e) => {
                    warn!(error = %e, "metrics endpoint: accept failed");
                    tokio::time::sleep(ACCEPT_BACKOFF).await;
                    continue;
                }
            },
        };
        let endpoint = Arc::clone(&endpoint);
        let cancel = cancel.clone();
        tracker.spawn(async move {
            let _permit = permit;
            connection(stream, endpoint, cancel).await;
        });
    }
    tracker.close();
    let _ = tokio::time::timeout(SHUTDOWN_GRACE, tracker.wait()).await;
}

/// One scrape connection, until it closes or the agent stops.
async fn connection(
    stream: tokio::net::TcpStream,
    endpoint: Arc<Endpoint>,
    cancel: CancellationToken,
) {
    let service = hyper::service::service_fn(move |req: Request<Incoming>| {
        let answer = endpoint.answer(&req);
        async move { Ok::<_, Infallible>(answer) }
    });
    let conn = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .header_read_timeout(REQUEST_HEADER_TIMEOUT)
        .serve_connection(TokioIo::new(stream), service);
    tokio::pin!(conn);
    tokio::select! {
        r = conn.as_mut() => {
            if let Err(e) = r {
                debug!(error = %e, "metrics connection ended");
            }
        }
        () = cancel.cancelled() => {
            conn.as_mut().graceful_shutdown();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, conn).await;
        }
    }
}

impl Endpoint {
    fn answer(&self, req: &Request<Incoming>) -> Response<Full<Bytes>> {
        if let Some(why) = self.refusal(req) {
            let mut r = text(StatusCode::UNAUTHORIZED, why);
            r.headers_mut().insert(
                WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer realm=\"reel-agent metrics\""),
            );
            return r;
        }
        if req.uri().path() != METRICS_PATH {
            return text(
                StatusCode::NOT_FOUND,
                format!(
                    "not found: {}; metrics are at GET {METRICS_PATH}\n",
                    req.uri().path()
                ),
            );
        }
        if req.method() != Method::GET && req.method() != Method::HEAD {
            let mut r = text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{} {METRICS_PATH}: only GET is served\n", req.method()),
            );
            r.headers_mut()
                .insert(ALLOW, HeaderValue::from_static("GET, HEAD"));
            return r;
        }
        let mut body = String::new();
        if let Err(e) = prometheus_text::encode(&mut body, &self.registry) {
            warn!(error = %e, "encoding metrics failed");
            return text(
                StatusCode::INTERNAL_SERVER_ERROR,
                "encoding the metrics failed\n",
            );
        }
        let mut r = Response::new(Full::new(Bytes::from(body)));
        r.headers_mut().insert(
            CONTENT_TYPE,
            HeaderValue::from_static(prometheus_text::CONTENT_TYPE),
        );
        r
    }

    /// Why a request is refused for want of the token, if it is.
    fn refusal(&self, req: &Request<Incoming>) -> Option<&'static str> {
        let expected = self.token.as_ref()?;
        let Some(header) = req.headers().get(AUTHORIZATION) else {
            return Some(
                "this agent requires a token: send `Authorization: Bearer <token>` (Prometheus: authorization.credentials_file)\n",
            );
        };
        match header.to_str().ok().and_then(bearer_token) {
            Some(t) if constant_time_eq(t.as_bytes(), expected) => None,
            Some(_) => Some("invalid token\n"),
            None => Some("the Authorization header is not `Bearer <token>` in printable ASCII\n"),
        }
    }
}

fn text(status: StatusCode, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    r.headers_mut().insert(
        CONTENT_TYPE,
        HeaderValue::from_static("text/plain; charset=utf-8"),
    );
    r
}
