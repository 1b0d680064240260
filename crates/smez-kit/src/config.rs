//! Configuration: built-in defaults < `smez.toml` < `SMEZ_*` environment < flags.
//!
//! Loading and checking happen once, at start. Every error names the key and
//! says why its value is wrong, so an operator can fix it without reading code.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

/// The documented defaults, embedded in the binary.
pub const DEFAULTS_TOML: &str = include_str!("../config.default.toml");

/// Prefix of configuration environment variables; `__` separates sections.
pub const ENV_PREFIX: &str = "SMEZ";

/// The services of Smez that answer gRPC and own a database.
pub const SERVICES: [&str; 7] = [
    "auth",
    "workspace",
    "media",
    "render",
    "publisher",
    "analytics",
    "vault",
];

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConfigError {
    #[error("configuration key `{key}`: {reason}")]
    Invalid { key: String, reason: String },
    #[error("configuration file {path}: {reason}")]
    File { path: String, reason: String },
}

impl ConfigError {
    fn invalid(key: impl Into<String>, reason: impl Into<String>) -> Self {
        Self::Invalid {
            key: key.into(),
            reason: reason.into(),
        }
    }

    /// The offending key, when the error is about one.
    pub fn key(&self) -> Option<&str> {
        match self {
            Self::Invalid { key, .. } => Some(key),
            Self::File { .. } => None,
        }
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Settings {
    pub data_dir: PathBuf,
    pub environment: Environment,
    pub http: HttpSettings,
    pub grpc: GrpcSettings,
    pub database: DatabaseSettings,
    pub bus: BusSettings,
    pub telemetry: TelemetrySettings,
    pub internal_auth: InternalAuthSettings,
    pub vault: VaultSettings,
    pub auth: AuthSettings,
    pub workspace: WorkspaceSettings,
    pub gateway: GatewaySettings,
    pub integrations: IntegrationsSettings,
    pub media: MediaSettings,
    pub render: RenderSettings,
    pub publishing: PublishingSettings,
    pub platforms: PlatformsSettings,
    pub shutdown: ShutdownSettings,
    pub services: HashMap<String, String>,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Environment {
    Development,
    Production,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct HttpSettings {
    pub listen: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub trusted_proxies: Vec<String>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GrpcSettings {
    pub listen: String,
    pub tls_cert_file: String,
    pub tls_key_file: String,
    pub tls_ca_file: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct DatabaseSettings {
    pub url: String,
    pub owner_url: String,
    pub max_connections: u32,
    pub schema_prefix: String,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BusSettings {
    pub url: String,
    pub prefix: String,
    pub prefetch: u16,
    pub max_attempts: u32,
    pub retry_delays_ms: Vec<u64>,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct TelemetrySettings {
    pub otlp_endpoint: String,
    pub log_level: String,
    pub log_format: LogFormat,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    Pretty,
    Json,
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct InternalAuthSettings {
    pub signing_key: String,
    pub trusted_keys: Vec<String>,
    pub token_ttl_secs: u64,
}

impl std::fmt::Debug for InternalAuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("InternalAuthSettings")
            .field("signing_key", &redacted(&self.signing_key))
            .field("trusted_keys", &self.trusted_keys)
            .field("token_ttl_secs", &self.token_ttl_secs)
            .finish()
    }
}

/// How a configured secret prints: whether it is set, never what it is.
fn redacted(secret: &str) -> &'static str {
    if secret.is_empty() { "" } else { "[redacted]" }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct VaultSettings {
    pub root_key: String,
    pub root_key_file: String,
    pub max_seals_per_version: u64,
    pub rewrap_interval_secs: u64,
    pub rewrap_batch: u32,
}

impl std::fmt::Debug for VaultSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VaultSettings")
            .field("root_key", &redacted(&self.root_key))
            .field("root_key_file", &self.root_key_file)
            .field("max_seals_per_version", &self.max_seals_per_version)
            .field("rewrap_interval_secs", &self.rewrap_interval_secs)
            .field("rewrap_batch", &self.rewrap_batch)
            .finish()
    }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct AuthSettings {
    pub signing_keys: Vec<String>,
    pub issuer: String,
    pub access_token_ttl_secs: u64,
    pub refresh_token_ttl_secs: u64,
    pub max_failed_logins: u32,
    pub max_failed_logins_per_ip: u32,
    pub lockout_base_secs: u64,
    pub lockout_max_secs: u64,
    pub min_age_years: u32,
    pub hashing_concurrency: usize,
}

impl std::fmt::Debug for AuthSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthSettings")
            .field(
                "signing_keys",
                &format!("{} key(s) [redacted]", self.signing_keys.len()),
            )
            .field("issuer", &self.issuer)
            .field("access_token_ttl_secs", &self.access_token_ttl_secs)
            .field("refresh_token_ttl_secs", &self.refresh_token_ttl_secs)
            .field("max_failed_logins", &self.max_failed_logins)
            .field("max_failed_logins_per_ip", &self.max_failed_logins_per_ip)
            .field("lockout_base_secs", &self.lockout_base_secs)
            .field("lockout_max_secs", &self.lockout_max_secs)
            .field("min_age_years", &self.min_age_years)
            .field("hashing_concurrency", &self.hashing_concurrency)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct WorkspaceSettings {
    pub invitation_ttl_secs: u64,
    pub purge_retry_secs: u64,
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct GatewaySettings {
    pub public_origin: String,
    pub allowed_origins: Vec<String>,
    pub rate_limit_per_ip_per_minute: u32,
    pub rate_limit_per_user_per_minute: u32,
    pub auth_rate_limit_per_ip_per_minute: u32,
    pub permission_cache_secs: u64,
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct IntegrationsSettings {
    pub state_key: String,
    pub redirect_base: String,
    pub frontend_url: String,
    pub state_ttl_secs: u64,
    pub pending_ttl_secs: u32,
    pub refresh_ahead_secs: u64,
    pub refresh_check_interval_secs: u64,
    pub refresh_lease_secs: u64,
    pub expiring_warning_secs: u64,
}

impl IntegrationsSettings {
    /// Where platforms send the browser back: `<redirect_base or
    /// public_origin>/v1/integrations/<platform>/callback`, registered with
    /// each platform exactly so.
    pub fn redirect_uri(&self, gateway: &GatewaySettings, platform: &str) -> String {
        let base = if self.redirect_base.is_empty() {
            &gateway.public_origin
        } else {
            &self.redirect_base
        };
        format!("{}/v1/integrations/{platform}/callback", base.trim_end_matches('/'))
    }

    /// Where the browser lands after a callback (an outcome is added to its query).
    pub fn landing_url(&self, gateway: &GatewaySettings) -> String {
        if self.frontend_url.is_empty() {
            format!(
                "{}/v1/integrations/outcome",
                gateway.public_origin.trim_end_matches('/')
            )
        } else {
            self.frontend_url.clone()
        }
    }
}

impl std::fmt::Debug for IntegrationsSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IntegrationsSettings")
            .field("state_key", &redacted(&self.state_key))
            .field("redirect_base", &self.redirect_base)
            .field("frontend_url", &self.frontend_url)
            .field("state_ttl_secs", &self.state_ttl_secs)
            .field("pending_ttl_secs", &self.pending_ttl_secs)
            .field("refresh_ahead_secs", &self.refresh_ahead_secs)
            .field("refresh_check_interval_secs", &self.refresh_check_interval_secs)
            .field("refresh_lease_secs", &self.refresh_lease_secs)
            .field("expiring_warning_secs", &self.expiring_warning_secs)
            .finish()
    }
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct MediaSettings {
    pub store: MediaStoreKind,
    pub local_dir: String,
    pub upload_dir: String,
    pub s3_bucket: String,
    pub s3_prefix: String,
    pub s3_endpoint: String,
    pub s3_region: String,
    pub s3_access_key_id: String,
    pub s3_secret_access_key: String,
    pub s3_allow_http: bool,
    pub max_upload_bytes: u64,
    pub workspace_quota_bytes: u64,
    pub max_transcript_bytes: u64,
    pub resumable_ttl_secs: u64,
    pub ffmpeg: String,
    pub ffprobe: String,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum MediaStoreKind {
    Local,
    S3,
}

impl MediaSettings {
    /// Where the local store keeps objects: `local_dir`, or `data_dir/media`.
    pub fn local_root(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.local_dir.is_empty() {
            data_dir.join("media")
        } else {
            PathBuf::from(&self.local_dir)
        }
    }

    /// Where uploads are received before they are checked: `upload_dir`, or `data_dir/uploads`.
    pub fn upload_root(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.upload_dir.is_empty() {
            data_dir.join("uploads")
        } else {
            PathBuf::from(&self.upload_dir)
        }
    }
}

/// Render workers (`[render]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct RenderSettings {
    /// A render still running after this long is stopped and failed.
    pub timeout_secs: u64,
    /// A worker renews its claim on a render this often (a third of it);
    /// one that stops renewing for this long is presumed dead.
    pub lease_secs: u64,
    /// How often stranded renders are looked for and sent again.
    pub reconcile_interval_secs: u64,
    /// Where inputs and work files live while a render runs: `work_dir`, or `data_dir/render-work`.
    pub work_dir: String,
    /// libx264's speed/size trade-off and quality.
    pub x264_preset: String,
    pub crf: u32,
}

/// Scheduling and publishing (`[publishing]`).
#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PublishingSettings {
    /// How often the scheduler looks for due targets.
    pub scheduler_tick_ms: u64,
    /// Targets one scheduler round claims at most.
    pub dispatch_batch: u32,
    /// Publishes one process runs at once.
    pub worker_concurrency: usize,
    /// A worker renews its claim every third of this; a target whose worker
    /// stopped renewing for this long is taken over.
    pub lease_secs: u64,
    /// How often targets whose job was lost or whose worker died are re-driven.
    pub reconcile_interval_secs: u64,
    /// A queued target no worker took for this long gets its job again.
    pub queued_patience_secs: u64,
    /// A target not started this long after its due time raises an alert.
    pub alert_after_secs: u64,
    /// Attempts at a transient failure before the target fails.
    pub max_attempts: u32,
    /// The first wait after a transient failure; doubled each attempt (at most 10 minutes).
    pub retry_base_ms: u64,
    /// How often a worker asks the platform how processing goes.
    pub poll_interval_ms: u64,
    /// How long one worker waits on processing before handing the target back.
    pub poll_window_secs: u64,
    /// Limits known in advance, checked before calling (the target waits
    /// instead of burning an attempt).
    pub instagram_posts_per_24h: u32,
    pub youtube_uploads_per_day: u32,
    pub tiktok_inits_per_minute: u32,
}

impl RenderSettings {
    pub fn work_root(&self, data_dir: &std::path::Path) -> PathBuf {
        if self.work_dir.is_empty() {
            data_dir.join("render-work")
        } else {
            PathBuf::from(&self.work_dir)
        }
    }
}

impl std::fmt::Debug for MediaSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MediaSettings")
            .field("store", &self.store)
            .field("local_dir", &self.local_dir)
            .field("upload_dir", &self.upload_dir)
            .field("s3_bucket", &self.s3_bucket)
            .field("s3_prefix", &self.s3_prefix)
            .field("s3_endpoint", &self.s3_endpoint)
            .field("s3_region", &self.s3_region)
            .field("s3_access_key_id", &self.s3_access_key_id)
            .field("s3_secret_access_key", &redacted(&self.s3_secret_access_key))
            .field("s3_allow_http", &self.s3_allow_http)
            .field("max_upload_bytes", &self.max_upload_bytes)
            .field("workspace_quota_bytes", &self.workspace_quota_bytes)
            .field("max_transcript_bytes", &self.max_transcript_bytes)
            .field("resumable_ttl_secs", &self.resumable_ttl_secs)
            .field("ffmpeg", &self.ffmpeg)
            .field("ffprobe", &self.ffprobe)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlatformsSettings {
    pub simulators: SimulatorMode,
    pub simulator_listen: String,
    pub tiktok: PlatformSettings,
    pub instagram: PlatformSettings,
    pub youtube: PlatformSettings,
}

#[derive(Clone, Copy, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum SimulatorMode {
    /// Simulators for every platform without credentials.
    Auto,
    /// Never: a platform without credentials is unavailable.
    Off,
}

#[derive(Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct PlatformSettings {
    pub client_id: String,
    pub client_secret: String,
    pub auth_base: String,
    pub token_base: String,
    pub api_base: String,
    pub upload_base: String,
}

impl PlatformSettings {
    /// Whether real client credentials are configured.
    pub fn has_credentials(&self) -> bool {
        !self.client_id.is_empty() && !self.client_secret.is_empty()
    }
}

impl std::fmt::Debug for PlatformSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PlatformSettings")
            .field("client_id", &self.client_id)
            .field("client_secret", &redacted(&self.client_secret))
            .field("auth_base", &self.auth_base)
            .field("token_base", &self.token_base)
            .field("api_base", &self.api_base)
            .field("upload_base", &self.upload_base)
            .finish()
    }
}

#[derive(Clone, Debug, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ShutdownSettings {
    pub grace_secs: u64,
    pub drain_delay_secs: u64,
}

/// Where the layered configuration comes from.
#[derive(Clone, Debug, Default)]
pub struct Sources {
    /// A config file that must exist (`--config`). Without it, `smez.toml` in
    /// the working directory is read if present.
    pub file: Option<PathBuf>,
    /// The environment to read `SMEZ_*` variables from; `None` reads the process's.
    pub env: Option<HashMap<String, String>>,
    /// Highest-precedence overrides from command-line flags, as (key, value).
    pub overrides: Vec<(String, String)>,
}

impl Settings {
    /// Loads and checks the configuration.
    pub fn load(sources: &Sources) -> Result<Self, ConfigError> {
        let mut builder =
            config::Config::builder().add_source(config::File::from_str(DEFAULTS_TOML, config::FileFormat::Toml));
        match &sources.file {
            Some(path) => {
                if !path.is_file() {
                    return Err(ConfigError::File {
                        path: path.display().to_string(),
                        reason: "no such file".into(),
                    });
                }
                builder = builder.add_source(config::File::from(path.as_path()).required(true));
            }
            None => builder = builder.add_source(config::File::from(Path::new("smez.toml")).required(false)),
        }
        let environment = config::Environment::with_prefix(ENV_PREFIX)
            .prefix_separator("_")
            .separator("__")
            .try_parsing(true)
            .list_separator(",")
            .with_list_parse_key("bus.retry_delays_ms")
            .with_list_parse_key("internal_auth.trusted_keys")
            .with_list_parse_key("auth.signing_keys")
            .with_list_parse_key("gateway.allowed_origins")
            .with_list_parse_key("http.trusted_proxies")
            .source(sources.env.clone());
        builder = builder.add_source(environment);
        for (key, value) in &sources.overrides {
            builder = builder
                .set_override(key.as_str(), value.as_str())
                .map_err(|e| ConfigError::invalid(key, e.to_string()))?;
        }
        let raw = builder.build().map_err(config_error)?;
        let settings: Settings = raw.try_deserialize().map_err(config_error)?;
        settings.validate()?;
        Ok(settings)
    }

