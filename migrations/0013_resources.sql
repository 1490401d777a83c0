-- 0013_resources.sql - a tenant's agent setup as resources (issue 18,
-- docs/resources.md): channels, persona, model, tools and policies, and the
-- admins' templates of them.
--
-- tenant_resources: every change is a new row (kind, name, version), so
-- each resource keeps its history: the persona's versions are listed from
-- it, and a deployment that records the versions it composed can be
-- rebuilt from them (a rollback restores the persona and channels it had).
-- body NULL marks a deletion at that version. name is the channel kind for
-- channels and "default" for the others. Bodies hold no secret value: a
-- credential given as a value is stored in secrets at once and the
-- resource names that secret.
--
-- resource_templates: persona, model, channels, tools and policies without
-- secrets, applied to a new tenant by name.

CREATE TABLE tenant_resources (
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    kind       text NOT NULL
               CHECK (kind IN ('channel', 'persona', 'model', 'tools',
                               'policies')),
    name       text NOT NULL CHECK (name ~ '^[a-z][a-z0-9_]{0,31}$'),
    version    bigint NOT NULL CHECK (version > 0),
    body       jsonb,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, kind, name, version)
);

CREATE TABLE resource_templates (
    name       text PRIMARY KEY
               CHECK (name ~ '^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$'),
    body       jsonb NOT NULL,
    version    bigint NOT NULL DEFAULT 1 CHECK (version > 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now()
);
