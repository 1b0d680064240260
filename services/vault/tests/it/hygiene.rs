//! No secret in the logs: every log line (TRACE and up, from every crate,
//! gRPC and HTTP/2 included) of a full store-use-refresh-delete cycle is
//! captured and searched for the token strings.

use std::io::Write;
use std::sync::{Arc, Mutex};

use crate::credentials::{credential, reference};
use crate::harness::{Db, Vault};

#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn a_full_credential_cycle_logs_no_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let access = "act.LOGCHECK.7f3a9c";
    let refresh = "rft.LOGCHECK.2b8e1d";
    let renewed = "act.LOGCHECK.renewed";
    let vault = Vault::start(Db::Sqlite).await;
    let mut publisher = vault.client("publisher");
    publisher
        .put_credential(credential("ws", "c", access, Some(refresh)))
        .await
        .unwrap();
    assert_eq!(
        vault
            .client("analytics")
            .get_access_token(reference("ws", "c"))
            .await
            .unwrap()
            .into_inner()
            .access_token,
        access
    );
    assert_eq!(
        publisher
            .get_refresh_token(reference("ws", "c"))
            .await
            .unwrap()
            .into_inner()
            .refresh_token,
        refresh
    );
    publisher
        .put_credential(credential("ws", "c", renewed, Some(refresh)))
        .await
        .unwrap();
    let _ = vault.client("gateway").get_access_token(reference("ws", "c")).await; // refused, and logged
    publisher.delete_credential(reference("ws", "c")).await.unwrap();
    vault.stop().await;

    let logs = String::from_utf8_lossy(&captured.0.lock().unwrap()).into_owned();
    assert!(logs.len() > 1000, "the capture works ({} bytes)", logs.len());
    assert!(logs.contains("authz_fail"), "refusals are logged");
    for secret in [access, refresh, renewed, "LOGCHECK"] {
        assert!(!logs.contains(secret), "`{secret}` appears in the logs");
    }
}
