//! HTTPS: `POST /mutate` (AdmissionReview), `GET /health/ready`, `GET
//! /metrics`. axum routes, served over rustls with the reloading
//! certificate (tls.rs); HTTP/1.1 and HTTP/2 (the API server uses
//! either).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;

use crate::settings::Settings;
use crate::webhook::Outcome;

/// An AdmissionReview of a pod is tens of KiB; the API server sends at
/// most 3 MiB objects.
const MAX_BODY: usize = 8 << 20;

#[derive(Default)]
pub struct Metrics {
    pub reviews: AtomicU64,
    pub injected: AtomicU64,
    pub refused: AtomicU64,
    pub bad_requests: AtomicU64,
    /// Total time spent answering reviews, in microseconds.
    pub micros: AtomicU64,
}

pub struct App {
    pub settings: Settings,
    pub metrics: Metrics,
}

pub fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/mutate", post(mutate))
        .route("/health/ready", get(|| async { "ok" }))
        .route("/metrics", get(metrics))
        .layer(DefaultBodyLimit::max(MAX_BODY))
        .with_state(app)
}

async fn mutate(State(app): State<Arc<App>>, body: Bytes) -> impl IntoResponse {
    let started = Instant::now();
    let answer = crate::webhook::review(&body, &app.settings);
    let m = &app.metrics;
    m.reviews.fetch_add(1, Relaxed);
    match answer.outcome {
        Outcome::BadRequest => m.bad_requests.fetch_add(1, Relaxed),
        Outcome::Refused => m.refused.fetch_add(1, Relaxed),
        Outcome::Injected => m.injected.fetch_add(1, Relaxed),
        Outcome::Unchanged => 0,
    };
    let micros = u64::try_from(started.elapsed().as_micros()).unwrap_or(u64::MAX);
    m.micros.fetch_add(micros, Relaxed);
    (
        StatusCode::from_u16(answer.status).unwrap_or(StatusCode::BAD_REQUEST),
        [(header::CONTENT_TYPE, "application/json")],
        answer.body,
    )
}

async fn metrics(State(app): State<Arc<App>>) -> impl IntoResponse {
    let m = &app.metrics;
    let mut out = String::new();
    for (name, help, v) in [
        (
            "arca_injector_reviews_total",
            "AdmissionReviews answered.",
            &m.reviews,
        ),
        (
            "arca_injector_injected_total",
            "Pods given the agent.",
            &m.injected,
        ),
        (
            "arca_injector_refused_total",
            "Pods refused (annotations that cannot be honoured).",
            &m.refused,
        ),
        (
            "arca_injector_bad_requests_total",
            "Bodies that were not AdmissionReviews.",
            &m.bad_requests,
        ),
        (
            "arca_injector_review_seconds_sum",
            "Time spent answering reviews.",
            &m.micros,
        ),
    ] {
        let value = v.load(Relaxed);
        let (kind, shown) = if name.ends_with("_sum") {
            ("counter", format!("{}", value as f64 / 1e6))
        } else {
            ("counter", value.to_string())
        };
        out.push_str(&format!(
            "# HELP {name} {help}\n# TYPE {name} {kind}\n{name} {shown}\n"
        ));
    }
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], out)
}

/// `:8080` (Go's form: every interface) -> `0.0.0.0:8080`.
pub fn bind_address(listen: &str) -> String {
    match listen.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => listen.to_owned(),
    }
}

/// Serves until the process ends.
pub async fn serve(
    listener: tokio::net::TcpListener,
    tls: Arc<rustls::ServerConfig>,
    app: Arc<App>,
) {
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    let service = TowerToHyperService::new(router(app));
    loop {
        let (tcp, _) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let service = service.clone();
        tokio::spawn(async move {
            let Ok(Ok(tls)) =
                tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await
            else {
                return;
            };
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tls), service)
                .await;
        });
    }
}
