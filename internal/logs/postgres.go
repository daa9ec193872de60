package logs

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/pgschema"
)

// PG keeps function logs in PostgreSQL, so that every node of a cluster
// sharing the database reads every node's logs. Events are rows of
// lambdad_log_events, keyed by group, stream and position (Ord) and indexed
// by group and time; lambdad_log_streams holds each stream's next position
// and summary. Appends queue as in Store and are written a batch at a time
// (one transaction, COPY) off the invoke path. A committed batch is
// announced with NOTIFY, so live tails on other nodes see it too.
type PG struct {
	cfg  PGConfig
	pool *pgxpool.Pool
	node string // tells this node's notifications from others'

	ctx    context.Context // ends with Close: bounds every query
	cancel context.CancelFunc

	q appendQueue

	wmu sync.Mutex // serialises writers

	smu  sync.Mutex
	subs map[*Subscription]struct{}

	wg sync.WaitGroup // sweeper, listener
}

// PGConfig configures PG.
type PGConfig struct {
	Pool *pgxpool.Pool
	// Retention applies to groups without a retention policy (0: keep).
	Retention time.Duration
	// MaxStreamBytes bounds what one stream keeps: past it the oldest
	// events go at the next sweep (default 64 MiB).
	MaxStreamBytes int64
	// MaxGroupBytes bounds what one group keeps: past it the oldest events
	// of its streams go at the next sweep (0: no bound but MaxStreamBytes).
	MaxGroupBytes int64
	// FlushInterval: as Config's (default 25ms).
	FlushInterval time.Duration
	// SweepInterval is how often retention and bounds are enforced
	// (default a minute).
	SweepInterval time.Duration
	Logger        *slog.Logger
	Now           func() time.Time
}

// pgChannel is the NOTIFY channel of committed batches.
const pgChannel = "lambdad_logs"

// pgQueryTimeout bounds one read or write, whatever its context.
const pgQueryTimeout = 30 * time.Second

var pgSteps = []string{
	`CREATE TABLE lambdad_log_groups (
		id bigserial PRIMARY KEY,
		name text COLLATE "C" NOT NULL UNIQUE,
		created bigint NOT NULL,
		retention_days integer NOT NULL DEFAULT 0);
	CREATE TABLE lambdad_log_streams (
		group_id bigint NOT NULL REFERENCES lambdad_log_groups (id) ON DELETE CASCADE,
		name text COLLATE "C" NOT NULL,
		created bigint NOT NULL,
		last_ingest bigint NOT NULL,
		next_ord bigint NOT NULL,
		first_ts bigint NOT NULL,
		last_ts bigint NOT NULL,
		bytes bigint NOT NULL,
		PRIMARY KEY (group_id, name));
	CREATE TABLE lambdad_log_events (
		group_id bigint NOT NULL,
		stream text COLLATE "C" NOT NULL,
		ord bigint NOT NULL,
		ts bigint NOT NULL,
		ingestion bigint NOT NULL,
		message bytea NOT NULL,
		PRIMARY KEY (group_id, stream, ord));
	CREATE INDEX lambdad_log_events_time ON lambdad_log_events (group_id, ts, stream, ord);`,
}

