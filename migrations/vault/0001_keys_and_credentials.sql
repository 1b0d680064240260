-- The vault's own tables. Ciphertexts are versioned envelopes
-- (`smz:v1:<key>:<version>:<base64url(nonce|ciphertext|tag)>`), bound by
-- associated data to their workspace, owner row and field. No plaintext
-- secret is ever stored; key material is derived from the configured root key
-- and the per-version salt below, so this database alone opens nothing.

CREATE TABLE vault_key_versions (
    key_name TEXT NOT NULL,
    version BIGINT NOT NULL,
    salt TEXT NOT NULL,
    -- Seals this version may have done (reserved in blocks; an upper bound).
    seals_reserved BIGINT NOT NULL,
    created_at_ms BIGINT NOT NULL,
    PRIMARY KEY (key_name, version)
);

CREATE TABLE vault_key_policy (
    key_name TEXT PRIMARY KEY,
    min_decryption_version BIGINT NOT NULL
);

CREATE TABLE vault_credentials (
    connection_id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    access_token TEXT NOT NULL,
    refresh_token TEXT,
    access_expires_at_ms BIGINT,
    refresh_expires_at_ms BIGINT,
    scopes TEXT NOT NULL,
    key_version BIGINT NOT NULL,
    updated_at_ms BIGINT NOT NULL
);

CREATE INDEX vault_credentials_key_version ON vault_credentials (key_version);

CREATE TABLE vault_pending_transfers (
    id TEXT PRIMARY KEY,
    workspace_id TEXT NOT NULL,
    user_id TEXT NOT NULL,
    provider TEXT NOT NULL,
    payload TEXT NOT NULL,
    key_version BIGINT NOT NULL,
    expires_at_ms BIGINT NOT NULL
);

-- Who opened what, when and why; never the secret itself.
CREATE TABLE vault_access_log (
    id TEXT PRIMARY KEY,
    caller TEXT NOT NULL,
    action TEXT NOT NULL,
    workspace_id TEXT,
    owner_id TEXT,
    purpose TEXT NOT NULL,
    key_name TEXT,
    key_version BIGINT,
    at_ms BIGINT NOT NULL
);
