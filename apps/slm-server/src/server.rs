//! Assembling the actix-web application (routes, middleware) and running it
//! until a stop signal, then draining: new requests are refused while the
//! generations in flight finish (up to a grace period), then the server stops.

use std::net::SocketAddr;
use std::time::Duration;

use actix_cors::Cors;
use actix_web::body::MessageBody;
use actix_web::dev::{ServerHandle, ServiceRequest, ServiceResponse};
use actix_web::middleware::{Condition, Next, from_fn};
use actix_web::{App, HttpServer, http, web};
use anyhow::Context;
use futures::{Stream, StreamExt};

use crate::routes::{generate, status, ui};
use crate::state::AppState;

/// Every API route; `openapi.json` must describe each one (checked by a test).
pub const API_ROUTES: &[&str] = &[
    "/v1/completions",
    "/v1/chat/completions",
    "/v1/models",
    "/v1/models/{model}",
    "/health",
    "/ready",
    "/metrics",
    "/api/info",
    "/openapi.json",
];

/// Rejects `/v1/*` requests without the configured bearer key.
async fn require_api_key(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    if let Some(state) = req.app_data::<web::Data<AppState>>()
        && let Some(key) = &state.api_key
    {
        let header = req
            .headers()
            .get(http::header::AUTHORIZATION)
            .map(|v| v.as_bytes());
        key.check(header)?;
    }
    next.call(req).await
}

/// Counts every response by route pattern and status.
async fn record_request(
    req: ServiceRequest,
    next: Next<impl MessageBody + 'static>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let state = req.app_data::<web::Data<AppState>>().cloned();
    let path = req.path().to_owned();
    let res = next.call(req).await;
    if let Some(state) = state {
        let (status, pattern) = match &res {
            Ok(r) => (
                r.status().as_u16(),
                r.request().match_pattern().unwrap_or_default(),
            ),
            Err(e) => (e.as_response_error().status_code().as_u16(), String::new()),
        };
        let route = if API_ROUTES.contains(&pattern.as_str()) {
            pattern.as_str()
        } else if let Some(r) = API_ROUTES.iter().find(|r| **r == path) {
            r
        } else if path.starts_with("/v1") || path.starts_with("/api") {
            "unmatched"
        } else {
            "static"
        };
        state.metrics.record_request(route, status);
    }
    res
}

fn cors(origins: &[String]) -> Cors {
    let mut c = Cors::default()
        .allowed_methods(["GET", "POST", "OPTIONS"])
        .allowed_headers([http::header::AUTHORIZATION, http::header::CONTENT_TYPE])
        .expose_headers([
            http::header::RETRY_AFTER,
            http::header::HeaderName::from_static(crate::routes::generate::DROPPED_MESSAGES_HEADER),
        ])
        .max_age(3600);
    if origins.iter().any(|o| o == "*") {
        c = c.allow_any_origin();
    } else {
        for o in origins {
            c = c.allowed_origin(o);
        }
    }
    c
}

/// Routes of the application (everything except app-wide middleware).
pub fn configure(cfg: &mut web::ServiceConfig, state: &web::Data<AppState>) {
    cfg.service(
        web::scope("/v1")
            .wrap(from_fn(require_api_key))
            .service(
                web::resource("/completions")
                    .route(web::post().to(generate::completions))
                    .default_service(ui::only("POST")),
            )
            .service(
                web::resource("/chat/completions")
                    .route(web::post().to(generate::chat_completions))
                    .default_service(ui::only("POST")),
            )
            .service(
                web::resource("/models")
                    .route(web::get().to(status::list_models))
                    .default_service(ui::only("GET")),
            )
            .service(
                web::resource("/models/{model}")
                    .route(web::get().to(status::get_model))
                    .default_service(ui::only("GET")),
            )
            .default_service(web::to(ui::not_found)),
    );
    for (path, handler) in [
        ("/health", web::get().to(status::health)),
        ("/ready", web::get().to(status::ready)),
        ("/metrics", web::get().to(status::metrics)),
        ("/api/info", web::get().to(status::info)),
        ("/openapi.json", web::get().to(status::openapi)),
    ] {
        cfg.service(
            web::resource(path)
                .route(handler)
                .default_service(ui::only("GET")),
        );
    }
    // Static files come last so they can never shadow an API route.
    match &state.web_dir {
        Some(dir) => {
            cfg.service(
                actix_files::Files::new("/", dir)
                    .index_file("index.html")
                    .prefer_utf8(true)
                    .default_handler(actix_web::dev::fn_service(ui::static_not_found)),
            );
        }
        None => {
            cfg.service(web::resource("/").route(web::get().to(ui::ui_missing)));
        }
    }
}