// OpenPG migrates the logs' tables in cfg.Pool's database and starts the
// writer and the sweeper. The pool stays the caller's.
func OpenPG(ctx context.Context, cfg PGConfig) (*PG, error) {
	if cfg.MaxStreamBytes <= 0 {
		cfg.MaxStreamBytes = 64 << 20
	}
	if cfg.FlushInterval <= 0 {
		cfg.FlushInterval = 25 * time.Millisecond
	}
	if cfg.SweepInterval <= 0 {
		cfg.SweepInterval = time.Minute
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := pgschema.Migrate(ctx, cfg.Pool, "logs", pgSteps); err != nil {
		return nil, err
	}
	p := &PG{cfg: cfg, pool: cfg.Pool, node: fmt.Sprintf("%016x", rand.Uint64()), subs: map[*Subscription]struct{}{}}
	p.ctx, p.cancel = context.WithCancel(context.Background())
	p.q.init(p.Flush, cfg.FlushInterval, cfg.Now, cfg.Logger)
	ready := make(chan error, 1)
	p.wg.Add(2)
	go p.sweeper()
	go p.listen(ready)
	select {
	case err := <-ready:
		if err != nil {
			p.cancel()
			p.wg.Wait()
			return nil, fmt.Errorf("postgres: listen for other nodes' logs: %w", err)
		}
	case <-ctx.Done():
		p.cancel()
		p.wg.Wait()
		return nil, ctx.Err()
	}
	return p, nil
}

// op bounds a read or write asked for with ctx.
func op(ctx context.Context) (context.Context, context.CancelFunc) {
	return context.WithTimeout(ctx, pgQueryTimeout)
}

// Append is Store.Append.
func (p *PG) Append(group, stream string, data []byte) {
	p.AppendMarked(group, stream, data, time.Time{}, nil)
}

// AppendMarked is Store.AppendMarked: an enqueue, written later.
func (p *PG) AppendMarked(group, stream string, data []byte, start time.Time, marks []Mark) {
	p.q.add(group, stream, data, start, marks)
}

// Flush writes every record appended before it and makes it readable (to
// every node).
func (p *PG) Flush() {
	p.wmu.Lock()
	defer p.wmu.Unlock()
	if batch := p.q.take(); len(batch) > 0 {
		p.write(batch)
	}
}

// run is one stream's share of a batch.
type run struct {
	group, stream string
	evs           []Event
	at            int64
	gid, base     int64
}

// write stores a batch in one transaction; a failure is retried a few
// times, then the batch is dropped and said so (the invoke path never
// waits for this).
func (p *PG) write(batch []entry) {
	idx := map[[2]string]int{}
	var runs []*run
	for _, e := range batch {
		evs := SplitMarked(e.data, e.marks, e.start, e.at)
		if len(evs) == 0 {
			continue
		}
		k := [2]string{e.group, e.stream}
		i, ok := idx[k]
		if !ok {
			i = len(runs)
			idx[k] = i
			runs = append(runs, &run{group: e.group, stream: e.stream})
		}
		runs[i].evs = append(runs[i].evs, evs...)
		runs[i].at = e.at
	}
	if len(runs) == 0 {
		return
	}
	// One order of row locks for every writer: no deadlocks between nodes.
	slices.SortFunc(runs, func(a, b *run) int {
		if c := strings.Compare(a.group, b.group); c != 0 {
			return c
		}
		return strings.Compare(a.stream, b.stream)
	})
	var err error
	for try := range 3 {
		if try > 0 {
			select {
			case <-time.After(time.Duration(try) * 200 * time.Millisecond):
			case <-p.ctx.Done():
			}
		}
		ctx, cancel := context.WithTimeout(context.Background(), pgQueryTimeout)
		err = pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error { return p.writeTx(ctx, tx, runs) })
		cancel()
		if err == nil {
			break
		}
	}
	if err != nil {
		p.cfg.Logger.Warn("function logs not stored", "err", err, "streams", len(runs))
		return
	}
	p.publishLocal(runs)
}

func (p *PG) writeTx(ctx context.Context, tx pgx.Tx, runs []*run) error {
	gids := map[string]int64{}
	for _, r := range runs {
		gid, ok := gids[r.group]
		if !ok {
			var err error
			if gid, err = p.ensureGroup(ctx, tx, r.group); err != nil {
				return err
			}
			gids[r.group] = gid
		}
		r.gid = gid
		first, last, size := r.evs[0].Timestamp, r.evs[0].Timestamp, int64(0)
		for _, e := range r.evs {
			first, last = min(first, e.Timestamp), max(last, e.Timestamp)
			size += int64(eventHeader + len(e.Message))
		}
		n := int64(len(r.evs))
		// The row lock this takes orders writers of one stream: positions
		// are handed out once.
		if err := tx.QueryRow(ctx, `INSERT INTO lambdad_log_streams AS s
			(group_id, name, created, last_ingest, next_ord, first_ts, last_ts, bytes)
			VALUES ($1, $2, $3, $3, $4, $5, $6, $7)
			ON CONFLICT (group_id, name) DO UPDATE SET next_ord = s.next_ord + EXCLUDED.next_ord,
				last_ingest = EXCLUDED.last_ingest,
				first_ts = CASE WHEN s.bytes = 0 THEN EXCLUDED.first_ts ELSE least(s.first_ts, EXCLUDED.first_ts) END,
				last_ts = greatest(s.last_ts, EXCLUDED.last_ts), bytes = s.bytes + EXCLUDED.bytes
			RETURNING next_ord - $4`, gid, r.stream, r.at, n, first, last, size).Scan(&r.base); err != nil {
			return err
		}
	}
	i, j := 0, 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"lambdad_log_events"},
		[]string{"group_id", "stream", "ord", "ts", "ingestion", "message"},
		pgx.CopyFromFunc(func() ([]any, error) {
			for i < len(runs) && j >= len(runs[i].evs) {
				i, j = i+1, 0
			}
			if i >= len(runs) {
				return nil, nil
			}
			r, e := runs[i], runs[i].evs[j]
			j++
			return []any{r.gid, r.stream, r.base + int64(j-1), e.Timestamp, e.Ingestion, []byte(e.Message)}, nil
		}))
	if err != nil {
		return err
	}
	for _, payload := range notices(p.node, runs) {
		if _, err := tx.Exec(ctx, "SELECT pg_notify($1, $2)", pgChannel, payload); err != nil {
			return err
		}
	}
	return nil
}

