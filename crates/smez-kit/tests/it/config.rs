use std::collections::HashMap;
use std::io::Write;

use smez_kit::Settings;
use smez_kit::config::{ConfigError, Environment, Sources};

fn env(pairs: &[(&str, &str)]) -> Option<HashMap<String, String>> {
    Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect())
}

fn file(contents: &str) -> tempfile_path::TempFile {
    tempfile_path::TempFile::with(contents)
}

/// A tiny temp-file helper (no extra crate for one test).
mod tempfile_path {
    pub struct TempFile(pub std::path::PathBuf);

    impl TempFile {
        pub fn with(contents: &str) -> Self {
            let path = std::env::temp_dir().join(format!("smez-config-{}.toml", uuid::Uuid::new_v4()));
            let mut file = std::fs::File::create(&path).unwrap();
            super::Write::write_all(&mut file, contents.as_bytes()).unwrap();
            Self(path)
        }
    }

    impl Drop for TempFile {
        fn drop(&mut self) {
            let _ = std::fs::remove_file(&self.0);
        }
    }
}

fn load(
    file: Option<&tempfile_path::TempFile>,
    env_pairs: &[(&str, &str)],
    overrides: &[(&str, &str)],
) -> Result<Settings, ConfigError> {
    Settings::load(&Sources {
        file: file.map(|f| f.0.clone()),
        env: env(env_pairs),
        overrides: overrides
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    })
}

#[test]
fn defaults_are_the_documented_embedded_shape() {
    let settings = load(None, &[], &[]).unwrap();
    assert_eq!(settings.http.listen, "127.0.0.1:8080");
    assert_eq!(settings.data_dir, std::path::PathBuf::from("./.smez"));
    assert_eq!(settings.environment, Environment::Development);
    assert!(settings.database.url.is_empty() && settings.bus.url.is_empty());
    assert_eq!(settings.bus.retry_delays_ms, vec![1000, 10000, 60000, 300000]);
}

#[test]
fn file_beats_defaults_env_beats_file_flags_beat_env() {
    let toml = file("data_dir = \"/from/file\"\n[http]\nlisten = \"127.0.0.1:9000\"\n[bus]\nprefetch = 4\n");
    let from_file = load(Some(&toml), &[], &[]).unwrap();
    assert_eq!(from_file.http.listen, "127.0.0.1:9000");
    assert_eq!(from_file.bus.prefetch, 4);
    assert_eq!(from_file.bus.max_attempts, 5, "untouched keys keep their defaults");

    let from_env = load(
        Some(&toml),
        &[
            ("SMEZ_HTTP__LISTEN", "127.0.0.1:9100"),
            ("SMEZ_DATA_DIR", "/from/env"),
            ("SMEZ_BUS__RETRY_DELAYS_MS", "5,50"),
        ],
        &[],
    )
    .unwrap();
    assert_eq!(from_env.http.listen, "127.0.0.1:9100");
    assert_eq!(from_env.bus.prefetch, 4, "the file still applies where env is silent");
    assert_eq!(from_env.data_dir, std::path::PathBuf::from("/from/env"));
    assert_eq!(from_env.bus.retry_delays_ms, vec![5, 50]);

    let from_flag = load(
        Some(&toml),
        &[("SMEZ_DATA_DIR", "/from/env")],
        &[("data_dir", "/from/flag")],
    )
    .unwrap();
    assert_eq!(from_flag.data_dir, std::path::PathBuf::from("/from/flag"));
}

fn invalid_key(result: Result<Settings, ConfigError>) -> (String, String) {
    match result {
        Err(ConfigError::Invalid { key, reason }) => (key, reason),
        other => panic!("expected an invalid-key error, got {other:?}"),
    }
}

#[test]
fn each_kind_of_bad_value_names_its_key_and_why() {
    // (environment, key named, words in the reason)
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a str, &'a str);
    let cases: &[Case] = &[
        (&[("SMEZ_BUS__PREFETCH", "many")], "bus.prefetch", "expected"),
        (&[("SMEZ_BUS__PREFETCH", "70000")], "bus.prefetch", ""),
        (&[("SMEZ_BUS__PREFETCH", "0")], "bus.prefetch", "at least 1"),
        (&[("SMEZ_HTTP__LISTEN", "localhost")], "http.listen", "not an address"),
        (&[("SMEZ_DATABASE__URL", "mysql://x")], "database.url", "postgres://"),
        (&[("SMEZ_BUS__URL", "redis://x")], "bus.url", "amqp://"),
        (
            &[("SMEZ_BUS__RETRY_DELAYS_MS", "100,0")],
            "bus.retry_delays_ms",
            "delay #2 is 0",
        ),
        (
            &[("SMEZ_ENVIRONMENT", "staging")],
            "environment",
            "development, production",
        ),
        (
            &[("SMEZ_TELEMETRY__LOG_FORMAT", "xml")],
            "telemetry.log_format",
            "pretty, json",
        ),
        (
            &[("SMEZ_INTERNAL_AUTH__TOKEN_TTL_SECS", "86400")],
            "internal_auth.token_ttl_secs",
            "short-lived",
        ),
        (
            &[("SMEZ_ENVIRONMENT", "production")],
            "internal_auth.signing_key",
            "required in production",
        ),
        (&[("SMEZ_SERVICES__AUTH", "auth:50051")], "services.auth", "http://"),
        (
            &[("SMEZ_SERVICES__BILLING", "http://x")],
            "services.billing",
            "unknown service",
        ),
        (&[("SMEZ_HTTP__LSTEN", "127.0.0.1:1")], "http.lsten", "unknown key"),
        (
            &[("SMEZ_DATABASE__SCHEMA_PREFIX", "a;drop")],
            "database.schema_prefix",
            "identifier",
        ),
    ];
    for (pairs, key, reason) in cases {
        let (got_key, got_reason) = invalid_key(load(None, pairs, &[]));
        assert_eq!(&got_key, key, "for {pairs:?}: {got_reason}");
        assert!(
            got_reason.contains(reason),
            "for {pairs:?}: reason `{got_reason}` lacks `{reason}`"
        );
    }
}

#[test]
fn errors_never_print_a_database_password() {
    let (key, reason) = invalid_key(load(None, &[("SMEZ_BUS__URL", "http://user:hunter2@host")], &[]));
    assert_eq!(key, "bus.url");
    assert!(!reason.contains("hunter2"), "{reason}");
}

#[test]
fn a_missing_or_broken_file_is_reported_with_its_path() {
    let missing = Settings::load(&Sources {
        file: Some("/nonexistent/smez.toml".into()),
        env: env(&[]),
        overrides: vec![],
    });
    assert!(matches!(missing, Err(ConfigError::File { ref path, .. }) if path.contains("/nonexistent/smez.toml")));
    let broken = file("[http\nlisten = 1");
    assert!(matches!(load(Some(&broken), &[], &[]), Err(ConfigError::File { .. })));
    let typo = file("[grpc]\nlisen = \"127.0.0.1:1\"\n");
    assert_eq!(invalid_key(load(Some(&typo), &[], &[])).0, "grpc.lisen");
}