/// Binds the listening socket and builds the server (not yet running).
pub fn bind(state: web::Data<AppState>) -> anyhow::Result<(actix_web::dev::Server, SocketAddr)> {
    let cfg = state.config.clone();
    let app_state = state.clone();
    let mut http = HttpServer::new(move || {
        let origins = &app_state.config.cors_origins;
        App::new()
            .app_data(app_state.clone())
            .configure(|c| configure(c, &app_state))
            .default_service(web::to(ui::not_found))
            .wrap(from_fn(record_request))
            .wrap(Condition::new(!origins.is_empty(), cors(origins)))
    })
    // We handle signals ourselves: drain first (`run_until_stopped`).
    .disable_signals()
    .shutdown_timeout(cfg.shutdown_timeout_secs);
    if let Some(w) = cfg.workers {
        http = http.workers(w);
    }
    let http = http
        .bind((cfg.host.as_str(), cfg.port))
        .with_context(|| format!("cannot listen on {}:{}", cfg.host, cfg.port))?;
    let addr = *http
        .addrs()
        .first()
        .context("the server bound no address")?;
    Ok((http.run(), addr))
}

/// The drain: refuse new work at once (`/ready` and new generation requests answer 503
/// with `Retry-After`) and wait until the generations in flight have finished, the grace
/// period (`shutdown_grace_secs`) is over, or `force` (a second stop signal) completes.
async fn drain(state: &AppState, force: impl Future) {
    state.begin_shutdown();
    let grace = Duration::from_secs_f64(state.config.shutdown_grace_secs);
    tracing::info!(
        "draining: {} requests in flight, waiting up to {grace:?} for them \
         (a second SIGTERM or Ctrl-C stops at once)",
        state.in_flight()
    );
    let idle = async {
        while state.in_flight() > 0 {
            actix_web::rt::time::sleep(Duration::from_millis(20)).await;
        }
    };
    tokio::select! {
        _ = idle => tracing::info!("drained: no request in flight"),
        _ = actix_web::rt::time::sleep(grace) => tracing::warn!(
            "grace period over: cancelling {} requests in flight", state.in_flight()
        ),
        _ = force => tracing::warn!(
            "second stop signal: cancelling {} requests in flight", state.in_flight()
        ),
    }
}

/// After the drain: cancel whatever still runs or waits (those streams end with a
/// `shutting_down` error event and `[DONE]`), then stop the HTTP server, which waits up to
/// `shutdown_timeout_secs` for connections to close.
async fn stop(state: &web::Data<AppState>, handle: &ServerHandle) {
    let engine = state.engine.clone();
    if web::block(move || engine.shutdown()).await.is_err() {
        tracing::error!("engine shutdown task failed");
    }
    handle.stop(true).await;
}

/// Runs `server` until the first item of `stops`, drains until the grace period ends or
/// the second item arrives, then stops. `stops` ending counts as a signal.
async fn run_until_stopped(
    state: web::Data<AppState>,
    server: actix_web::dev::Server,
    stops: impl Stream<Item = ()>,
) -> anyhow::Result<()> {
    let handle = server.handle();
    let mut running = actix_web::rt::spawn(server);
    let mut stops = std::pin::pin!(stops);
    tokio::select! {
        result = &mut running => {
            return result.context("server task failed")?.context("server error");
        }
        _ = stops.next() => {}
    }
    drain(&state, stops.next()).await;
    stop(&state, &handle).await;
    running
        .await
        .context("server task failed")?
        .context("server error")
}

