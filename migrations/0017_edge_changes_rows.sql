-- 0017_edge_changes_rows.sql - a placement bumps every node's generation
-- (edge_changes, 0008) only when the edge routes it is in change: the
-- tenant moves to another node, or starts or stops being routed (state
-- 'stopped' or not), or a placement is made or removed. A redeploy in
-- place, a suspension or a resume rewrites the row with the same node and
-- routing, so it wakes the tenant's own node only (its own generation),
-- not the whole fleet: before this, any UPDATE naming node_id or state
-- (every deploy) woke every node's long poll (bench/fleet-scale).

DROP TRIGGER placements_edge_changed ON placements;

-- row triggers: an INSERT ... ON CONFLICT DO UPDATE (a deploy) fires a
-- statement's INSERT trigger even when it inserted nothing
CREATE TRIGGER placements_edge_changed
    AFTER INSERT OR DELETE ON placements
    FOR EACH ROW EXECUTE FUNCTION edge_changed();

CREATE TRIGGER placements_edge_moved
    AFTER UPDATE OF node_id, state ON placements
    FOR EACH ROW
    WHEN (OLD.node_id IS DISTINCT FROM NEW.node_id OR
          (OLD.state = 'stopped') IS DISTINCT FROM (NEW.state = 'stopped'))
    EXECUTE FUNCTION edge_changed();
