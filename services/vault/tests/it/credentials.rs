use smez_proto::vault::v1::{
    Binding, CredentialRef, OpenRequest, PutCredentialRequest, PutPendingTransferRequest, SealRequest,
    TakePendingTransferRequest,
};
use tonic::Code;

use crate::harness::{Db, Vault, code};

pub fn credential(workspace: &str, connection: &str, access: &str, refresh: Option<&str>) -> PutCredentialRequest {
    PutCredentialRequest {
        workspace_id: workspace.into(),
        connection_id: connection.into(),
        provider: "tiktok".into(),
        access_token: access.into(),
        refresh_token: refresh.map(Into::into),
        access_expires_at_ms: Some(1_900_000_000_000),
        refresh_expires_at_ms: Some(1_950_000_000_000),
        scopes: vec!["video.publish".into(), "user.info.basic".into()],
    }
}

pub fn reference(workspace: &str, connection: &str) -> CredentialRef {
    CredentialRef {
        workspace_id: workspace.into(),
        connection_id: connection.into(),
        purpose: "publish".into(),
    }
}

async fn credentials_round_trip(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    publisher
        .put_credential(credential("ws-1", "conn-1", "act.first", Some("rft.first")))
        .await
        .unwrap();
    let access = publisher
        .get_access_token(reference("ws-1", "conn-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(access.access_token, "act.first");
    assert_eq!(access.scopes, ["video.publish", "user.info.basic"]);
    assert_eq!(access.provider, "tiktok");
    let refresh = publisher
        .get_refresh_token(reference("ws-1", "conn-1"))
        .await
        .unwrap()
        .into_inner();
    assert_eq!(refresh.refresh_token, "rft.first");

    // Reconnect / refresh: replaced in place.
    publisher
        .put_credential(credential("ws-1", "conn-1", "act.second", None))
        .await
        .unwrap();
    let mut analytics = vault.client("analytics");
    assert_eq!(
        analytics
            .get_access_token(reference("ws-1", "conn-1"))
            .await
            .unwrap()
            .into_inner()
            .access_token,
        "act.second"
    );
    assert_eq!(
        code(publisher.get_refresh_token(reference("ws-1", "conn-1")).await),
        Code::NotFound
    );

    // The database holds envelopes, never the token.
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_credentials WHERE access_token LIKE 'smz:v1:oauth-tokens:%'")
            .await,
        1
    );
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_credentials WHERE access_token LIKE '%act.%'")
            .await,
        0
    );

    // Another workspace asking for the same connection sees nothing.
    assert_eq!(
        code(analytics.get_access_token(reference("ws-2", "conn-1")).await),
        Code::NotFound
    );
    vault.stop().await;
}

async fn delete_leaves_no_row(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    publisher
        .put_credential(credential("ws", "c1", "act.x", Some("rft.x")))
        .await
        .unwrap();
    publisher
        .put_credential(credential("ws", "c2", "act.y", None))
        .await
        .unwrap();
    let deleted = publisher
        .delete_credential(reference("ws", "c1"))
        .await
        .unwrap()
        .into_inner();
    assert!(deleted.deleted);
    assert_eq!(
        vault
            .count("SELECT COUNT(*) FROM vault_credentials WHERE connection_id = 'c1'")
            .await,
        0
    );
    assert_eq!(
        vault.count("SELECT COUNT(*) FROM vault_credentials").await,
        1,
        "the other connection stays"
    );
    assert_eq!(
        code(publisher.get_access_token(reference("ws", "c1")).await),
        Code::NotFound
    );
    assert!(
        !publisher
            .delete_credential(reference("ws", "c1"))
            .await
            .unwrap()
            .into_inner()
            .deleted
    );
    vault.stop().await;
}

async fn a_ciphertext_copied_to_another_row_does_not_open(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    publisher
        .put_credential(credential("ws-a", "conn-a", "act.a", Some("rft.a")))
        .await
        .unwrap();
    publisher
        .put_credential(credential("ws-b", "conn-b", "act.b", Some("rft.b")))
        .await
        .unwrap();
    // An attacker with database access moves A's token onto B's row...
    vault
        .sql("UPDATE vault_credentials SET access_token = (SELECT access_token FROM vault_credentials WHERE connection_id = 'conn-a') WHERE connection_id = 'conn-b'")
        .await;
    assert_eq!(
        code(publisher.get_access_token(reference("ws-b", "conn-b")).await),
        Code::Internal
    );
    // ...or swaps a row's access and refresh tokens.
    vault
        .sql("UPDATE vault_credentials SET access_token = refresh_token WHERE connection_id = 'conn-a'")
        .await;
    assert_eq!(
        code(publisher.get_access_token(reference("ws-a", "conn-a")).await),
        Code::Internal
    );
    vault.stop().await;
}

