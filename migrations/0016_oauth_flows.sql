-- 0016_oauth_flows.sql - pending OAuth 2.1 "connect" flows of tenants'
-- remote MCP servers (api/oauth.c, store/oauth.c): the control plane is
-- the OAuth client's redirect endpoint. A flow is made by POST
-- /v1/tenants/{t}/mcp/{server}/connect and finished (once) by the
-- browser's GET /v1/oauth/callback?code=&state=.
--
-- The state is never stored: state_hash is its SHA-256 (hex), so the
-- callback finds its flow by hash. What the token request needs (PKCE
-- code verifier, client id and secret, token endpoint, resource, issuer)
-- is one JSON document sealed (XSalsa20-Poly1305, hex) under a key derived
-- from the state, so a reader of this table alone cannot finish a flow.
-- A flow lives 10 minutes; claimed moves it from pending to exchanging
-- in one statement (single use); the grant itself is stored as the
-- tenant's secret token_secret through the secrets code, never here.

CREATE TABLE oauth_flows (
    id            text PRIMARY KEY,
    tenant_id     text NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    server        text NOT NULL CHECK (length(server) BETWEEN 1 AND 64),
    token_secret  text NOT NULL CHECK (length(token_secret) BETWEEN 1 AND 128),
    state_hash    text NOT NULL UNIQUE CHECK (length(state_hash) = 64),
    sealed        text NOT NULL,
    status        text NOT NULL DEFAULT 'pending'
                  CHECK (status IN ('pending', 'exchanging', 'connected',
                                    'failed')),
    reason        text,
    created_by    text,
    created_role  text NOT NULL,
    created_at    timestamptz NOT NULL DEFAULT now(),
    expires_at    timestamptz NOT NULL,
    finished_at   timestamptz
);
CREATE INDEX oauth_flows_tenant ON oauth_flows (tenant_id, created_at);
