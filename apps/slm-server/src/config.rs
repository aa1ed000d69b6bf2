//! Server configuration: defaults, then a TOML file (`--config`), then
//! `SLM_…` environment variables, then command-line flags, each overriding
//! the one before.

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};
use clap::Args;
use serde::{Deserialize, Serialize};
use slm_infer::{EngineOptions, Isa, WeightDtype};

/// Model directory loaded when none is configured.
pub const DEFAULT_MODEL_DIR: &str = "models/tinystories-15m";
/// Web UI directory served when none is configured.
pub const DEFAULT_WEB_DIR: &str = "web";

/// Everything the server needs to start; see `docs/api.md` for each field.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct ServerConfig {
    pub host: String,
    pub port: u16,
    /// Model directory (config.json, model.safetensors, tokenizer.json).
    pub model: PathBuf,
    /// Web UI directory; `None` means `web/` here, else the repository's `web/`.
    pub web_dir: Option<PathBuf>,
    /// When set, `/v1/*` require `Authorization: Bearer <api_key>`.
    pub api_key: Option<String>,
    /// Origins allowed to call the API from a browser; empty = CORS off, `*` = any.
    pub cors_origins: Vec<String>,
    /// The engine's settings, at the top level of the file and the environment like the
    /// rest: `max_batch` (0: as many as `kv_cache_mib` holds), `kv_cache_mib`,
    /// `queue_capacity` (requests waiting for a slot before 429),
    /// `prefill_chunk`, `threads` (0: all cores), `dtype` (weights in memory) and `isa`.
    #[serde(flatten)]
    pub engine: EngineOptions,
    /// HTTP worker threads (actix default, one per core, when unset).
    pub workers: Option<usize>,
    /// Largest accepted request body.
    pub max_body_bytes: usize,
    /// Whole-request limit (queueing + generation), in seconds.
    pub request_timeout_secs: f64,
    /// `max_tokens` when a request gives none (shrunk to fit the context);
    /// unset: the model's `generation.json`.
    pub default_max_tokens: Option<usize>,
    /// Largest `max_tokens` a request may ask for.
    pub max_tokens_limit: usize,
    /// Interval of SSE keep-alive comments; they also reveal dropped clients.
    pub keep_alive_secs: f64,
    /// On SIGTERM, how long the generations in flight may take to finish before they are
    /// cancelled (the drain; new requests are refused meanwhile).
    pub shutdown_grace_secs: f64,
    /// After the drain, how long the HTTP server waits for connections to close.
    pub shutdown_timeout_secs: u64,
    /// `Retry-After` seconds sent with 429 answers.
    pub retry_after_secs: u64,
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            host: "127.0.0.1".into(),
            port: 8080,
            model: PathBuf::from(DEFAULT_MODEL_DIR),
            web_dir: None,
            api_key: None,
            cors_origins: Vec::new(),
            engine: EngineOptions::default(),
            workers: None,
            max_body_bytes: 256 * 1024,
            request_timeout_secs: 120.0,
            default_max_tokens: None,
            max_tokens_limit: 512,
            keep_alive_secs: 2.0,
            shutdown_grace_secs: 30.0,
            shutdown_timeout_secs: 5,
            retry_after_secs: 1,
        }
    }
}

