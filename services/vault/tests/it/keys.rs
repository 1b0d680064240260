use smez_proto::vault::v1::{Binding, KeyRef, OpenRequest, RewrapRequest, SealRequest, SetMinDecryptionVersionRequest};
use tonic::Code;

use crate::credentials::{credential, reference};
use crate::harness::{Db, Vault, code};

fn key(name: &str) -> KeyRef {
    KeyRef { key_name: name.into() }
}

async fn rotate_then_rewrap_moves_everything_to_the_new_version(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    let mut operator = vault.client("operator");
    for n in 0..25 {
        publisher
            .put_credential(credential(
                "ws",
                &format!("c{n}"),
                &format!("act.{n}"),
                Some(&format!("rft.{n}")),
            ))
            .await
            .unwrap();
    }
    let rotated = operator.rotate_key(key("oauth-tokens")).await.unwrap().into_inner();
    assert_eq!(rotated.current_version, 2);
    assert_eq!(
        rotated.stored_per_version.get(&1),
        Some(&25),
        "older rows still open until rewrapped"
    );
    assert_eq!(
        publisher
            .get_access_token(reference("ws", "c3"))
            .await
            .unwrap()
            .into_inner()
            .access_token,
        "act.3"
    );
    // New writes seal with version 2.
    publisher
        .put_credential(credential("ws", "new", "act.new", None))
        .await
        .unwrap();

    // A rewrap limited to another key leaves these rows alone.
    let other = operator
        .rewrap(RewrapRequest {
            key_name: "pending-transfers".into(),
        })
        .await
        .unwrap()
        .into_inner();
    assert_eq!(other.rewrapped, 0);
    let rewrapped = operator.rewrap(RewrapRequest::default()).await.unwrap().into_inner();
    assert_eq!((rewrapped.rewrapped, rewrapped.remaining), (25, 0));
    let status = operator.get_key_status(key("oauth-tokens")).await.unwrap().into_inner();
    assert_eq!(status.stored_per_version.len(), 1);
    assert_eq!(status.stored_per_version.get(&2), Some(&26));
    for n in 0..25 {
        let reference = reference("ws", &format!("c{n}"));
        assert_eq!(
            publisher
                .get_access_token(reference.clone())
                .await
                .unwrap()
                .into_inner()
                .access_token,
            format!("act.{n}")
        );
        assert_eq!(
            publisher
                .get_refresh_token(reference)
                .await
                .unwrap()
                .into_inner()
                .refresh_token,
            format!("rft.{n}")
        );
    }
    vault.stop().await;
}

async fn a_minimum_decryption_version_retires_old_versions(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    let mut operator = vault.client("operator");
    publisher
        .put_credential(credential("ws", "c", "act.old", None))
        .await
        .unwrap();
    let binding = Binding {
        workspace_id: "ws".into(),
        owner_id: "state".into(),
        field: "pkce_verifier".into(),
    };
    let old_payload = publisher
        .seal(SealRequest {
            binding: Some(binding.clone()),
            plaintext: b"v1 secret".to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertext;
    operator.rotate_key(key("oauth-tokens")).await.unwrap();
    operator.rotate_key(key("payloads")).await.unwrap();

    // Retiring version 1 while a stored credential still uses it is refused.
    let retire = |name: &str| SetMinDecryptionVersionRequest {
        key_name: name.into(),
        min_decryption_version: 2,
    };
    assert_eq!(
        code(operator.set_min_decryption_version(retire("oauth-tokens")).await),
        Code::FailedPrecondition
    );
    operator.rewrap(RewrapRequest::default()).await.unwrap();
    let status = operator
        .set_min_decryption_version(retire("oauth-tokens"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(status.min_decryption_version, 2);
    assert_eq!(
        publisher
            .get_access_token(reference("ws", "c"))
            .await
            .unwrap()
            .into_inner()
            .access_token,
        "act.old",
        "rewrapped rows still open"
    );

    // A version-1 payload stops opening once version 1 is retired.
    operator.set_min_decryption_version(retire("payloads")).await.unwrap();
    let refused = publisher
        .open(OpenRequest {
            binding: Some(binding),
            ciphertext: old_payload,
        })
        .await;
    assert_eq!(code(refused), Code::FailedPrecondition);
    let beyond = SetMinDecryptionVersionRequest {
        key_name: "payloads".into(),
        min_decryption_version: 9,
    };
    assert_eq!(
        code(operator.set_min_decryption_version(beyond).await),
        Code::FailedPrecondition
    );
    assert_eq!(
        code(operator.rotate_key(key("no-such-key")).await),
        Code::InvalidArgument
    );
    vault.stop().await;
}

async fn a_key_version_rotates_itself_when_its_seal_budget_is_spent(db: Db) {
    let vault = Vault::start_with(db, &[("SMEZ_VAULT__MAX_SEALS_PER_VERSION", "3")]).await;
    let mut publisher = vault.client("publisher");
    let mut versions = Vec::new();
    for n in 0..7 {
        let put = publisher
            .put_credential(credential("ws", &format!("c{n}"), "act", None))
            .await
            .unwrap()
            .into_inner();
        versions.push(put.key_version);
    }
    assert_eq!(versions, [1, 1, 1, 2, 2, 2, 3]);
    for n in 0..7 {
        publisher
            .get_access_token(reference("ws", &format!("c{n}")))
            .await
            .unwrap();
    }
    vault.stop().await;
}

crate::on_both_databases!(
    rotate_then_rewrap_moves_everything_to_the_new_version,
    a_minimum_decryption_version_retires_old_versions,
    a_key_version_rotates_itself_when_its_seal_budget_is_spent,
);