async fn payloads_open_only_with_their_binding_and_every_byte_counts(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    let binding = |ws: &str, owner: &str, field: &str| Binding {
        workspace_id: ws.into(),
        owner_id: owner.into(),
        field: field.into(),
    };
    let sealed = publisher
        .seal(SealRequest {
            binding: Some(binding("ws", "state-1", "pkce_verifier")),
            plaintext: b"verifier-123".to_vec(),
        })
        .await
        .unwrap()
        .into_inner()
        .ciphertext;
    let open = |b: Binding, ciphertext: String| OpenRequest {
        binding: Some(b),
        ciphertext,
    };
    let opened = publisher
        .open(open(binding("ws", "state-1", "pkce_verifier"), sealed.clone()))
        .await
        .unwrap();
    assert_eq!(opened.into_inner().plaintext, b"verifier-123");
    for other in [
        binding("ws-other", "state-1", "pkce_verifier"),
        binding("ws", "state-2", "pkce_verifier"),
        binding("ws", "state-1", "other_field"),
    ] {
        let refused = publisher.open(open(other, sealed.clone())).await;
        assert_eq!(code(refused), Code::InvalidArgument);
    }

    // Flip every single byte of nonce, ciphertext and tag in turn: each is refused.
    use base64::Engine;
    let engine = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    let (head, body) = sealed.rsplit_once(':').unwrap();
    let bytes = engine.decode(body).unwrap();
    for index in 0..bytes.len() {
        let mut tampered = bytes.clone();
        tampered[index] ^= 0x01;
        let forged = format!("{head}:{}", engine.encode(&tampered));
        let refused = publisher
            .open(open(binding("ws", "state-1", "pkce_verifier"), forged))
            .await;
        assert_eq!(code(refused), Code::InvalidArgument, "byte {index}");
    }
    // A version header edited down (or up) does not open either.
    let downgraded = sealed.replacen(":payloads:1:", ":payloads:2:", 1);
    let refused = publisher
        .open(open(binding("ws", "state-1", "pkce_verifier"), downgraded))
        .await;
    assert_eq!(code(refused), Code::InvalidArgument);
    let garbage = publisher
        .open(open(
            binding("ws", "state-1", "pkce_verifier"),
            "smz:v1:payloads:1:x".into(),
        ))
        .await;
    assert_eq!(code(garbage), Code::InvalidArgument);
    vault.stop().await;
}

async fn pending_transfers_are_single_use_and_bound_to_their_user(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    let put = publisher
        .put_pending_transfer(PutPendingTransferRequest {
            workspace_id: "ws".into(),
            user_id: "u1".into(),
            provider: "youtube".into(),
            payload: br#"{"access_token":"ya29.pending"}"#.to_vec(),
            ttl_secs: 60,
        })
        .await
        .unwrap()
        .into_inner();
    let take = |user: &str| TakePendingTransferRequest {
        id: put.id.clone(),
        workspace_id: "ws".into(),
        user_id: user.into(),
    };
    assert_eq!(code(publisher.take_pending_transfer(take("u2")).await), Code::NotFound);
    let taken = publisher.take_pending_transfer(take("u1")).await.unwrap().into_inner();
    assert_eq!(taken.payload, br#"{"access_token":"ya29.pending"}"#);
    assert_eq!(
        code(publisher.take_pending_transfer(take("u1")).await),
        Code::NotFound,
        "single use"
    );
    assert_eq!(vault.count("SELECT COUNT(*) FROM vault_pending_transfers").await, 0);

    // Expired: refused and purged.
    let expired = publisher
        .put_pending_transfer(PutPendingTransferRequest {
            workspace_id: "ws".into(),
            user_id: "u1".into(),
            provider: "youtube".into(),
            payload: b"x".to_vec(),
            ttl_secs: 60,
        })
        .await
        .unwrap()
        .into_inner();
    vault.sql("UPDATE vault_pending_transfers SET expires_at_ms = 0").await;
    let late = publisher
        .take_pending_transfer(TakePendingTransferRequest {
            id: expired.id,
            workspace_id: "ws".into(),
            user_id: "u1".into(),
        })
        .await;
    assert_eq!(code(late), Code::NotFound);
    let too_long = publisher
        .put_pending_transfer(PutPendingTransferRequest {
            workspace_id: "ws".into(),
            user_id: "u1".into(),
            provider: "youtube".into(),
            payload: b"x".to_vec(),
            ttl_secs: 86_400,
        })
        .await;
    assert_eq!(code(too_long), Code::InvalidArgument);
    vault.stop().await;
}

async fn bad_input_is_refused_precisely(db: Db) {
    let vault = Vault::start(db).await;
    let mut publisher = vault.client("publisher");
    let missing = publisher
        .put_credential(credential("", "c", "act", None))
        .await
        .unwrap_err();
    assert_eq!(missing.code(), Code::InvalidArgument);
    assert_eq!(missing.metadata().get("smez-error-field").unwrap(), "workspace_id");
    let empty_token = publisher
        .put_credential(credential("ws", "c", "", None))
        .await
        .unwrap_err();
    assert_eq!(empty_token.metadata().get("smez-error-field").unwrap(), "access_token");
    let no_purpose = publisher
        .get_access_token(smez_proto::vault::v1::CredentialRef {
            purpose: String::new(),
            ..reference("ws", "c")
        })
        .await;
    assert_eq!(code(no_purpose), Code::InvalidArgument);
    assert_eq!(
        vault.count("SELECT COUNT(*) FROM vault_credentials").await,
        0,
        "nothing half-stored"
    );
    vault.stop().await;
}

crate::on_both_databases!(
    credentials_round_trip,
    delete_leaves_no_row,
    a_ciphertext_copied_to_another_row_does_not_open,
    payloads_open_only_with_their_binding_and_every_byte_counts,
    pending_transfers_are_single_use_and_bound_to_their_user,
    bad_input_is_refused_precisely,
);