/// Command-line flags of `slm-server` (serving mode). Every flag is optional
/// so that only the ones given override the file and environment.
#[derive(Debug, Clone, Default, Args)]
pub struct ServeArgs {
    /// TOML config file.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// Address to bind [default: 127.0.0.1].
    #[arg(long)]
    pub host: Option<String>,
    /// Port to bind; 0 picks a free one [default: 8080].
    #[arg(long)]
    pub port: Option<u16>,
    /// Model directory [default: models/tinystories-15m].
    #[arg(long, value_name = "DIR")]
    pub model: Option<PathBuf>,
    /// Web UI directory [default: ./web, else the repository's web/].
    #[arg(long, value_name = "DIR")]
    pub web_dir: Option<PathBuf>,
    /// Require `Authorization: Bearer KEY` on /v1/* (prefer SLM_API_KEY: flags show up in `ps`).
    #[arg(long, value_name = "KEY")]
    pub api_key: Option<String>,
    /// Allowed CORS origin (repeatable or comma-separated; `*` for any).
    #[arg(long = "cors-origin", value_name = "ORIGIN", value_delimiter = ',')]
    pub cors_origins: Option<Vec<String>>,
    /// Most sequences decoded together [default: 0, as many as --kv-cache-mib holds].
    #[arg(long)]
    pub max_batch: Option<usize>,
    /// KV-cache memory ceiling in MiB when --max-batch is 0 [default: 1024].
    #[arg(long)]
    pub kv_cache_mib: Option<usize>,
    /// Most requests waiting before 429.
    #[arg(long)]
    pub queue_capacity: Option<usize>,
    /// Prompt tokens prefilled per engine step.
    #[arg(long)]
    pub prefill_chunk: Option<usize>,
    /// Compute threads for the model (0: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Weight precision in memory: q8, f16, f32 or bf16 [default: q8].
    #[arg(long)]
    pub dtype: Option<WeightDtype>,
    /// Kernel instruction set: avx512, avx2, neon, simd128 or portable [default: detected].
    #[arg(long)]
    pub isa: Option<Isa>,
    /// HTTP worker threads.
    #[arg(long)]
    pub workers: Option<usize>,
    /// Largest request body in bytes [default: 262144].
    #[arg(long)]
    pub max_body_bytes: Option<usize>,
    /// Per-request time limit in seconds [default: 120].
    #[arg(long)]
    pub request_timeout_secs: Option<f64>,
    /// max_tokens when a request gives none [default: from the model's generation.json].
    #[arg(long)]
    pub default_max_tokens: Option<usize>,
    /// Largest max_tokens a request may ask for [default: 512].
    #[arg(long)]
    pub max_tokens_limit: Option<usize>,
    /// SSE keep-alive interval in seconds [default: 2].
    #[arg(long)]
    pub keep_alive_secs: Option<f64>,
    /// Seconds in-flight generations may take to finish after SIGTERM [default: 30].
    #[arg(long)]
    pub shutdown_grace_secs: Option<f64>,
    /// Seconds shutdown then waits for connections to close [default: 5].
    #[arg(long)]
    pub shutdown_timeout_secs: Option<u64>,
}

impl ServerConfig {
    /// Layers the file named by `args.config`, `env` (variables named
    /// `SLM_<FIELD>`, e.g. `SLM_PORT`) and the flags over the defaults.
    pub fn load(args: &ServeArgs, env: HashMap<String, String>) -> anyhow::Result<Self> {
        let mut builder = config::Config::builder();
        if let Some(path) = &args.config {
            if !path.is_file() {
                bail!("config file {} does not exist", path.display());
            }
            builder = builder
                .add_source(config::File::from(path.as_path()).format(config::FileFormat::Toml));
        }
        builder = builder.add_source(
            config::Environment::with_prefix("SLM")
                .prefix_separator("_")
                .try_parsing(true)
                .list_separator(",")
                .with_list_parse_key("cors_origins")
                .source(Some(env)),
        );
        let path_str = |p: &Option<PathBuf>| p.as_ref().map(|p| p.to_string_lossy().into_owned());
        builder = builder
            .set_override_option("host", args.host.clone())?
            .set_override_option("port", args.port)?
            .set_override_option("model", path_str(&args.model))?
            .set_override_option("web_dir", path_str(&args.web_dir))?
            .set_override_option("api_key", args.api_key.clone())?
            .set_override_option("cors_origins", args.cors_origins.clone())?
            .set_override_option("max_batch", args.max_batch.map(|v| v as u64))?
            .set_override_option("kv_cache_mib", args.kv_cache_mib.map(|v| v as u64))?
            .set_override_option("queue_capacity", args.queue_capacity.map(|v| v as u64))?
            .set_override_option("prefill_chunk", args.prefill_chunk.map(|v| v as u64))?
            .set_override_option("threads", args.threads.map(|v| v as u64))?
            .set_override_option("dtype", args.dtype.map(|v| v.name()))?
            .set_override_option("isa", args.isa.map(|v| v.name()))?
            .set_override_option("workers", args.workers.map(|v| v as u64))?
            .set_override_option("max_body_bytes", args.max_body_bytes.map(|v| v as u64))?
            .set_override_option("request_timeout_secs", args.request_timeout_secs)?
            .set_override_option(
                "default_max_tokens",
                args.default_max_tokens.map(|v| v as u64),
            )?
            .set_override_option("max_tokens_limit", args.max_tokens_limit.map(|v| v as u64))?
            .set_override_option("keep_alive_secs", args.keep_alive_secs)?
            .set_override_option("shutdown_grace_secs", args.shutdown_grace_secs)?
            .set_override_option("shutdown_timeout_secs", args.shutdown_timeout_secs)?;
        let cfg: ServerConfig = builder
            .build()
            .context("reading configuration")?
            .try_deserialize()
            .context("invalid configuration value")?;
        cfg.check()?;
        Ok(cfg)
    }

