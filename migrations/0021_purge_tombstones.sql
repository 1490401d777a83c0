-- 0021_purge_tombstones.sql - what a node must forget of a purged tenant
-- (issue 16, docs/reliability.md finding 2). POST /v1/tenants/{t}/purge
-- writes, in its own transaction, one row per node that ever held the
-- tenant (its placement's node and moved_from, the nodes given its
-- secrets, the nodes named in its fleet events) and bumps those nodes'
-- generations, so their long polls wake (0020). GET /v1/agent/assignments
-- lists the slugs as "purged"; the agent removes the tenant's volumes,
-- networks, secret files and uid, and acknowledges with "purged_done" in
-- its status report, which deletes the rows of generation up to the one
-- it reports. Keyed by tenant id: a tenant re-created with the same slug
-- has a new id, and its own purge is a row of its own. A node that never
-- comes back: rows older than 30 days are deleted by the leader's sweeps,
-- and a deleted node's rows with it.

CREATE TABLE purge_tombstones (
    tenant_id  text NOT NULL,
    slug       text NOT NULL,
    node_id    text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    generation bigint NOT NULL DEFAULT nextval('fleet_generation_seq'),
    purged_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, node_id)
);

CREATE INDEX purge_tombstones_node_idx ON purge_tombstones (node_id, slug);
