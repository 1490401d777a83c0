-- 0003_secrets.sql - envelope-encrypted tenant secrets.
--
-- master_keys records each master key version the control plane has used,
-- with its key check value (keyed BLAKE2b of a fixed label, never the key):
-- start-up refuses a key whose check value differs. The highest version is
-- the active one: new data keys are wrapped under it, and a rotation adds a
-- version and re-wraps every data key.
--
-- tenant_data_keys holds one data key per tenant, wrapped under a master
-- key version (nonce || XChaCha20-Poly1305 ciphertext || tag, 72 bytes).
--
-- secrets holds values sealed under the tenant's data key; the associated
-- data binds tenant, name and version. A deleted secret keeps its row (no
-- ciphertext) so the next value of that name gets a higher version and an
-- old ciphertext can never be replayed into it.

CREATE TABLE master_keys (
    version    integer PRIMARY KEY CHECK (version BETWEEN 1 AND 1000000),
    kcv        text NOT NULL CHECK (kcv ~ '^[0-9a-f]{64}$'),
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE tenant_data_keys (
    tenant_id    text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    mk_version   integer NOT NULL REFERENCES master_keys (version),
    wrapped      bytea NOT NULL CHECK (length(wrapped) = 72),
    created_at   timestamptz NOT NULL DEFAULT now(),
    rewrapped_at timestamptz
);

CREATE INDEX tenant_data_keys_mk_idx ON tenant_data_keys (mk_version);

CREATE TABLE secrets (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    name       text NOT NULL
               CHECK (name ~ '^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$'),
    version    bigint NOT NULL CHECK (version > 0),
    ciphertext bytea,
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz,
    PRIMARY KEY (tenant_id, name),
    CHECK ((deleted_at IS NULL) = (ciphertext IS NOT NULL))
);
