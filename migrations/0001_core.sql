-- 0001_core.sql - tenants and API tokens.
--
-- schema_migrations (version, name, checksum, applied_at) is created by the
-- runner itself (controlplane/migrate.c) before the first file, under the
-- same advisory lock.
--
-- Ids are a type prefix and 32 hex characters ("tnt_...", "tok_..."); a
-- slug is a DNS label, so the two never look alike and a tenant can be
-- named by either. Tokens are stored as BLAKE2b-256 hashes only.

CREATE TABLE tenants (
    id         text PRIMARY KEY CHECK (id ~ '^tnt_[0-9a-f]{32}$'),
    seq        bigserial NOT NULL UNIQUE,
    slug       text NOT NULL UNIQUE
               CHECK (slug ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 200),
    version    bigint NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    deleted_at timestamptz
);

CREATE TABLE api_tokens (
    id         text PRIMARY KEY CHECK (id ~ '^tok_[0-9a-f]{32}$'),
    token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    role       text NOT NULL
               CHECK (role IN ('admin', 'operator', 'auditor', 'tenant',
                               'node')),
    tenant_id  text REFERENCES tenants (id) ON DELETE CASCADE,
    name       text CHECK (length(name) <= 200),
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz,
    revoked_at timestamptz,
    CHECK ((role = 'tenant') = (tenant_id IS NOT NULL))
);

CREATE INDEX api_tokens_tenant_idx ON api_tokens (tenant_id);
CREATE INDEX api_tokens_role_idx ON api_tokens (role);