/// Runs until SIGTERM or Ctrl-C, drains, then stops (see [`drain`]).
pub async fn serve(state: web::Data<AppState>) -> anyhow::Result<()> {
    let (server, addr) = bind(state.clone())?;
    tracing::info!(
        "serving model '{}' on http://{addr} (web UI: {})",
        state.model_name(),
        state
            .web_dir
            .as_ref()
            .map(|d| d.display().to_string())
            .unwrap_or_else(|| "not found".into())
    );
    run_until_stopped(state, server, stop_signals()).await?;
    tracing::info!("server stopped");
    Ok(())
}

/// One item per SIGTERM or SIGINT (Ctrl-C). The handlers stay installed, so a second
/// signal reaches the drain instead of killing the process.
#[cfg(unix)]
fn stop_signals() -> impl Stream<Item = ()> {
    use tokio::signal::unix::{SignalKind, signal};
    let listen = |kind| {
        signal(kind)
            .map_err(|e| tracing::warn!("cannot listen for signal {kind:?}: {e}"))
            .ok()
    };
    let signals = (
        listen(SignalKind::terminate()),
        listen(SignalKind::interrupt()),
    );
    futures::stream::unfold(signals, |(mut term, mut int)| async move {
        async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
            match s {
                Some(s) => {
                    s.recv().await;
                }
                None => std::future::pending().await,
            }
        }
        tokio::select! {
            _ = recv(&mut term) => {}
            _ = recv(&mut int) => {}
        }
        Some(((), (term, int)))
    })
}

#[cfg(not(unix))]
fn stop_signals() -> impl Stream<Item = ()> {
    futures::stream::unfold((), |()| async {
        let _ = tokio::signal::ctrl_c().await;
        Some(((), ()))
    })
}

/// A server running on its own thread, for tests and embedding. [`BackgroundServer::signal`]
/// stands in for SIGTERM: the first drains, the second stops at once.
pub struct BackgroundServer {
    pub addr: SocketAddr,
    pub state: web::Data<AppState>,
    stops: futures::channel::mpsc::UnboundedSender<()>,
    thread: Option<std::thread::JoinHandle<anyhow::Result<()>>>,
}

impl BackgroundServer {
    pub fn start(state: AppState) -> anyhow::Result<Self> {
        let (tx, rx) = std::sync::mpsc::channel();
        let (stops, stop_rx) = futures::channel::mpsc::unbounded();
        let thread = std::thread::Builder::new()
            .name("slm-server".into())
            .spawn(move || {
                actix_web::rt::System::new().block_on(async move {
                    let state = web::Data::new(state);
                    match bind(state.clone()) {
                        Ok((server, addr)) => {
                            let _ = tx.send(Ok((addr, state.clone())));
                            run_until_stopped(state, server, stop_rx).await
                        }
                        Err(e) => {
                            let _ = tx.send(Err(e));
                            Ok(())
                        }
                    }
                })
            })
            .context("cannot start the server thread")?;
        let (addr, state) = rx
            .recv_timeout(Duration::from_secs(30))
            .context("the server thread did not start")??;
        Ok(Self {
            addr,
            state,
            stops,
            thread: Some(thread),
        })
    }

    /// `http://addr` + `path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}{}", self.addr, path)
    }

    /// What SIGTERM does: the first call starts the drain, the second ends it.
    pub fn signal(&self) {
        // The server has already stopped when the receiver is gone.
        let _ = self.stops.unbounded_send(());
    }

    /// Waits until the server has stopped (after [`Self::signal`]).
    pub fn join(mut self) -> anyhow::Result<()> {
        self.join_thread()
    }

    /// Stops at once, cancelling what is in flight (two signals); returns when stopped.
    pub fn shutdown(self) -> anyhow::Result<()> {
        self.signal();
        self.signal();
        self.join()
    }

    fn join_thread(&mut self) -> anyhow::Result<()> {
        let Some(thread) = self.thread.take() else {
            return Ok(());
        };
        thread
            .join()
            .map_err(|_| anyhow::anyhow!("server thread panicked"))?
    }
}

impl Drop for BackgroundServer {
    fn drop(&mut self) {
        if self.thread.is_some() {
            self.signal();
            self.signal();
        }
        if let Err(e) = self.join_thread() {
            tracing::error!("stopping background server: {e:#}");
        }
    }
}
