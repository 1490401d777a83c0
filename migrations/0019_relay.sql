-- 0019_relay.sql - the relays between clients and node agents (log
-- requests, approvals calls) as rows, so they work whichever replica a
-- client or a node reaches (docs/fleet.md, "Replicas"). A client's replica
-- leaves a call here; the node's long poll, on any replica, hands it over
-- (state waiting -> handed); the node posts its answer (an rpc's status
-- and body) or its log chunks to any replica, which stores them and says
-- so with NOTIFY claw_wake; the client's replica, woken by its LISTEN,
-- reads them. Rows are bounded: each expires (expires_at) and is deleted
-- by the replica that waits on it, or by any replica's pass over expired
-- rows; a log call's unread chunks are capped in bytes by the writer.

CREATE TABLE relay_calls (
    id          text PRIMARY KEY CHECK (id ~ '^(log|rpc)_[0-9a-f]{32}$'),
    kind        text NOT NULL CHECK (kind IN ('log', 'rpc')),
    node_id     text NOT NULL,
    call        jsonb NOT NULL,       -- what the node is handed
    state       text NOT NULL DEFAULT 'waiting'
                CHECK (state IN ('waiting', 'handed', 'done')),
    created_at  timestamptz NOT NULL DEFAULT now(),
    taken_at    timestamptz,
    status      integer,              -- rpc: the runtime's (0: none)
    answer      jsonb,                -- rpc: its body
    expires_at  timestamptz NOT NULL
);

CREATE INDEX relay_calls_waiting ON relay_calls (node_id)
    WHERE state = 'waiting';
CREATE INDEX relay_calls_expires ON relay_calls (expires_at);

-- a log call's chunks, read and deleted in order by the client's replica;
-- event 'log' (data: the log text) or 'end'
CREATE TABLE relay_chunks (
    seq      bigserial PRIMARY KEY,
    call_id  text NOT NULL REFERENCES relay_calls (id) ON DELETE CASCADE,
    event    text NOT NULL CHECK (event IN ('log', 'end')),
    data     bytea NOT NULL
);

CREATE INDEX relay_chunks_call ON relay_chunks (call_id, seq);

-- NOTIFY claw_wake on what a waiter waits for: a new call (the node's
-- long poll), an answered or ended call, a new chunk (the client's
-- replica), a node's new desired state (its long poll, on whichever
-- replica it waits). Notifications of one transaction are folded into
-- one; every replica LISTENs and wakes its waiters.
CREATE FUNCTION relay_notify() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    PERFORM pg_notify('claw_wake', '');
    RETURN NULL;
END
$$;

CREATE TRIGGER relay_calls_new AFTER INSERT ON relay_calls
    FOR EACH ROW EXECUTE FUNCTION relay_notify();
CREATE TRIGGER relay_calls_done AFTER UPDATE OF state ON relay_calls
    FOR EACH ROW WHEN (NEW.state = 'done')
    EXECUTE FUNCTION relay_notify();
CREATE TRIGGER relay_chunks_new AFTER INSERT ON relay_chunks
    FOR EACH ROW EXECUTE FUNCTION relay_notify();
-- statement-level: one notification for a sweep that bumps many nodes
CREATE TRIGGER nodes_generation_new AFTER UPDATE OF generation ON nodes
    FOR EACH STATEMENT EXECUTE FUNCTION relay_notify();
