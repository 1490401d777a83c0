-- 0008_edge.sql - the edge (docs/fleet.md, "Public addresses" and
-- "Agent protocol"): custom domains claimed by tenants, each node's
-- advertised edge address, and a marker that tells every node's long poll
-- when the fleet-wide edge routes changed.
--
-- A domain belongs to at most one tenant (the primary key); it is stored
-- lower case without a trailing dot, as the API normalises it. Caddy's
-- on-demand TLS asks GET /v1/edge/ask?domain=NAME, one lookup of this key.
--
-- nodes.edge_address is HOST:PORT, what the node's agent reports (its
-- --edge-advertise); other nodes route a tenant's hosts to it.
--
-- Every node's desired state lists the routes to tenants on OTHER nodes,
-- so a placement that moves, starts or stops, a domain claimed or released
-- and an edge address that changes concern every node. Rather than bumping
-- every node row (row locks in the scheduler's transactions), a statement
-- appends a row to edge_changes with a new generation from the fleet
-- sequence; a node's generation as the agent API reports it is the larger
-- of its own and the newest edge change. Appends take no lock two
-- transactions could wait on each other for; the leader's sweep deletes
-- all but the newest row.

ALTER TABLE nodes
    ADD COLUMN edge_address text
               CHECK (edge_address IS NULL OR
                      (length(edge_address) BETWEEN 3 AND 262 AND
                       edge_address ~ '^[A-Za-z0-9.:\[\]-]+$'));

CREATE TABLE tenant_domains (
    domain     text PRIMARY KEY
               CHECK (domain ~ '^[a-z0-9][a-z0-9.-]{0,252}$'),
    tenant_id  text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    created_by text,
    created_at timestamptz NOT NULL DEFAULT now()
);

CREATE INDEX tenant_domains_tenant_idx ON tenant_domains (tenant_id, domain);

CREATE TABLE edge_changes (
    gen bigint PRIMARY KEY DEFAULT nextval('fleet_generation_seq'),
    at  timestamptz NOT NULL DEFAULT now()
);

INSERT INTO edge_changes DEFAULT VALUES;

CREATE FUNCTION edge_changed() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO edge_changes DEFAULT VALUES;
    RETURN NULL;
END;
$$;

CREATE TRIGGER placements_edge_changed
    AFTER INSERT OR DELETE OR UPDATE OF node_id, state ON placements
    FOR EACH STATEMENT EXECUTE FUNCTION edge_changed();

CREATE TRIGGER tenant_domains_edge_changed
    AFTER INSERT OR DELETE OR UPDATE ON tenant_domains
    FOR EACH STATEMENT EXECUTE FUNCTION edge_changed();

CREATE TRIGGER nodes_edge_changed
    AFTER UPDATE OF edge_address, status, deleted_at ON nodes
    FOR EACH ROW
    WHEN (OLD.edge_address IS DISTINCT FROM NEW.edge_address OR
          OLD.status IS DISTINCT FROM NEW.status OR
          OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION edge_changed();

CREATE TRIGGER tenants_edge_changed
    AFTER UPDATE OF deleted_at ON tenants
    FOR EACH ROW
    WHEN (OLD.deleted_at IS DISTINCT FROM NEW.deleted_at)
    EXECUTE FUNCTION edge_changed();