// ensureGroup returns the group's id, creating it. It inserts only when
// the group is missing (an insert that conflicts would still use up a
// sequence number); a group another node created at that moment is not in
// the statement's snapshot: no row, and the batch is tried again.
func (p *PG) ensureGroup(ctx context.Context, tx pgx.Tx, name string) (int64, error) {
	var id int64
	err := tx.QueryRow(ctx, `WITH e AS (SELECT id FROM lambdad_log_groups WHERE name = $1),
		n AS (INSERT INTO lambdad_log_groups (name, created) SELECT $1, $2 WHERE NOT EXISTS (SELECT 1 FROM e)
			ON CONFLICT (name) DO NOTHING RETURNING id)
		SELECT id FROM e UNION ALL SELECT id FROM n`, name, ms(p.cfg.Now())).Scan(&id)
	return id, err
}

// group reads a group's id and cutoff (the oldest timestamp it keeps).
func (p *PG) group(ctx context.Context, name string) (id, cut int64, err error) {
	var days int32
	err = p.pool.QueryRow(ctx, "SELECT id, retention_days FROM lambdad_log_groups WHERE name = $1", name).Scan(&id, &days)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, 0, ErrNoGroup
	}
	return id, p.cutoff(days), err
}

func (p *PG) cutoff(days int32) int64 {
	d := p.cfg.Retention
	if days > 0 {
		d = time.Duration(days) * 24 * time.Hour
	}
	if d <= 0 {
		return 0
	}
	return ms(p.cfg.Now().Add(-d))
}

// CreateGroup makes an empty group.
func (p *PG) CreateGroup(ctx context.Context, name string) error {
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, "INSERT INTO lambdad_log_groups (name, created) VALUES ($1, $2) ON CONFLICT (name) DO NOTHING",
		name, ms(p.cfg.Now()))
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrGroupExists
	}
	return nil
}

// DeleteGroup removes a group and its events. The group's row goes first:
// its lock waits for writers holding it, whose events then go too.
func (p *PG) DeleteGroup(ctx context.Context, name string) error {
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	return pgx.BeginFunc(ctx, p.pool, func(tx pgx.Tx) error {
		var id int64
		err := tx.QueryRow(ctx, "DELETE FROM lambdad_log_groups WHERE name = $1 RETURNING id", name).Scan(&id)
		if errors.Is(err, pgx.ErrNoRows) {
			return ErrNoGroup
		}
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, "DELETE FROM lambdad_log_events WHERE group_id = $1", id)
		return err
	})
}

// SetRetention sets (days > 0) or removes (0) a group's retention policy.
func (p *PG) SetRetention(ctx context.Context, name string, days int32) error {
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	tag, err := p.pool.Exec(ctx, "UPDATE lambdad_log_groups SET retention_days = $2 WHERE name = $1", name, days)
	if err != nil {
		return err
	}
	if tag.RowsAffected() == 0 {
		return ErrNoGroup
	}
	if err := p.sweep(ctx); err != nil {
		p.cfg.Logger.Warn("function logs: sweep", "err", err)
	}
	return nil
}