    /// The one semantic check of every value, run after parsing.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.data_dir.as_os_str().is_empty() {
            return Err(ConfigError::invalid("data_dir", "must not be empty"));
        }
        parse_listen("http.listen", &self.http.listen)?;
        parse_listen("grpc.listen", &self.grpc.listen)?;
        check_url_scheme("database.url", &self.database.url, &["postgres", "postgresql"])?;
        check_url_scheme(
            "database.owner_url",
            &self.database.owner_url,
            &["postgres", "postgresql"],
        )?;
        if !self.database.owner_url.is_empty() && self.database.url.is_empty() {
            return Err(ConfigError::invalid(
                "database.owner_url",
                "only meaningful with database.url (PostgreSQL)",
            ));
        }
        both_or_neither(
            ("http.tls_cert_file", &self.http.tls_cert_file),
            ("http.tls_key_file", &self.http.tls_key_file),
        )?;
        for (index, proxy) in self.http.trusted_proxies.iter().enumerate() {
            if proxy.trim().parse::<std::net::IpAddr>().is_err() {
                return Err(ConfigError::invalid(
                    format!("http.trusted_proxies[{index}]"),
                    format!("`{proxy}` is not an IP address"),
                ));
            }
        }
        both_or_neither(
            ("grpc.tls_cert_file", &self.grpc.tls_cert_file),
            ("grpc.tls_key_file", &self.grpc.tls_key_file),
        )?;
        if !self.grpc.tls_ca_file.is_empty() && self.grpc.tls_cert_file.is_empty() {
            return Err(ConfigError::invalid(
                "grpc.tls_ca_file",
                "mutual TLS also needs grpc.tls_cert_file and grpc.tls_key_file",
            ));
        }
        if self.database.max_connections == 0 {
            return Err(ConfigError::invalid("database.max_connections", "must be at least 1"));
        }
        if !self
            .database
            .schema_prefix
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        {
            return Err(ConfigError::invalid(
                "database.schema_prefix",
                "only lowercase letters, digits and `_` (it becomes part of an SQL identifier)",
            ));
        }
        check_url_scheme("bus.url", &self.bus.url, &["amqp"])?;
        if self.bus.prefix.is_empty()
            || !self
                .bus
                .prefix
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
        {
            return Err(ConfigError::invalid(
                "bus.prefix",
                "must be non-empty letters, digits, `.`, `_` or `-`",
            ));
        }
        if self.bus.prefetch == 0 {
            return Err(ConfigError::invalid(
                "bus.prefetch",
                "must be at least 1 (0 would let RabbitMQ push unbounded work to one worker)",
            ));
        }
        if self.bus.max_attempts == 0 {
            return Err(ConfigError::invalid("bus.max_attempts", "must be at least 1"));
        }
        if self.bus.retry_delays_ms.is_empty() {
            return Err(ConfigError::invalid("bus.retry_delays_ms", "needs at least one delay"));
        }
        if let Some(zero) = self.bus.retry_delays_ms.iter().position(|d| *d == 0) {
            return Err(ConfigError::invalid(
                "bus.retry_delays_ms",
                format!("delay #{} is 0; retries must wait", zero + 1),
            ));
        }
        check_url_scheme(
            "telemetry.otlp_endpoint",
            &self.telemetry.otlp_endpoint,
            &["http", "https"],
        )?;
        tracing_subscriber::EnvFilter::try_new(&self.telemetry.log_level)
            .map_err(|e| ConfigError::invalid("telemetry.log_level", e.to_string()))?;
        if !(1..=3600).contains(&self.internal_auth.token_ttl_secs) {
            return Err(ConfigError::invalid(
                "internal_auth.token_ttl_secs",
                "must be between 1 and 3600 seconds (internal tokens are short-lived)",
            ));
        }
        if self.environment == Environment::Production && self.internal_auth.signing_key.is_empty() {
            return Err(ConfigError::invalid(
                "internal_auth.signing_key",
                "required in production (generate one with `smez keygen`)",
            ));
        }
        self.validate_vault()?;
        self.validate_auth()?;
        self.validate_gateway()?;
        self.validate_platforms()?;
        self.validate_integrations()?;
        self.validate_media()?;
        self.validate_render()?;
        self.validate_publishing()?;
        if self.workspace.invitation_ttl_secs == 0 || self.workspace.purge_retry_secs == 0 {
            let key = if self.workspace.invitation_ttl_secs == 0 {
                "workspace.invitation_ttl_secs"
            } else {
                "workspace.purge_retry_secs"
            };
            return Err(ConfigError::invalid(key, "must be at least 1"));
        }
        for service in SERVICES {
            let key = format!("services.{service}");
            match self.services.get(service) {
                None => return Err(ConfigError::invalid(key, "missing endpoint")),
                Some(url) => {
                    if url.is_empty() {
                        return Err(ConfigError::invalid(key, "endpoint must not be empty"));
                    }
                    check_url_scheme(&key, url, &["http", "https"])?;
                }
            }
        }
        if let Some(unknown) = self.services.keys().find(|s| !SERVICES.contains(&s.as_str())) {
            return Err(ConfigError::invalid(
                format!("services.{unknown}"),
                format!("unknown service; known: {}", SERVICES.join(", ")),
            ));
        }
        Ok(())
    }

    /// Only the vault process needs its root key; the vault itself refuses to
    /// start without one in production.
    fn validate_vault(&self) -> Result<(), ConfigError> {
        let vault = &self.vault;
        if !vault.root_key.is_empty() && !vault.root_key_file.is_empty() {
            return Err(ConfigError::invalid(
                "vault.root_key",
                "set either vault.root_key or vault.root_key_file, not both",
            ));
        }
        if !vault.root_key.is_empty() && decoded_len(&vault.root_key) != Some(32) {
            return Err(ConfigError::invalid(
                "vault.root_key",
                "must be base64 of exactly 32 bytes",
            ));
        }
        if !(1..=(1u64 << 31)).contains(&vault.max_seals_per_version) {
            return Err(ConfigError::invalid(
                "vault.max_seals_per_version",
                "must be between 1 and 2^31 (AES-GCM with random nonces allows 2^32 per key at most)",
            ));
        }
        if vault.rewrap_interval_secs == 0 || vault.rewrap_batch == 0 {
            let key = if vault.rewrap_batch == 0 {
                "vault.rewrap_batch"
            } else {
                "vault.rewrap_interval_secs"
            };
            return Err(ConfigError::invalid(key, "must be at least 1"));
        }
        Ok(())
    }

    fn validate_auth(&self) -> Result<(), ConfigError> {
        let auth = &self.auth;
        if auth.issuer.trim().is_empty() {
            return Err(ConfigError::invalid("auth.issuer", "must not be empty"));
        }
        if !(60..=3600).contains(&auth.access_token_ttl_secs) {
            return Err(ConfigError::invalid(
                "auth.access_token_ttl_secs",
                "must be between 60 and 3600 seconds (access tokens are short-lived)",
            ));
        }
        if auth.refresh_token_ttl_secs < auth.access_token_ttl_secs {
            return Err(ConfigError::invalid(
                "auth.refresh_token_ttl_secs",
                "must be at least auth.access_token_ttl_secs",
            ));
        }
        for (key, value) in [
            ("auth.max_failed_logins", u64::from(auth.max_failed_logins)),
            (
                "auth.max_failed_logins_per_ip",
                u64::from(auth.max_failed_logins_per_ip),
            ),
            ("auth.lockout_base_secs", auth.lockout_base_secs),
            ("auth.hashing_concurrency", auth.hashing_concurrency as u64),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if auth.lockout_max_secs < auth.lockout_base_secs {
            return Err(ConfigError::invalid(
                "auth.lockout_max_secs",
                "must be at least auth.lockout_base_secs",
            ));
        }
        if auth.min_age_years < 13 {
            return Err(ConfigError::invalid(
                "auth.min_age_years",
                "must be at least 13 (Smez is not for children under 13)",
            ));
        }
        if let Some(index) = auth.signing_keys.iter().position(|k| k.trim().is_empty()) {
            return Err(ConfigError::invalid(
                format!("auth.signing_keys[{index}]"),
                "empty key (generate one with `smez keygen`)",
            ));
        }
        Ok(())
    }

    fn validate_gateway(&self) -> Result<(), ConfigError> {
        let gateway = &self.gateway;
        check_origin("gateway.public_origin", &gateway.public_origin)?;
        for (index, origin) in gateway.allowed_origins.iter().enumerate() {
            check_origin(&format!("gateway.allowed_origins[{index}]"), origin)?;
        }
        for (key, value) in [
            (
                "gateway.rate_limit_per_ip_per_minute",
                gateway.rate_limit_per_ip_per_minute,
            ),
            (
                "gateway.rate_limit_per_user_per_minute",
                gateway.rate_limit_per_user_per_minute,
            ),
            (
                "gateway.auth_rate_limit_per_ip_per_minute",
                gateway.auth_rate_limit_per_ip_per_minute,
            ),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if gateway.permission_cache_secs > 60 {
            return Err(ConfigError::invalid(
                "gateway.permission_cache_secs",
                "at most 60 (it bounds how long a removed member keeps access)",
            ));
        }
        Ok(())
    }

    fn validate_integrations(&self) -> Result<(), ConfigError> {
        let integrations = &self.integrations;
        if !integrations.state_key.is_empty() && decoded_len(&integrations.state_key) != Some(32) {
            return Err(ConfigError::invalid(
                "integrations.state_key",
                "must be base64 of exactly 32 bytes",
            ));
        }
        check_url_scheme(
            "integrations.redirect_base",
            &integrations.redirect_base,
            &["http", "https"],
        )?;
        check_url_scheme(
            "integrations.frontend_url",
            &integrations.frontend_url,
            &["http", "https"],
        )?;
        if !(60..=3600).contains(&integrations.state_ttl_secs) {
            return Err(ConfigError::invalid(
                "integrations.state_ttl_secs",
                "must be between 60 and 3600 (RFC 9700: a state lives minutes)",
            ));
        }
        if !(60..=900).contains(&integrations.pending_ttl_secs) {
            return Err(ConfigError::invalid(
                "integrations.pending_ttl_secs",
                "must be between 60 and 900 (the vault keeps pending transfers 15 minutes at most)",
            ));
        }
        for (key, value) in [
            (
                "integrations.refresh_check_interval_secs",
                integrations.refresh_check_interval_secs,
            ),
            ("integrations.refresh_lease_secs", integrations.refresh_lease_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    fn validate_media(&self) -> Result<(), ConfigError> {
        let media = &self.media;
        if media.store == MediaStoreKind::S3 && media.s3_bucket.is_empty() {
            return Err(ConfigError::invalid(
                "media.s3_bucket",
                "required when media.store = \"s3\"",
            ));
        }
        check_url_scheme("media.s3_endpoint", &media.s3_endpoint, &["http", "https"])?;
        if media.s3_access_key_id.is_empty() != media.s3_secret_access_key.is_empty() {
            return Err(ConfigError::invalid(
                "media.s3_secret_access_key",
                "s3_access_key_id and s3_secret_access_key go together",
            ));
        }
        for (key, value) in [
            ("media.max_upload_bytes", media.max_upload_bytes),
            ("media.workspace_quota_bytes", media.workspace_quota_bytes),
            ("media.max_transcript_bytes", media.max_transcript_bytes),
            ("media.resumable_ttl_secs", media.resumable_ttl_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        if media.max_transcript_bytes > 3 * 1024 * 1024 {
            return Err(ConfigError::invalid(
                "media.max_transcript_bytes",
                "at most 3 MiB (a transcript travels in one gRPC message)",
            ));
        }
        for (key, value) in [("media.ffmpeg", &media.ffmpeg), ("media.ffprobe", &media.ffprobe)] {
            if value.is_empty() {
                return Err(ConfigError::invalid(key, "must name a program"));
            }
        }
        Ok(())
    }

    fn validate_publishing(&self) -> Result<(), ConfigError> {
        let p = &self.publishing;
        for (key, value) in [
            ("publishing.scheduler_tick_ms", p.scheduler_tick_ms),
            ("publishing.dispatch_batch", u64::from(p.dispatch_batch)),
            ("publishing.worker_concurrency", p.worker_concurrency as u64),
            ("publishing.lease_secs", p.lease_secs),
            ("publishing.reconcile_interval_secs", p.reconcile_interval_secs),
            ("publishing.queued_patience_secs", p.queued_patience_secs),
            ("publishing.alert_after_secs", p.alert_after_secs),
            ("publishing.max_attempts", u64::from(p.max_attempts)),
            ("publishing.retry_base_ms", p.retry_base_ms),
            ("publishing.poll_interval_ms", p.poll_interval_ms),
            ("publishing.poll_window_secs", p.poll_window_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        Ok(())
    }

    fn validate_render(&self) -> Result<(), ConfigError> {
        let render = &self.render;
        for (key, value) in [
            ("render.timeout_secs", render.timeout_secs),
            ("render.lease_secs", render.lease_secs),
            ("render.reconcile_interval_secs", render.reconcile_interval_secs),
        ] {
            if value == 0 {
                return Err(ConfigError::invalid(key, "must be at least 1"));
            }
        }
        const PRESETS: [&str; 9] = [
            "ultrafast",
            "superfast",
            "veryfast",
            "faster",
            "fast",
            "medium",
            "slow",
            "slower",
            "veryslow",
        ];
        if !PRESETS.contains(&render.x264_preset.as_str()) {
            return Err(ConfigError::invalid(
                "render.x264_preset",
                format!("one of {}", PRESETS.join(", ")),
            ));
        }
        if render.crf > 51 {
            return Err(ConfigError::invalid("render.crf", "from 0 to 51"));
        }
        Ok(())
    }

    fn validate_platforms(&self) -> Result<(), ConfigError> {
        parse_listen("platforms.simulator_listen", &self.platforms.simulator_listen)?;
        for (name, platform) in [
            ("tiktok", &self.platforms.tiktok),
            ("instagram", &self.platforms.instagram),
            ("youtube", &self.platforms.youtube),
        ] {
            if platform.client_id.is_empty() != platform.client_secret.is_empty() {
                return Err(ConfigError::invalid(
                    format!("platforms.{name}.client_secret"),
                    "client_id and client_secret go together",
                ));
            }
            for (key, url) in [
                ("auth_base", &platform.auth_base),
                ("token_base", &platform.token_base),
                ("api_base", &platform.api_base),
                ("upload_base", &platform.upload_base),
            ] {
                let key = format!("platforms.{name}.{key}");
                if url.is_empty() {
                    return Err(ConfigError::invalid(key, "must not be empty"));
                }
                check_url_scheme(&key, url, &["https", "http"])?;
            }
        }
        Ok(())
    }

    pub fn http_listen(&self) -> SocketAddr {
        parse_listen("http.listen", &self.http.listen).expect("validated at load")
    }

    pub fn grpc_listen(&self) -> SocketAddr {
        parse_listen("grpc.listen", &self.grpc.listen).expect("validated at load")
    }

    pub fn service_endpoint(&self, service: &str) -> &str {
        self.services
            .get(service)
            .map(String::as_str)
            .expect("validated at load")
    }

    pub fn shutdown_grace(&self) -> Duration {
        Duration::from_secs(self.shutdown.grace_secs)
    }

    pub fn drain_delay(&self) -> Duration {
        Duration::from_secs(self.shutdown.drain_delay_secs)
    }
}

fn parse_listen(key: &str, value: &str) -> Result<SocketAddr, ConfigError> {
    value
        .parse()
        .map_err(|_| ConfigError::invalid(key, format!("`{value}` is not an address like 127.0.0.1:8080")))
}

/// Two settings that only work together.
fn both_or_neither(a: (&str, &str), b: (&str, &str)) -> Result<(), ConfigError> {
    match (a.1.is_empty(), b.1.is_empty()) {
        (true, false) => Err(ConfigError::invalid(a.0, format!("required when {} is set", b.0))),
        (false, true) => Err(ConfigError::invalid(b.0, format!("required when {} is set", a.0))),
        _ => Ok(()),
    }
}

/// An origin as browsers send it: scheme, host and optional port, no path.
fn check_origin(key: &str, origin: &str) -> Result<(), ConfigError> {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains('/') => Ok(()),
        _ => Err(ConfigError::invalid(
            key,
            format!("`{origin}` is not an origin like https://app.example.com (scheme and host, no path)"),
        )),
    }
}

/// Empty means "not configured" and is always allowed.
fn check_url_scheme(key: &str, value: &str, schemes: &[&str]) -> Result<(), ConfigError> {
    if value.is_empty() {
        return Ok(());
    }
    let scheme = value.split_once("://").map(|(scheme, _)| scheme);
    match scheme {
        Some(s) if schemes.contains(&s) => Ok(()),
        _ => Err(ConfigError::invalid(
            key,
            format!(
                "`{}` must be a URL starting with {}://",
                redact_url(value),
                schemes.join(":// or ")
            ),
        )),
    }
}

fn decoded_len(base64_text: &str) -> Option<usize> {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD
        .decode(base64_text.trim())
        .ok()
        .map(|bytes| bytes.len())
}

/// Hides a password in a URL so that errors never print secrets.
pub fn redact_url(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(start), Some(at)) if at > start => {
            let userinfo = &url[start + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{}:***{}", &url[..start + 3], user, &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

fn config_error(error: config::ConfigError) -> ConfigError {
    match error {
        config::ConfigError::Type {
            key: Some(key),
            unexpected,
            expected,
            ..
        } => ConfigError::invalid(key, format!("expected {expected}, found {unexpected}")),
        config::ConfigError::Message(message) => {
            unknown_field(&message).unwrap_or_else(|| ConfigError::invalid("(configuration)", message))
        }
        config::ConfigError::At {
            error, key: Some(key), ..
        } => match config_error(*error) {
            // An unknown key inside a section: report its full path.
            ConfigError::Invalid { key: inner, reason } if inner != "(configuration)" => {
                ConfigError::invalid(format!("{key}.{inner}"), reason)
            }
            ConfigError::Invalid { reason, .. } => ConfigError::invalid(key, reason),
            file => file,
        },
        config::ConfigError::FileParse { uri, cause } => ConfigError::File {
            path: uri.unwrap_or_default(),
            reason: cause.to_string(),
        },
        config::ConfigError::Foreign(cause) => ConfigError::invalid("(configuration)", cause.to_string()),
        other => ConfigError::invalid("(configuration)", other.to_string()),
    }
}

/// serde reports unknown keys as "unknown field `x`, expected ...", and
/// unknown enum values as "enum X does not have variant constructor y".
fn unknown_field(message: &str) -> Option<ConfigError> {
    if let Some((_, value)) = message.split_once("does not have variant constructor ") {
        let choices = if message.contains("LogFormat") {
            "pretty, json"
        } else {
            "development, production"
        };
        return Some(ConfigError::invalid(
            "(configuration)",
            format!("`{value}` is not one of: {choices}"),
        ));
    }
    let rest = message.strip_prefix("unknown field `")?;
    let (field, _) = rest.split_once('`')?;
    Some(ConfigError::invalid(field, "unknown key (a typo?)"))
}
