-- 0015_edge_certs.sql - the certificates each node's edge serves, as the
-- node agent last read them (its status report: "edge"."certs"), and
-- whether each is expiring: less than --cert-warn-days left and past a
-- third of its lifetime left, the point where Caddy renews by itself (so
-- the short-lived certificates of Caddy's internal CA alert only when
-- their renewal has failed too). A change of expiring is a fleet event
-- (cert.expiring, cert.renewed) that the alert worker turns into the
-- cert_expiring alert.

CREATE TABLE edge_certs (
    node_id    text NOT NULL REFERENCES nodes (id) ON DELETE CASCADE,
    host       text NOT NULL CHECK (length(host) BETWEEN 1 AND 253),
    not_before timestamptz NOT NULL,
    not_after  timestamptz NOT NULL,
    expiring   boolean NOT NULL,
    PRIMARY KEY (node_id, host)
);
