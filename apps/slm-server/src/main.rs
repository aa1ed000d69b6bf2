//! `slm-server`: serve the model over an OpenAI-compatible HTTP API, or
//! (`slm-server healthcheck`) probe a running server's `/health`.

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use clap::{Parser, Subcommand};
use slm_server::config::{ServeArgs, ServerConfig};
use slm_server::state::AppState;

#[derive(Debug, Parser)]
#[command(
    name = "slm-server",
    version,
    about = "OpenAI-compatible API server for the slm TinyStories model (also serves the web UI)",
    args_conflicts_with_subcommands = true
)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    serve: ServeArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// GET /health of a running server; exit 0 when it answers 200, else 1
    /// (for Docker's HEALTHCHECK, which has no curl in our image).
    Healthcheck {
        /// Health URL [default: http://127.0.0.1:$SLM_PORT/health, port 8080].
        #[arg(long)]
        url: Option<String>,
        /// Seconds to wait for the answer.
        #[arg(long, default_value_t = 3.0)]
        timeout: f64,
    },
}

fn healthcheck(url: Option<String>, timeout: f64) -> anyhow::Result<()> {
    let url = url.unwrap_or_else(|| {
        let port = std::env::var("SLM_PORT").unwrap_or_else(|_| "8080".into());
        format!("http://127.0.0.1:{port}/health")
    });
    anyhow::ensure!(
        timeout.is_finite() && timeout > 0.0,
        "--timeout must be a positive number of seconds"
    );
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs_f64(timeout)))
        .build()
        .into();
    let mut resp = agent
        .get(&url)
        .call()
        .with_context(|| format!("health check of {url} failed"))?;
    let status = resp.status().as_u16();
    anyhow::ensure!(
        status == 200,
        "health check of {url} answered HTTP {status}: {}",
        resp.body_mut().read_to_string().unwrap_or_default().trim()
    );
    println!("ok: {url}");
    Ok(())
}

fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let env = std::env::vars()
        .filter(|(k, _)| k.starts_with("SLM_"))
        .collect();
    let config = ServerConfig::load(&args, env)?;
    let state = AppState::load(config)?;
    actix_web::rt::System::new()
        .block_on(slm_server::server::serve(actix_web::web::Data::new(state)))
}

fn main() -> ExitCode {
    slm_observe::init_logging("info,actix_server=warn");
    let cli = Cli::parse();
    let result = match cli.command {
        Some(Command::Healthcheck { url, timeout }) => healthcheck(url, timeout),
        None => serve(cli.serve),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