    /// Rejects values that would make the server misbehave rather than fail.
    pub fn check(&self) -> anyhow::Result<()> {
        if self.max_body_bytes < 64 {
            bail!(
                "max_body_bytes must be at least 64, got {}",
                self.max_body_bytes
            );
        }
        if !(self.request_timeout_secs.is_finite() && self.request_timeout_secs > 0.0) {
            bail!(
                "request_timeout_secs must be a positive number, got {}",
                self.request_timeout_secs
            );
        }
        if !(self.keep_alive_secs.is_finite() && self.keep_alive_secs > 0.0) {
            bail!(
                "keep_alive_secs must be a positive number, got {}",
                self.keep_alive_secs
            );
        }
        if !(self.shutdown_grace_secs.is_finite() && self.shutdown_grace_secs >= 0.0) {
            bail!(
                "shutdown_grace_secs must be a number of seconds >= 0, got {}",
                self.shutdown_grace_secs
            );
        }
        if self.default_max_tokens == Some(0) || self.max_tokens_limit == 0 {
            bail!("default_max_tokens and max_tokens_limit must be at least 1");
        }
        if let Some(d) = self.default_max_tokens
            && d > self.max_tokens_limit
        {
            bail!(
                "default_max_tokens ({d}) must not exceed max_tokens_limit ({})",
                self.max_tokens_limit
            );
        }
        self.engine.validate()?;
        if self.workers == Some(0) {
            bail!("workers must be at least 1");
        }
        if self.api_key.as_deref() == Some("") {
            bail!("api_key is set but empty; unset it to disable authentication");
        }
        Ok(())
    }

    /// The model directory to load: the configured one, or for the default,
    /// `./models/tinystories-15m`, falling back to the repository's copy.
    pub fn resolve_model_dir(&self) -> anyhow::Result<PathBuf> {
        let repo_default = repo_root().join(DEFAULT_MODEL_DIR);
        let candidates: Vec<PathBuf> = if self.model == Path::new(DEFAULT_MODEL_DIR) {
            vec![self.model.clone(), repo_default]
        } else {
            vec![self.model.clone()]
        };
        for dir in &candidates {
            if dir.join("config.json").is_file() {
                return Ok(dir.clone());
            }
        }
        let looked: Vec<String> = candidates
            .iter()
            .map(|p| format!("'{}'", p.display()))
            .collect();
        bail!(
            "model directory not found: no config.json in {}. Train and export a model \
             (see docs/training.md), or pass --model <DIR> (or set SLM_MODEL) to a model \
             directory with config.json, model.safetensors and tokenizer.json",
            looked.join(" or ")
        )
    }

    /// The web UI directory: the configured one, else `./web`, else the
    /// repository's `web/`; `None` when none exists (the UI is then a 404).
    pub fn resolve_web_dir(&self) -> Option<PathBuf> {
        let candidates = match &self.web_dir {
            Some(dir) => vec![dir.clone()],
            None => vec![
                PathBuf::from(DEFAULT_WEB_DIR),
                repo_root().join(DEFAULT_WEB_DIR),
            ],
        };
        candidates.into_iter().find(|d| d.is_dir())
    }
}

