//! The floor for the webhook benchmark: the same axum + rustls stack as `driftgate serve`, with
//! a handler that only parses the AdmissionReview and answers "allowed". The difference between
//! this and driftgate is the cost of deciding. See `benches/webhook.sh`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use axum::body::Bytes;
use axum::routing::post;
use axum_server::tls_rustls::{RustlsAcceptor, RustlsConfig};
use driftgate::admission::review::{self, Response};

// the same allocator as `driftgate serve`, so that the floor measures the same stack
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

async fn validate(body: Bytes) -> axum::response::Response {
    use axum::response::IntoResponse;
    match review::parse(&body) {
        Ok(r) => {
            let resp = Response { uid: r.request.uid.clone(), allowed: true, ..Response::default() };
            axum::Json(review::respond(&r.api_version, &resp)).into_response()
        }
        Err(e) => (axum::http::StatusCode::BAD_REQUEST, e.to_string()).into_response(),
    }
}

fn main() {
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let mut args = std::env::args().skip(1);
    let listen: std::net::SocketAddr = args.next().expect("usage: floor_server ADDR CERT KEY").parse().unwrap();
    let cert = std::path::PathBuf::from(args.next().unwrap());
    let key = std::path::PathBuf::from(args.next().unwrap());
    let tls = driftgate::server::load_tls(&cert, &key).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let app = axum::Router::new()
            .route("/validate", post(validate))
            .layer(axum::extract::DefaultBodyLimit::max(driftgate::server::BODY_LIMIT));
        let acceptor = RustlsAcceptor::new(RustlsConfig::from_config(tls));
        axum_server::bind(listen).acceptor(acceptor).serve(app.into_make_service()).await.unwrap();
    });
}