// GroupExists reports whether name is a group.
func (p *PG) GroupExists(ctx context.Context, name string) (bool, error) {
	ctx, cancel := op(ctx)
	defer cancel()
	var ok bool
	err := p.pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM lambdad_log_groups WHERE name = $1)", name).Scan(&ok)
	return ok, err
}

// Groups lists the groups, sorted by name.
func (p *PG) Groups(ctx context.Context) ([]GroupInfo, error) {
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	rows, _ := p.pool.Query(ctx, `SELECT g.name, g.created, g.retention_days, coalesce(sum(s.bytes), 0)::bigint
		FROM lambdad_log_groups g LEFT JOIN lambdad_log_streams s ON s.group_id = g.id
		GROUP BY g.id ORDER BY g.name`)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (GroupInfo, error) {
		var g GroupInfo
		return g, r.Scan(&g.Name, &g.Created, &g.RetentionDays, &g.StoredBytes)
	})
}

// Streams lists a group's streams, sorted by name.
func (p *PG) Streams(ctx context.Context, group string) ([]StreamInfo, error) {
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	id, cut, err := p.group(ctx, group)
	if err != nil {
		return nil, err
	}
	rows, _ := p.pool.Query(ctx, `SELECT name, created, first_ts, last_ts, last_ingest, bytes
		FROM lambdad_log_streams WHERE group_id = $1 ORDER BY name`, id)
	return pgx.CollectRows(rows, func(r pgx.CollectableRow) (StreamInfo, error) {
		var s StreamInfo
		err := r.Scan(&s.Name, &s.Created, &s.FirstEvent, &s.LastEvent, &s.LastIngestion, &s.StoredBytes)
		s.FirstEvent = max(s.FirstEvent, cut)
		if s.LastEvent < cut || s.StoredBytes == 0 {
			s.FirstEvent, s.LastEvent = 0, 0
		}
		return s, err
	})
}

// checkStreams returns ErrNoStream unless every name is a stream of group id.
func (p *PG) checkStreams(ctx context.Context, id int64, names []string) error {
	if len(names) == 0 {
		return nil
	}
	var n int
	if err := p.pool.QueryRow(ctx, "SELECT count(*) FROM lambdad_log_streams WHERE group_id = $1 AND name = ANY($2)",
		id, names).Scan(&n); err != nil {
		return err
	}
	if n != len(slices.Compact(slices.Sorted(slices.Values(names)))) {
		return ErrNoStream
	}
	return nil
}

// Filter answers FilterLogEvents as Store.Filter does: the database reads
// the events in (time, stream, position) order from the group's time index,
// a chunk at a time, until a page's worth matched.
func (p *PG) Filter(ctx context.Context, group string, in FilterInput) (FilterOutput, error) {
	limit := in.Limit
	if limit <= 0 || limit > MaxPageEvents {
		limit = MaxPageEvents
	}
	var after *pos
	if in.Token != "" {
		a, err := decodeFilterToken(in.Token)
		if err != nil {
			return FilterOutput{}, err
		}
		after = &a
	}
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	id, cut, err := p.group(ctx, group)
	if err != nil {
		return FilterOutput{}, err
	}
	q := in.Query
	if err := p.checkStreams(ctx, id, q.Streams); err != nil {
		return FilterOutput{}, err
	}
	need := limit + 1
	chunk := need
	if q.Match != nil {
		chunk = max(need, 2000)
	}
	var evs []Event
	size := 0 // of evs, as filterPage counts: past a page's bytes, one more event is enough
	full := func() bool { return len(evs) >= need || (size > maxPageBytes && len(evs) >= 2) }
	for {
		where := []string{"group_id = $1", "ts >= $2"}
		args := []any{id, max(q.Start, cut)}
		arg := func(cond string, v any) {
			args = append(args, v)
			where = append(where, fmt.Sprintf(cond, len(args)))
		}
		if q.End > 0 {
			arg("ts < $%d", q.End)
		}
		if after != nil {
			arg("ts >= $%d", after.ts)
			args = append(args, after.stream, after.ord)
			where = append(where, fmt.Sprintf("(ts, stream, ord) > ($%d, $%d, $%d)", len(args)-2, len(args)-1, len(args)))
		}
		if len(q.Streams) > 0 {
			arg("stream = ANY($%d)", q.Streams)
		} else if q.Prefix != "" {
			arg("starts_with(stream, $%d)", q.Prefix)
		}
		args = append(args, chunk)
		rows, _ := p.pool.Query(ctx, "SELECT stream, ord, ts, ingestion, message FROM lambdad_log_events WHERE "+
			strings.Join(where, " AND ")+fmt.Sprintf(" ORDER BY ts, stream, ord LIMIT $%d", len(args)), args...)
		read := 0
		var last pos
		var e Event
		var msg []byte
		_, err := pgx.ForEachRow(rows, []any{&e.Stream, &e.Ord, &e.Timestamp, &e.Ingestion, &msg}, func() error {
			read++
			last = pos{e.Timestamp, e.Stream, e.Ord}
			if !full() && (q.Match == nil || q.Match(string(msg))) {
				e.Message = string(msg)
				evs = append(evs, e)
				size += len(e.Message) + 26
			}
			return nil
		})
		if err != nil {
			return FilterOutput{}, err
		}
		if full() || read < chunk {
			break
		}
		after = &last
		chunk = min(chunk*2, 50000)
	}
	return filterPage(evs, limit), nil
}

