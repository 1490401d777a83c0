-- 0009_rollouts.sql - fleet rollouts and tenant labels (docs/fleet.md,
-- "Rollouts" and "Tenant labels").
--
-- A rollout moves a set of tenants, chosen once when it is created, to new
-- images and/or configs in batches of max_unavailable. Its whole state is
-- here, so any replica of the control plane drives it: a worker takes the
-- row with SELECT ... FOR UPDATE SKIP LOCKED, advances it by one step in
-- that transaction and commits; a replica that dies mid-step leaves
-- nothing half done (the step rolls back) and another one continues.
--
-- rollout_tenants has one row per tenant with its place (position) and
-- batch (0 until its batch starts), the deployment the rollout made and
-- the one it replaced (the rollback target). A tenant is in at most one
-- active (running or paused) rollout: the API checks it under a
-- transaction-scoped advisory lock, so two creations cannot race.

ALTER TABLE tenants
    ADD COLUMN labels jsonb NOT NULL DEFAULT '{}'
               CHECK (jsonb_typeof(labels) = 'object');

CREATE INDEX tenants_labels_idx ON tenants USING gin (labels);

CREATE TABLE rollouts (
    id                text PRIMARY KEY CHECK (id ~ '^ro_[0-9a-f]{32}$'),
    seq               bigserial NOT NULL UNIQUE,
    state             text NOT NULL DEFAULT 'running'
                      CHECK (state IN ('running', 'paused', 'halted',
                                       'aborted', 'completed')),
    selector          jsonb NOT NULL,
    images            jsonb NOT NULL DEFAULT '{}',
    gateway_config    jsonb,
    runtime_config    jsonb,
    max_unavailable   int NOT NULL CHECK (max_unavailable BETWEEN 1 AND 100),
    failure_threshold int NOT NULL CHECK (failure_threshold >= 1),
    min_ready_ms      int CHECK (min_ready_ms >= 0),
    batch             int NOT NULL DEFAULT 0 CHECK (batch >= 0),
    reason            text,
    created_by        text,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX rollouts_active_idx ON rollouts (state)
    WHERE state IN ('running', 'paused');

CREATE TABLE rollout_tenants (
    rollout_id          text NOT NULL REFERENCES rollouts (id)
                        ON DELETE CASCADE,
    tenant_id           text NOT NULL REFERENCES tenants (id)
                        ON DELETE CASCADE,
    position            int NOT NULL,
    state               text NOT NULL DEFAULT 'pending'
                        CHECK (state IN ('pending', 'deploying', 'healthy',
                                         'failed', 'rolled_back',
                                         'skipped')),
    batch               int NOT NULL DEFAULT 0,
    deployment_id       text,
    previous_deployment text,
    error               text,
    started_at          timestamptz,
    updated_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (rollout_id, tenant_id)
);

CREATE INDEX rollout_tenants_tenant_idx ON rollout_tenants (tenant_id);
