-- 0004_fleet.sql - nodes, join tokens, deployments, placements and fleet
-- events (docs/fleet.md).
--
-- A node joins once with a join token (stored hashed, single use, short
-- lived) and gets an api_tokens row of role node; nodes.token_id binds the
-- two, so revoking the token refuses the node at once.
--
-- Generations come from one sequence, so they only grow: a tenant's
-- generation changes when its deployment or its node changes (the agent
-- replaces containers of another generation, and a node that comes back
-- after its tenants moved finds them gone from its desired state), and a
-- node's generation changes whenever its desired state does (long polls
-- return when it passes the agent's).

CREATE SEQUENCE fleet_generation_seq;

CREATE TABLE join_tokens (
    id         text PRIMARY KEY CHECK (id ~ '^jtk_[0-9a-f]{32}$'),
    token_hash text NOT NULL UNIQUE CHECK (token_hash ~ '^[0-9a-f]{64}$'),
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now(),
    expires_at timestamptz NOT NULL,
    used_at    timestamptz,
    node_id    text
);

CREATE TABLE nodes (
    id             text PRIMARY KEY CHECK (id ~ '^nod_[0-9a-f]{32}$'),
    seq            bigserial NOT NULL UNIQUE,
    name           text NOT NULL
                   CHECK (name ~ '^[A-Za-z0-9][A-Za-z0-9_.-]{0,62}$'),
    token_id       text NOT NULL REFERENCES api_tokens (id),
    labels         jsonb NOT NULL DEFAULT '{}',
    cpus_milli     bigint NOT NULL CHECK (cpus_milli > 0),
    memory_mb      bigint NOT NULL CHECK (memory_mb > 0),
    version        text NOT NULL DEFAULT '',
    status         text NOT NULL DEFAULT 'ready'
                   CHECK (status IN ('ready', 'down', 'revoked')),
    cordoned       boolean NOT NULL DEFAULT false,
    draining       boolean NOT NULL DEFAULT false,
    generation     bigint NOT NULL DEFAULT nextval('fleet_generation_seq'),
    last_heartbeat timestamptz NOT NULL DEFAULT now(),
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    deleted_at     timestamptz
);

CREATE UNIQUE INDEX nodes_name_live_idx ON nodes (name)
    WHERE deleted_at IS NULL;

-- Immutable versions of a tenant's spec; only the phase, its reason and
-- the image references resolved by the first node that pulled them change.
CREATE TABLE deployments (
    id          text PRIMARY KEY CHECK (id ~ '^dep_[0-9a-f]{32}$'),
    seq         bigserial NOT NULL UNIQUE,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    spec        jsonb NOT NULL,
    images      jsonb,
    phase       text NOT NULL DEFAULT 'pending'
                CHECK (phase IN ('pending', 'pulling', 'starting', 'healthy',
                                 'failed', 'superseded')),
    reason      text,
    rollback_of text,
    created_by  text,
    created_at  timestamptz NOT NULL DEFAULT now(),
    updated_at  timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX deployments_tenant_idx ON deployments (tenant_id, seq);

-- What should run for a tenant, where, and what was last seen of it.
CREATE TABLE placements (
    tenant_id     text PRIMARY KEY REFERENCES tenants (id) ON DELETE CASCADE,
    deployment_id text NOT NULL REFERENCES deployments (id),
    state         text NOT NULL DEFAULT 'running'
                  CHECK (state IN ('running', 'suspended', 'stopped')),
    node_id       text REFERENCES nodes (id),
    generation    bigint NOT NULL DEFAULT nextval('fleet_generation_seq'),
    reason        text,
    phase         text NOT NULL DEFAULT 'pending',
    observed      jsonb,
    moved_from    text,
    updated_at    timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX placements_node_idx ON placements (node_id);

-- Which secret versions each node was last given for a tenant, so values
-- are released (and audited) only when they change.
CREATE TABLE secret_releases (
    node_id     text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    tenant_id   text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    fingerprint text NOT NULL,
    released_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (node_id, tenant_id)
);

CREATE TABLE fleet_events (
    id        bigserial PRIMARY KEY,
    time      timestamptz NOT NULL DEFAULT now(),
    type      text NOT NULL,
    tenant_id text,
    node_id   text,
    data      jsonb NOT NULL DEFAULT '{}'
);

CREATE INDEX fleet_events_tenant_idx ON fleet_events (tenant_id, id);
