-- 0014_usage_latency.sql - the milliseconds a tenant's turns took, summed
-- per hour like the other counters (the runtime's turn_ms, collected by
-- the node agent), so a window's mean turn latency is
-- sum(turn_ms) / sum(turns).

ALTER TABLE usage_hours
    ADD COLUMN turn_ms bigint NOT NULL DEFAULT 0 CHECK (turn_ms >= 0);
