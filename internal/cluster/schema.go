package cluster

// component is the cluster's name in lambdad_schema (internal/pgschema).
const component = "cluster"

// steps are the cluster schema's migrations, in order; a step, once
// released, never changes (append new ones).
var steps = []string{
	// Members: a node is live while expires is in the future (the database's
	// clock); its heartbeat moves expires on, and only while it has not
	// passed, so an expired node never revives shares others have taken:
	// it registers again, without them.
	`CREATE TABLE cluster_nodes (
		id text PRIMARY KEY,
		address text NOT NULL,
		version text NOT NULL,
		started timestamptz NOT NULL,
		heartbeat timestamptz NOT NULL,
		expires timestamptz NOT NULL
	);
	CREATE INDEX cluster_nodes_expires ON cluster_nodes (expires);
	-- A scope's limit, and the row every grant of it locks.
	CREATE TABLE cluster_scopes (
		scope text PRIMARY KEY,
		lim integer NOT NULL CHECK (lim >= 0)
	);
	-- What each node holds of a scope; it counts while its node is live,
	-- so one heartbeat renews every share of a node.
	CREATE TABLE cluster_shares (
		scope text NOT NULL REFERENCES cluster_scopes ON DELETE CASCADE,
		node text NOT NULL REFERENCES cluster_nodes ON DELETE CASCADE,
		share integer NOT NULL CHECK (share >= 0),
		PRIMARY KEY (scope, node)
	);
	CREATE INDEX cluster_shares_node ON cluster_shares (node);`,
	// cluster_take grants p_node up to p_want more of p_scope, out of what
	// live nodes do not hold, and returns how much (-1: p_node's lease does
	// not outlive p_margin). The scope's row lock serializes grants; the
	// sum is read by a statement after it, so with a fresh snapshot (READ
	// COMMITTED, a VOLATILE function). Nodes that expire while it waits
	// still count (now() is when it began): an undercount, never an
	// overshoot. One call is one round trip.
	`CREATE FUNCTION cluster_take(p_node text, p_scope text, p_lim integer, p_want integer, p_margin interval)
	RETURNS integer LANGUAGE plpgsql VOLATILE AS $$
	DECLARE
		v_lim integer;
		v_held integer;
		v_grant integer;
	BEGIN
		PERFORM 1 FROM cluster_nodes WHERE id = p_node AND expires > now() + p_margin;
		IF NOT FOUND THEN
			RETURN -1;
		END IF;
		INSERT INTO cluster_scopes AS c (scope, lim) VALUES (p_scope, p_lim)
			ON CONFLICT (scope) DO UPDATE SET lim = EXCLUDED.lim
			RETURNING c.lim INTO v_lim;
		SELECT coalesce(sum(s.share), 0) INTO v_held
			FROM cluster_shares s JOIN cluster_nodes n ON n.id = s.node
			WHERE s.scope = p_scope AND (n.expires > now() OR s.node = p_node);
		v_grant := least(p_want, v_lim - v_held);
		IF v_grant <= 0 THEN
			RETURN 0;
		END IF;
		INSERT INTO cluster_shares AS s (scope, node, share) VALUES (p_scope, p_node, v_grant)
			ON CONFLICT (scope, node) DO UPDATE SET share = s.share + v_grant;
		RETURN v_grant;
	END $$;`,
	// The settings a node shares with every other (Config.Shared), which
	// a joining node must match.
	`ALTER TABLE cluster_nodes ADD COLUMN shared jsonb NOT NULL DEFAULT '{}'::jsonb;`,
}
