-- 0020_node_wake.sql - node-keyed wake-ups (issue 16, fleet scale). Before
-- this, every NOTIFY claw_wake (0019) woke every long poll of every
-- replica, and each of them read its node's generation again: a deploy of
-- one tenant cost one query per node of the fleet. Now what a node's long
-- poll waits for says whose it is, in the payload 'node:ID', and the
-- replicas' listeners wake that node's long poll only
-- (controlplane/events.h):
--   a node's generation bumped     'node:' || nodes.id (one per node: a
--                                  sweep that bumps many sends many; equal
--                                  payloads of a transaction are folded)
--   a relay call left for a node   'node:' || relay_calls.node_id
--   an edge change                 'node:*' (it is every node's generation:
--                                  cp_store_node_generation)
-- Answered calls and log chunks still send '' (their waiters are not
-- long polls).

CREATE FUNCTION node_wake() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_TABLE_NAME = 'nodes' THEN
        PERFORM pg_notify('claw_wake', 'node:' || NEW.id);
    ELSIF TG_TABLE_NAME = 'relay_calls' THEN
        PERFORM pg_notify('claw_wake', 'node:' || NEW.node_id);
    ELSE
        PERFORM pg_notify('claw_wake', 'node:*');
    END IF;
    RETURN NULL;
END
$$;

DROP TRIGGER nodes_generation_new ON nodes;
CREATE TRIGGER nodes_generation_new AFTER UPDATE OF generation ON nodes
    FOR EACH ROW EXECUTE FUNCTION node_wake();

DROP TRIGGER relay_calls_new ON relay_calls;
CREATE TRIGGER relay_calls_new AFTER INSERT ON relay_calls
    FOR EACH ROW EXECUTE FUNCTION node_wake();

CREATE TRIGGER edge_changes_new AFTER INSERT ON edge_changes
    FOR EACH STATEMENT EXECUTE FUNCTION node_wake();