// Get answers GetLogEvents as Store.Get does, from the stream's positions.
func (p *PG) Get(ctx context.Context, group string, in GetInput) (GetOutput, error) {
	limit, dir, at, forward, err := in.start()
	if err != nil {
		return GetOutput{}, err
	}
	p.Flush()
	ctx, cancel := op(ctx)
	defer cancel()
	id, cut, err := p.group(ctx, group)
	if err != nil {
		return GetOutput{}, err
	}
	if err := p.checkStreams(ctx, id, []string{in.Stream}); err != nil {
		return GetOutput{}, err
	}
	end := in.End
	if end <= 0 {
		end = 1<<63 - 1
	}
	q := `SELECT ord, ts, ingestion, message FROM lambdad_log_events
		WHERE group_id = $1 AND stream = $2 AND ts >= $3 AND ts < $4 `
	switch {
	case dir == 'f':
		q += "AND ord >= $5 ORDER BY ord LIMIT $6"
	case dir == 'b':
		q += "AND ord < $5 ORDER BY ord DESC LIMIT $6"
	case forward:
		q += "AND $5::bigint IS NOT NULL ORDER BY ord LIMIT $6"
	default:
		q += "AND $5::bigint IS NOT NULL ORDER BY ord DESC LIMIT $6"
	}
	rows, _ := p.pool.Query(ctx, q, id, in.Stream, max(in.Start, cut), end, at, limit)
	var evs []Event
	var e Event
	var msg []byte
	if _, err := pgx.ForEachRow(rows, []any{&e.Ord, &e.Timestamp, &e.Ingestion, &msg}, func() error {
		e.Stream, e.Message = in.Stream, string(msg)
		evs = append(evs, e)
		return nil
	}); err != nil {
		return GetOutput{}, err
	}
	if !forward {
		slices.Reverse(evs)
	}
	return getPage(evs, limit, forward, dir, at, in.Token), nil
}

func (p *PG) sweeper() {
	defer p.wg.Done()
	t := time.NewTicker(p.cfg.SweepInterval)
	defer t.Stop()
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-t.C:
			p.Sweep()
		}
	}
}

// Sweep deletes the events past their group's retention and the oldest of
// streams past MaxStreamBytes. Every node sweeps; the deletes are
// idempotent.
func (p *PG) Sweep() {
	ctx, cancel := context.WithTimeout(p.ctx, 5*time.Minute)
	defer cancel()
	if err := p.sweep(ctx); err != nil && p.ctx.Err() == nil {
		p.cfg.Logger.Warn("function logs: sweep", "err", err)
	}
}

