use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use smez_kit::ErrorCode;
use smez_kit::identity::{InternalAuth, OnBehalfOf, generate_key};

fn auth() -> (InternalAuth, String) {
    let key = generate_key();
    (InternalAuth::new(&key.signing_key, &[], 60).unwrap(), key.signing_key)
}

fn refused(result: Result<smez_kit::identity::Caller, smez_kit::Error>) -> String {
    let error = result.expect_err("the token must be refused");
    assert_eq!(error.code, ErrorCode::Unauthenticated);
    error.message
}

fn encode_part(value: &serde_json::Value) -> String {
    URL_SAFE_NO_PAD.encode(serde_json::to_vec(value).unwrap())
}

fn decode_part(part: &str) -> serde_json::Value {
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

#[test]
fn a_valid_token_names_caller_and_user() {
    let (auth, _) = auth();
    let user = OnBehalfOf {
        user_id: "u1".into(),
        workspace_id: Some("w1".into()),
        role: Some("editor".into()),
    };
    let token = auth.mint("gateway", "media", Some(&user));
    let caller = auth.verify(&token, "media").unwrap();
    assert_eq!(caller.service, "gateway");
    assert_eq!(caller.on_behalf_of, Some(user));
    let service_only = auth.verify(&auth.mint("render", "media", None), "media").unwrap();
    assert_eq!(service_only.on_behalf_of, None);
}

#[test]
fn wrong_audience_is_refused() {
    let (auth, _) = auth();
    let token = auth.mint("gateway", "media", None);
    assert!(refused(auth.verify(&token, "vault")).contains("another service"));
}

#[test]
fn expired_is_refused() {
    let key = generate_key();
    let short = InternalAuth::new(&key.signing_key, &[], 1).unwrap();
    let token = short.mint("gateway", "auth", None);
    let [header, claims, signature]: [&str; 3] = token.split('.').collect::<Vec<_>>().try_into().unwrap();
    let _ = signature;
    // Re-sign an already expired token with the same key (leeway is 5 s).
    let mut body = decode_part(claims);
    let past = chrono::Utc::now().timestamp() - 120;
    body["iat"] = (past - 60).into();
    body["exp"] = past.into();
    let pkcs8 = STANDARD.decode(&key.signing_key).unwrap();
    let expired = jsonwebtoken::encode(
        &serde_json::from_value::<jsonwebtoken::Header>(decode_part(header)).unwrap(),
        &body,
        &jsonwebtoken::EncodingKey::from_ed_der(&pkcs8),
    )
    .unwrap();
    assert!(refused(short.verify(&expired, "auth")).contains("expired"));
}

#[test]
fn unsigned_and_alg_none_are_refused() {
    let (auth, _) = auth();
    let token = auth.mint("gateway", "auth", None);
    let parts: Vec<&str> = token.split('.').collect();
    let mut header = decode_part(parts[0]);
    header["alg"] = "none".into();
    let none = format!("{}.{}.", encode_part(&header), parts[1]);
    refused(auth.verify(&none, "auth"));
    let stripped = format!("{}.{}.", parts[0], parts[1]);
    refused(auth.verify(&stripped, "auth"));
    refused(auth.verify("", "auth"));
    refused(auth.verify("not-a-jwt", "auth"));
}

#[test]
fn tampered_claims_are_refused() {
    let (auth, _) = auth();
    let token = auth.mint("gateway", "auth", None);
    let parts: Vec<&str> = token.split('.').collect();
    let mut claims = decode_part(parts[1]);
    claims["sub"] = "vault".into();
    claims["iss"] = "smez:vault".into();
    let tampered = format!("{}.{}.{}", parts[0], encode_part(&claims), parts[2]);
    assert!(refused(auth.verify(&tampered, "auth")).contains("signature"));
}

#[test]
fn a_token_from_another_key_is_refused_until_that_key_is_trusted_for_that_service() {
    let (ours, _) = auth();
    let other_key = generate_key();
    let theirs = InternalAuth::new(&other_key.signing_key, &[], 60).unwrap();
    let token = theirs.mint("gateway", "auth", None);
    assert!(refused(ours.verify(&token, "auth")).contains("unknown signing key"));

    // Trusted for the gateway: its gateway tokens pass...
    let trusting = InternalAuth::new(
        &generate_key().signing_key,
        &[format!("gateway={}", other_key.public_key)],
        60,
    )
    .unwrap();
    assert_eq!(trusting.verify(&token, "auth").unwrap().service, "gateway");
    // ...but the same key cannot speak as the publisher (a compromised gateway
    // gains nothing beyond the gateway's own rights).
    let impersonation = theirs.mint("publisher", "auth", None);
    assert!(refused(trusting.verify(&impersonation, "auth")).contains("not trusted for this service"));
}

#[test]
fn a_process_key_proves_only_the_services_the_process_runs() {
    let key = generate_key();
    let restricted = InternalAuth::new(&key.signing_key, &[], 60)
        .unwrap()
        .restrict_own_key(&["auth", "gateway"]);
    assert!(
        restricted
            .verify(&restricted.mint("gateway", "auth", None), "auth")
            .is_ok()
    );
    let as_vault = restricted.mint("vault", "auth", None);
    assert!(refused(restricted.verify(&as_vault, "auth")).contains("not trusted"));
}

#[test]
fn a_token_claiming_a_trusted_kid_but_signed_by_another_key_is_refused() {
    let (ours, _) = auth();
    let genuine = ours.mint("gateway", "auth", None);
    let kid = decode_part(genuine.split('.').next().unwrap())["kid"].clone();
    let forger = generate_key();
    let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
    header.typ = Some("smez-internal+jwt".into());
    header.kid = kid.as_str().map(str::to_owned);
    let now = chrono::Utc::now().timestamp();
    let claims =
        serde_json::json!({"iss": "smez:gateway", "sub": "gateway", "aud": "auth", "iat": now, "exp": now + 60});
    let forged = jsonwebtoken::encode(
        &header,
        &claims,
        &jsonwebtoken::EncodingKey::from_ed_der(&STANDARD.decode(&forger.signing_key).unwrap()),
    )
    .unwrap();
    assert!(refused(ours.verify(&forged, "auth")).contains("signature"));
}

#[test]
fn other_token_types_and_missing_claims_are_refused() {
    let key = generate_key();
    let auth = InternalAuth::new(&key.signing_key, &[], 60).unwrap();
    let kid = decode_part(auth.mint("a", "b", None).split('.').next().unwrap())["kid"].clone();
    let encoding = jsonwebtoken::EncodingKey::from_ed_der(&STANDARD.decode(&key.signing_key).unwrap());
    let now = chrono::Utc::now().timestamp();
    let sign = |typ: &str, claims: serde_json::Value| {
        let mut header = jsonwebtoken::Header::new(jsonwebtoken::Algorithm::EdDSA);
        header.typ = Some(typ.to_owned());
        header.kid = kid.as_str().map(str::to_owned);
        jsonwebtoken::encode(&header, &claims, &encoding).unwrap()
    };
    let full = serde_json::json!({"iss": "smez:gateway", "sub": "gateway", "aud": "auth", "iat": now, "exp": now + 60});
    assert!(auth.verify(&sign("smez-internal+jwt", full.clone()), "auth").is_ok());
    assert!(refused(auth.verify(&sign("at+jwt", full.clone()), "auth")).contains("not an internal token"));
    for missing in ["exp", "aud", "iss", "sub", "iat"] {
        let mut claims = full.clone();
        claims.as_object_mut().unwrap().remove(missing);
        refused(auth.verify(&sign("smez-internal+jwt", claims), "auth"));
    }
    let mut string_exp = full.clone();
    string_exp["exp"] = "99999999999".into();
    refused(auth.verify(&sign("smez-internal+jwt", string_exp), "auth"));
    let mut spoofed = full;
    spoofed["iss"] = "smez:vault".into();
    assert!(refused(auth.verify(&sign("smez-internal+jwt", spoofed), "auth")).contains("issuer"));
}

#[test]
fn bad_key_material_is_a_clear_error() {
    let error = InternalAuth::new("not base64!", &[], 60).unwrap_err().to_string();
    assert!(error.contains("internal_auth.signing_key"), "{error}");
    for entry in ["AAAA", "gateway=AAAA", "=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA="] {
        let error = InternalAuth::new(&generate_key().signing_key, &[entry.into()], 60)
            .unwrap_err()
            .to_string();
        assert!(error.contains("trusted_keys[0]"), "{entry}: {error}");
    }
}
