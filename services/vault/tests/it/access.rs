use smez_proto::vault::v1::{KeyRef, vault_service_client::VaultServiceClient};
use tonic::Code;

use crate::credentials::{credential, reference};
use crate::harness::{Db, Vault, code};

async fn only_the_right_services_may_ask(db: Db) {
    let vault = Vault::start(db).await;
    vault
        .client("publisher")
        .put_credential(credential("ws", "c", "act.t", Some("rft.t")))
        .await
        .unwrap();
    for caller in ["gateway", "render", "media", "auth", "workspace"] {
        let mut client = vault.client(caller);
        assert_eq!(
            code(client.get_access_token(reference("ws", "c")).await),
            Code::PermissionDenied,
            "{caller}"
        );
        assert_eq!(
            code(client.get_refresh_token(reference("ws", "c")).await),
            Code::PermissionDenied,
            "{caller}"
        );
        assert_eq!(
            code(client.delete_credential(reference("ws", "c")).await),
            Code::PermissionDenied,
            "{caller}"
        );
        assert_eq!(
            code(client.put_credential(credential("ws", "c", "planted", None)).await),
            Code::PermissionDenied,
            "{caller}"
        );
    }
    let mut analytics = vault.client("analytics");
    assert!(analytics.get_access_token(reference("ws", "c")).await.is_ok());
    assert_eq!(
        code(analytics.get_refresh_token(reference("ws", "c")).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(analytics.delete_credential(reference("ws", "c")).await),
        Code::PermissionDenied
    );
    assert_eq!(
        code(
            vault
                .client("publisher")
                .rotate_key(KeyRef {
                    key_name: "oauth-tokens".into()
                })
                .await
        ),
        Code::PermissionDenied,
        "only the operator manages keys"
    );

    // A publisher token minted for another service is not accepted here.
    let mut misdirected = VaultServiceClient::new(vault.sandbox.transport_as("publisher", "media"));
    assert_eq!(
        code(misdirected.get_access_token(reference("ws", "c")).await),
        Code::Unauthenticated
    );
    // Nor one signed with a key the vault does not trust.
    let stranger = std::sync::Arc::new(
        smez_kit::identity::InternalAuth::new(&smez_kit::identity::generate_key().signing_key, &[], 60).unwrap(),
    );
    let transport = smez_kit::grpc::ClientFactory::new(stranger, "publisher")
        .remote("vault", &vault.sandbox.endpoint)
        .unwrap();
    assert_eq!(
        code(
            VaultServiceClient::new(transport)
                .get_access_token(reference("ws", "c"))
                .await
        ),
        Code::Unauthenticated
    );
    // The token was never changed by the refused callers.
    assert_eq!(
        analytics
            .get_access_token(reference("ws", "c"))
            .await
            .unwrap()
            .into_inner()
            .access_token,
        "act.t"
    );
    vault.stop().await;
}

async fn every_open_is_in_the_access_log_without_the_secret(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    publisher
        .put_credential(credential("ws", "c", "act.logged", Some("rft.logged")))
        .await
        .unwrap();
    vault
        .client("analytics")
        .get_access_token(reference("ws", "c"))
        .await
        .unwrap();
    publisher.get_refresh_token(reference("ws", "c")).await.unwrap();
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_access_log WHERE caller = 'analytics' AND action = 'open_access_token' AND owner_id = 'c' AND purpose = 'publish'")
            .await,
        1
    );
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_access_log WHERE caller = 'publisher' AND action = 'open_refresh_token'")
            .await,
        1
    );
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_access_log WHERE purpose LIKE '%logged%' OR owner_id LIKE '%logged%'")
            .await,
        0
    );
    vault.stop().await;
}

crate::on_both_databases!(
    only_the_right_services_may_ask,
    every_open_is_in_the_access_log_without_the_secret
);