func (p *PG) sweep(ctx context.Context) error {
	rows, _ := p.pool.Query(ctx, "SELECT id, retention_days FROM lambdad_log_groups")
	type g struct {
		id   int64
		days int32
	}
	groups, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (g, error) {
		var x g
		return x, r.Scan(&x.id, &x.days)
	})
	if err != nil {
		return err
	}
	for _, g := range groups {
		cut := p.cutoff(g.days)
		if cut == 0 {
			continue
		}
		// The deleted events' sizes come off their streams' in the
		// same statement.
		if _, err := p.pool.Exec(ctx, `WITH d AS (
				DELETE FROM lambdad_log_events WHERE group_id = $1 AND ts < $2
				RETURNING stream, length(message) + 20 AS b)
			UPDATE lambdad_log_streams s SET bytes = s.bytes - x.b
			FROM (SELECT stream, sum(b) AS b FROM d GROUP BY stream) x
			WHERE s.group_id = $1 AND s.name = x.stream`, g.id, cut); err != nil {
			return err
		}
		if _, err := p.pool.Exec(ctx, `DELETE FROM lambdad_log_streams
			WHERE group_id = $1 AND last_ts < $2 AND last_ingest < $2`, g.id, cut); err != nil {
			return err
		}
	}
	rows, _ = p.pool.Query(ctx, "SELECT group_id, name FROM lambdad_log_streams WHERE bytes > $1", p.cfg.MaxStreamBytes)
	type st struct {
		gid  int64
		name string
	}
	over, err := pgx.CollectRows(rows, func(r pgx.CollectableRow) (st, error) {
		var x st
		return x, r.Scan(&x.gid, &x.name)
	})
	if err != nil {
		return err
	}
	for _, s := range over {
		// Keep the newest events that fit.
		if _, err := p.pool.Exec(ctx, `WITH c AS (
				SELECT ord, sum(length(message) + 20) OVER (ORDER BY ord DESC) AS tail
				FROM lambdad_log_events WHERE group_id = $1 AND stream = $2),
			d AS (DELETE FROM lambdad_log_events WHERE group_id = $1 AND stream = $2
				AND ord <= (SELECT max(ord) FROM c WHERE tail > $3)
				RETURNING length(message) + 20 AS b)
			UPDATE lambdad_log_streams SET bytes = bytes - (SELECT coalesce(sum(b), 0) FROM d),
				first_ts = coalesce((SELECT min(ts) FROM lambdad_log_events e
					WHERE e.group_id = $1 AND e.stream = $2 AND e.ord > (SELECT max(ord) FROM c WHERE tail > $3)), first_ts)
			WHERE group_id = $1 AND name = $2`, s.gid, s.name, p.cfg.MaxStreamBytes); err != nil {
			return err
		}
	}
	if p.cfg.MaxGroupBytes <= 0 {
		return nil
	}
	rows, _ = p.pool.Query(ctx, `SELECT group_id FROM lambdad_log_streams GROUP BY group_id HAVING sum(bytes) > $1`, p.cfg.MaxGroupBytes)
	big, err := pgx.CollectRows(rows, pgx.RowTo[int64])
	if err != nil {
		return err
	}
	for _, gid := range big {
		// The newest events that fit stay, whatever their stream; the
		// cut is at a timestamp, so its events all go.
		// (The statement's subqueries see the events before the delete.)
		if _, err := p.pool.Exec(ctx, `WITH c AS (
				SELECT ts, sum(length(message) + 20) OVER (ORDER BY ts DESC, stream DESC, ord DESC) AS tail
				FROM lambdad_log_events WHERE group_id = $1),
			cut AS (SELECT max(ts) AS ts FROM c WHERE tail > $2),
			d AS (DELETE FROM lambdad_log_events WHERE group_id = $1 AND ts <= (SELECT ts FROM cut)
				RETURNING stream, length(message) + 20 AS b)
			UPDATE lambdad_log_streams s SET bytes = s.bytes - x.b,
				first_ts = coalesce((SELECT min(e.ts) FROM lambdad_log_events e
					WHERE e.group_id = $1 AND e.stream = s.name AND e.ts > (SELECT ts FROM cut)), s.first_ts)
			FROM (SELECT stream, sum(b) AS b FROM d GROUP BY stream) x
			WHERE s.group_id = $1 AND s.name = x.stream`, gid, p.cfg.MaxGroupBytes); err != nil {
			return err
		}
	}
	return nil
}

// Close writes what is pending and stops; later appends are dropped. The
// pool stays open.
func (p *PG) Close(ctx context.Context) error {
	if !p.q.close() {
		return nil
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.q.timer.Stop()
		p.Flush()
		p.cancel()
		p.wg.Wait()
		p.smu.Lock()
		for sub := range p.subs {
			close(sub.C)
			delete(p.subs, sub)
		}
		p.smu.Unlock()
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}
