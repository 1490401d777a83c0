-- 0023_node_load.sql - the scheduler's reads at fleet scale: each node's
-- load kept in a row, the homeless placements found by index, and the
-- secrets sweep fed by a queue of changed tenants (the second part below).
--
-- Each node's load (what its placements that are not stopped ask for: the
-- sum of their plans and their count) is kept in one row per node,
-- node_load, by triggers on placements, so finding a node with room
-- (controlplane/store/sched.c, cp_sched_pick) reads one row per node
-- instead of summing every placement of the fleet under the placement
-- lock: a pick cost O(placements), about 30 placements/s toward 20,000
-- tenants on 2,000 nodes (docs/benchmarks.md, "Fleet scale").
--
-- A placement counts on its node while node_id is set and state is not
-- 'stopped', with its plan columns (0022). Every change of a counted
-- placement moves its node's row by exactly its part:
--   INSERT (a deploy's upsert that inserts): added to its node;
--   DELETE (an undeploy, a tenant deleted, by cascade too): taken off;
--   UPDATE that changes node_id (a move, pending), counting (stopped or
--   not) or the plan (a redeploy with another plan, 0022's trigger on a
--   deployment's spec): taken off the old node with the OLD values, added
--   to the new one with the NEW values. The UPDATE trigger has no column
--   list: 0022's BEFORE trigger sets the plan on an UPDATE OF
--   deployment_id, which an "UPDATE OF plan_*" trigger would not see.
-- A row goes with its node (ON DELETE CASCADE; placements keep a node
-- row alive anyway). Rows are locked per node until commit, so writers of
-- one node's placements queue on its row; a deadlock between two batch
-- writers is retried as every 40P01 is (lib/src/db.c). The pick leaves out
-- the tenant being placed by subtracting its own placement where it
-- counts, as the old aggregate's "tenant_id <> $6" did.

CREATE TABLE node_load (
    node_id    text PRIMARY KEY REFERENCES nodes (id) ON DELETE CASCADE,
    cpus_milli bigint NOT NULL DEFAULT 0,
    memory_mb  bigint NOT NULL DEFAULT 0,
    tenants    bigint NOT NULL DEFAULT 0
);

CREATE FUNCTION placement_load() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' AND OLD.node_id IS NOT NULL
       AND OLD.state <> 'stopped' THEN
        UPDATE node_load
           SET cpus_milli = cpus_milli - OLD.plan_cpus_milli,
               memory_mb = memory_mb - OLD.plan_memory_mb,
               tenants = tenants - 1
         WHERE node_id = OLD.node_id;
    END IF;
    IF TG_OP <> 'DELETE' AND NEW.node_id IS NOT NULL
       AND NEW.state <> 'stopped' THEN
        INSERT INTO node_load AS l (node_id, cpus_milli, memory_mb, tenants)
        VALUES (NEW.node_id, NEW.plan_cpus_milli, NEW.plan_memory_mb, 1)
        ON CONFLICT (node_id) DO UPDATE
           SET cpus_milli = l.cpus_milli + EXCLUDED.cpus_milli,
               memory_mb = l.memory_mb + EXCLUDED.memory_mb,
               tenants = l.tenants + 1;
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER placements_load
    AFTER INSERT OR DELETE ON placements
    FOR EACH ROW EXECUTE FUNCTION placement_load();

CREATE TRIGGER placements_load_changed
    AFTER UPDATE ON placements
    FOR EACH ROW
    WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id OR
          (OLD.state = 'stopped') <> (NEW.state = 'stopped') OR
          OLD.plan_cpus_milli <> NEW.plan_cpus_milli OR
          OLD.plan_memory_mb <> NEW.plan_memory_mb)
    EXECUTE FUNCTION placement_load();

-- after the triggers: their lock on placements holds writers off, so the
-- sum below is the state they go on from
INSERT INTO node_load (node_id, cpus_milli, memory_mb, tenants)
SELECT node_id, sum(plan_cpus_milli), sum(plan_memory_mb), count(*)
  FROM placements WHERE node_id IS NOT NULL AND state <> 'stopped'
 GROUP BY node_id;

-- the leader's sweep for homeless placements (store/sched.c) finds those
-- with no node through this index instead of reading every placement
CREATE INDEX placements_homeless_idx ON placements (updated_at)
    WHERE node_id IS NULL;

-- The secrets sweep (store/sched.c, cp_store_sweep_secrets) compared every
-- placement's release with its fingerprint (a sha256 over the tenant's
-- secrets) every 500 ms: 108 ms a pass at 10,000 placements. It now checks
-- only the tenants queued in secret_checks, one row per change of an input
-- of the comparison, written in the changing transaction:
--   secrets: any row written (put, rotated, deleted);
--   secret_releases: a release recorded, since a node's document may be
--   built from secrets read before a change that commits first (the
--   sweep that takes the change's row then sees no release, or the older
--   one): the release's own row makes the next pass compare again;
--   placements: made, or given another deployment or node.
-- The sweep deletes the rows it sees and compares in the same statement,
-- so it reads every change its rows stand for; rows committed after its
-- snapshot wait for the next pass; a failed pass rolls the delete back.
CREATE TABLE secret_checks (
    tenant_id text NOT NULL
);

CREATE FUNCTION secret_check() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' THEN
        INSERT INTO secret_checks (tenant_id) VALUES (OLD.tenant_id);
    ELSE
        INSERT INTO secret_checks (tenant_id) VALUES (NEW.tenant_id);
    END IF;
    RETURN NULL;
END
$$;

CREATE TRIGGER secrets_check AFTER INSERT OR UPDATE OR DELETE ON secrets
    FOR EACH ROW EXECUTE FUNCTION secret_check();
CREATE TRIGGER secret_releases_check AFTER INSERT OR UPDATE
    ON secret_releases FOR EACH ROW EXECUTE FUNCTION secret_check();
CREATE TRIGGER placements_secret_check AFTER INSERT
    OR UPDATE OF deployment_id, node_id ON placements
    FOR EACH ROW EXECUTE FUNCTION secret_check();

-- what the sweep had not compared yet when this ran: everything once
INSERT INTO secret_checks (tenant_id)
SELECT DISTINCT tenant_id FROM secret_releases;