/// The workspace root, known at compile time; used only as a fallback so
/// `cargo run` works from any directory inside the checkout.
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_work_out_of_the_box() {
        let c = ServerConfig::load(&ServeArgs::default(), env(&[])).unwrap();
        assert_eq!(c, ServerConfig::default());
        assert_eq!(c.host, "127.0.0.1");
        assert_eq!(c.port, 8080);
        assert!(c.cors_origins.is_empty());
        assert!(c.api_key.is_none());
    }

    #[test]
    fn dtype_and_isa_come_from_env_or_flags_and_bad_names_are_errors() {
        let c = ServerConfig::load(
            &ServeArgs::default(),
            env(&[("SLM_DTYPE", "q8"), ("SLM_ISA", "portable")]),
        )
        .unwrap();
        assert_eq!(
            (c.engine.weight_dtype, c.engine.isa),
            (WeightDtype::Q8, Some(Isa::Portable))
        );
        let args = ServeArgs {
            dtype: Some(WeightDtype::F32),
            ..Default::default()
        };
        let c = ServerConfig::load(&args, env(&[("SLM_DTYPE", "q8")])).unwrap();
        assert_eq!(c.engine.weight_dtype, WeightDtype::F32);
        let e =
            ServerConfig::load(&ServeArgs::default(), env(&[("SLM_DTYPE", "int3")])).unwrap_err();
        assert!(format!("{e:#}").contains("int3"), "{e:#}");
    }

    #[test]
    fn file_then_env_then_flags_override_in_order() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("server.toml");
        std::fs::write(
            &file,
            "port = 9000\nhost = \"0.0.0.0\"\nmax_batch = 4\ndtype = \"f16\"\ncors_origins = [\"http://a.test\"]\n",
        )
        .unwrap();
        let args = ServeArgs {
            config: Some(file.clone()),
            ..Default::default()
        };
        let c = ServerConfig::load(&args, env(&[])).unwrap();
        assert_eq!(
            (c.port, c.host.as_str(), c.engine.max_batch),
            (9000, "0.0.0.0", 4)
        );
        assert_eq!(c.cors_origins, vec!["http://a.test".to_string()]);
        assert_eq!(c.engine.weight_dtype, WeightDtype::F16);

        let e = env(&[
            ("SLM_PORT", "9001"),
            ("SLM_API_KEY", "s3cret"),
            ("SLM_CORS_ORIGINS", "http://b.test,http://c.test"),
        ]);
        let c = ServerConfig::load(&args, e.clone()).unwrap();
        assert_eq!(c.port, 9001);
        assert_eq!(c.api_key.as_deref(), Some("s3cret"));
        assert_eq!(c.cors_origins, vec!["http://b.test", "http://c.test"]);
        assert_eq!(c.engine.max_batch, 4);

        let args = ServeArgs {
            port: Some(9002),
            max_batch: Some(2),
            cors_origins: Some(vec!["*".into()]),
            ..args
        };
        let c = ServerConfig::load(&args, e).unwrap();
        assert_eq!((c.port, c.engine.max_batch), (9002, 2));
        assert_eq!(c.cors_origins, vec!["*"]);
        assert_eq!(c.api_key.as_deref(), Some("s3cret"));
    }

    #[test]
    fn numeric_api_key_stays_a_string() {
        let c =
            ServerConfig::load(&ServeArgs::default(), env(&[("SLM_API_KEY", "12345")])).unwrap();
        assert_eq!(c.api_key.as_deref(), Some("12345"));
        // Numbers of the embedded engine settings still parse from the environment.
        let c = ServerConfig::load(
            &ServeArgs::default(),
            env(&[("SLM_MAX_BATCH", "3"), ("SLM_THREADS", "1")]),
        )
        .unwrap();
        assert_eq!((c.engine.max_batch, c.engine.threads), (3, 1));
    }

    #[test]
    fn bad_values_are_reported() {
        let e =
            ServerConfig::load(&ServeArgs::default(), env(&[("SLM_PORT", "eighty")])).unwrap_err();
        assert!(format!("{e:#}").contains("port"), "{e:#}");
        let args = ServeArgs {
            max_batch: Some(0),
            ..Default::default()
        };
        let e = ServerConfig::load(&args, env(&[("SLM_KV_CACHE_MIB", "0")])).unwrap_err();
        assert!(e.to_string().contains("kv_cache_mib"), "{e}");
        let args = ServeArgs {
            default_max_tokens: Some(300),
            max_tokens_limit: Some(100),
            ..Default::default()
        };
        let e = ServerConfig::load(&args, env(&[])).unwrap_err();
        assert!(
            e.to_string().contains("must not exceed max_tokens_limit"),
            "{e}"
        );
        let args = ServeArgs {
            config: Some("/nonexistent/slm.toml".into()),
            ..Default::default()
        };
        let e = ServerConfig::load(&args, env(&[])).unwrap_err();
        assert!(e.to_string().contains("/nonexistent/slm.toml"), "{e}");
    }

    #[test]
    fn shutdown_grace_comes_from_env_or_flag_and_must_not_be_negative() {
        let e = env(&[("SLM_SHUTDOWN_GRACE_SECS", "12.5")]);
        let c = ServerConfig::load(&ServeArgs::default(), e.clone()).unwrap();
        assert_eq!(c.shutdown_grace_secs, 12.5);
        let args = ServeArgs {
            shutdown_grace_secs: Some(0.0),
            ..Default::default()
        };
        assert_eq!(
            ServerConfig::load(&args, e).unwrap().shutdown_grace_secs,
            0.0
        );
        let args = ServeArgs {
            shutdown_grace_secs: Some(-1.0),
            ..Default::default()
        };
        let e = ServerConfig::load(&args, env(&[])).unwrap_err();
        assert!(e.to_string().contains("shutdown_grace_secs"), "{e}");
    }

    #[test]
    fn missing_model_dir_names_the_path_and_the_flag() {
        let c = ServerConfig {
            model: "/nonexistent/model-dir".into(),
            ..Default::default()
        };
        let e = c.resolve_model_dir().unwrap_err().to_string();
        assert!(e.contains("/nonexistent/model-dir"), "{e}");
        assert!(e.contains("--model"), "{e}");
    }

    #[test]
    fn configured_web_dir_must_exist() {
        let dir = tempfile::tempdir().unwrap();
        let c = ServerConfig {
            web_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        };
        assert_eq!(c.resolve_web_dir(), Some(dir.path().to_path_buf()));
        let c = ServerConfig {
            web_dir: Some(dir.path().join("missing")),
            ..Default::default()
        };
        assert_eq!(c.resolve_web_dir(), None);
    }
}
