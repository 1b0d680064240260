//! The command line: clear refusals, `migrate`, `keygen`.

use crate::process::{run, temp_dir};

#[test]
fn a_bad_setting_stops_start_with_the_key_named() {
    let dir = temp_dir("cli-bad");
    let (code, _, stderr) = run(&["serve", "all"], &[("SMEZ_HTTP__LISTEN", "everywhere")], &dir);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("`http.listen`") && stderr.contains("everywhere"),
        "{stderr}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn one_service_alone_needs_the_distributed_backends() {
    let dir = temp_dir("cli-shape");
    let (code, _, stderr) = run(&["serve", "auth"], &[], &dir);
    assert_eq!(code, 2);
    assert!(
        stderr.contains("bus.url") && stderr.contains("database.url"),
        "both problems at once: {stderr}"
    );
    let (code, _, stderr) = run(&["serve", "auth,billing"], &[], &dir);
    assert_eq!(code, 2);
    assert!(stderr.contains("unknown target `billing`"), "{stderr}");
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn migrate_prepares_every_database_and_is_idempotent() {
    let dir = temp_dir("cli-migrate");
    for _ in 0..2 {
        let (code, stdout, stderr) = run(&["migrate", "--data-dir", "data"], &[], &dir);
        assert_eq!(code, 0, "{stderr}");
        for service in smez_kit::config::SERVICES {
            let prefix = format!("{service}: sqlite database at schema version ");
            let version: i64 = stdout
                .lines()
                .find_map(|line| line.strip_prefix(&prefix))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no version for {service}: {stdout}"));
            // The common migrations at least; a service's own start at 1000.
            assert!(
                version >= smez_store::COMMON_MIGRATIONS.len() as i64,
                "{service}: {version}"
            );
        }
    }
    assert!(dir.join("data/db/vault.sqlite").is_file());
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn keygen_prints_a_usable_set_of_keys() {
    let dir = temp_dir("cli-keygen");
    let (code, stdout, _) = run(&["keygen"], &[], &dir);
    assert_eq!(code, 0);
    let value = |name: &str| {
        stdout
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{name}=")))
            .unwrap_or_else(|| panic!("no {name} in {stdout}"))
            .to_owned()
    };
    let trusted: Vec<String> = value("SMEZ_INTERNAL_AUTH__TRUSTED_KEYS")
        .split(',')
        .map(str::to_owned)
        .collect();
    assert_eq!(trusted.len(), 9);
    let gateway = smez_kit::identity::InternalAuth::new(&value("GATEWAY_SIGNING_KEY"), &[], 60).unwrap();
    let vault = smez_kit::identity::InternalAuth::new(&value("VAULT_SIGNING_KEY"), &trusted, 60)
        .unwrap()
        .restrict_own_key(&["vault"]);
    assert!(vault.verify(&gateway.mint("gateway", "vault", None), "vault").is_ok());
    assert!(
        vault
            .verify(&gateway.mint("publisher", "vault", None), "vault")
            .is_err()
    );
    assert_eq!(value("SMEZ_VAULT__ROOT_KEY").len(), 44);
    let _ = std::fs::remove_dir_all(dir);
}

#[test]
fn the_vault_refuses_to_start_in_production_without_a_root_key() {
    let dir = temp_dir("cli-vault-root");
    let key = smez_kit::identity::generate_key().signing_key;
    let env = [
        ("SMEZ_ENVIRONMENT", "production"),
        ("SMEZ_INTERNAL_AUTH__SIGNING_KEY", key.as_str()),
        ("SMEZ_HTTP__LISTEN", "127.0.0.1:0"),
        ("SMEZ_GRPC__LISTEN", "127.0.0.1:0"),
    ];
    let (code, stdout, stderr) = run(&["serve", "all", "--data-dir", "data"], &env, &dir);
    assert_eq!(code, 2);
    assert!(stderr.contains("vault.root_key: required in production"), "{stderr}");
    assert!(
        stderr.contains("integrations.state_key: required in production"),
        "every missing key is named at once: {stderr}"
    );
    assert!(
        !stdout.contains("HTTP listening"),
        "refused before anything starts: {stdout}"
    );
    assert!(
        !dir.join("data/keys/vault-root.key").exists(),
        "nothing generated in production"
    );
    let _ = std::fs::remove_dir_all(dir);
}
