package store

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
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/pgschema"
)

// pgSteps is the store's schema. Keys are bytea, so they sort bytewise as
// in bbolt whatever the database's collation; (bucket, key) is the primary
// key, so a prefix scan is an index range scan.
var pgSteps = []string{
	`CREATE TABLE lambdad_kv (
		bucket text COLLATE "C" NOT NULL,
		key bytea NOT NULL,
		val bytea NOT NULL,
		PRIMARY KEY (bucket, key))`,
}

// changesChannel is the NOTIFY channel on which each committed Update names
// the buckets it wrote.
const changesChannel = "lambdad_changes"

// pgMaxAttempts bounds how often Update runs fn when PostgreSQL reports a
// serialization failure or deadlock.
const pgMaxAttempts = 30

// pgDefaultConns is the connections a node keeps at most when the URL does
// not say (pool_max_conns=N).
const pgDefaultConns = 16

// A Scan reads pgScanFirst rows in its first round trip, enough for a page
// of a List operation (MaxItems 50, and one more to know if there are
// more), then pgScanChunk per round trip.
const (
	pgScanFirst = 64
	pgScanChunk = 1024
)

// Postgres is the store shared by several lambdad nodes: one table of
// (bucket, key, val) rows. Update is a SERIALIZABLE transaction: when two
// nodes race, one commits and the other runs fn again on the new state.
type Postgres struct {
	pool *pgxpool.Pool
	log  *slog.Logger
	// node tags this process's notifications, so its listener skips them.
	node string

	mu       sync.Mutex
	watchers []func([]string)
	listen   context.CancelFunc
	done     chan struct{}
}

var (
	_ Store   = (*Postgres)(nil)
	_ Batcher = (*Postgres)(nil)
	_ Watcher = (*Postgres)(nil)
)

// Watcher is a Store shared with other processes, which reports the buckets
// they changed so caches can be dropped.
type Watcher interface {
	// Watch calls fn after another process committed writes to buckets;
	// nil buckets means anything may have changed (notifications were
	// lost while the connection was down).
	Watch(fn func(buckets []string))
}

// OpenPostgres connects to url, migrates the store's schema and starts
// listening for other nodes' changes.
func OpenPostgres(ctx context.Context, url string, log *slog.Logger) (*Postgres, error) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg, err := pgxpool.ParseConfig(url)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if !strings.Contains(url, "pool_max_conns") {
		// pgx's default, max(4, CPUs), would queue a busy node's
		// requests behind a handful of connections.
		cfg.MaxConns = pgDefaultConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: %s: %w", cfg.ConnConfig.Host, err)
	}
	if err := pgschema.Migrate(ctx, pool, "store", pgSteps); err != nil {
		pool.Close()
		return nil, err
	}
	p := &Postgres{pool: pool, log: log, node: fmt.Sprintf("%016x", rand.Uint64())}
	return p, nil
}

// Pool is the connection pool, for other components keeping tables in the
// same database.
func (p *Postgres) Pool() *pgxpool.Pool { return p.pool }

func (p *Postgres) Close() error {
	p.mu.Lock()
	stop, done := p.listen, p.done
	p.listen = nil
	p.mu.Unlock()
	if stop != nil {
		stop()
		<-done
	}
	p.pool.Close()
	return nil
}

// View runs fn in a REPEATABLE READ READ ONLY transaction: one snapshot for
// all its reads. BEGIN travels with the first statement.
func (p *Postgres) View(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	_, err := p.run(ctx, false, fn)
	return err
}

// Update runs fn in a SERIALIZABLE transaction, again (up to a bound) when
// PostgreSQL aborts it for a conflict with a concurrent one: the loser then
// sees the winner's writes, as with AWS's own conditional updates.
func (p *Postgres) Update(ctx context.Context, fn func(Tx) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	for attempt := 1; ; attempt++ {
		retry, err := p.run(ctx, true, fn)
		if !retry || attempt == pgMaxAttempts {
			return err
		}
		p.log.Debug("store: a concurrent transaction conflicted; running this one again", "attempt", attempt, "err", err)
		// Jitter so the losers of one race do not collide again.
		d := time.Duration(rand.Int64N(int64(time.Millisecond) << min(attempt, 6)))
		select {
		case <-ctx.Done():
			return err
		case <-time.After(d):
		}
	}
}

// Batch is Update: PostgreSQL commits concurrent transactions in parallel
// already.
func (p *Postgres) Batch(ctx context.Context, fn func(Tx) error) error { return p.Update(ctx, fn) }

// run runs fn once; retry reports a serialization failure or deadlock.
func (p *Postgres) run(ctx context.Context, write bool, fn func(Tx) error) (retry bool, err error) {
	conn, err := p.pool.Acquire(ctx)
	if err != nil {
		return false, fmt.Errorf("postgres: %w", err)
	}
	// A connection left inside a transaction (an error midway) is not
	// reused: pgxpool closes it on release.
	defer conn.Release()
	tx := &pgTx{ctx: ctx, c: conn.Conn(), write: write}
	ferr := fn(tx)
	if tx.err == nil && ferr == nil {
		tx.commit(p.node)
	}
	if tx.err != nil {
		if tx.begun {
			tx.rollback()
		}
		return retryable(tx.err), tx.err
	}
	if ferr != nil {
		if tx.begun {
			tx.rollback()
			if tx.err != nil {
				return false, tx.err
			}
		}
		return false, ferr
	}
	return false, nil
}

func retryable(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && (pe.Code == "40001" || pe.Code == "40P01")
}

// pgTx is one transaction on one connection. The interface's Get has no
// error: the first database error is kept in err, makes every later call
// fail, and is what Update returns. Writes are queued and sent together
// with the next read or with COMMIT, to save round trips.
type pgTx struct {
	ctx   context.Context
	c     *pgx.Conn
	write bool
	// claim: a Claim's transaction, READ COMMITTED (postgres_claimer.go).
	claim bool
	begun bool
	err   error
	// queued writes, sent before the next statement.
	pending pgx.Batch
	// buckets written, named in the commit's notification.
	changed []string
}

func (x *pgTx) begin() string {
	if x.begun {
		return ""
	}
	x.begun = true
	if x.claim {
		return "BEGIN ISOLATION LEVEL READ COMMITTED"
	}
	if x.write {
		return "BEGIN ISOLATION LEVEL SERIALIZABLE"
	}
	return "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"
}

// send runs the queued writes (after BEGIN, when not sent yet), then q,
// in one round trip. scan reads q's rows.
func (x *pgTx) send(q string, args []any, scan func(pgx.Rows) error) {
	if x.err != nil {
		return
	}
	b := &pgx.Batch{QueuedQueries: x.pending.QueuedQueries}
	x.pending = pgx.Batch{}
	if bq := x.begin(); bq != "" {
		b.QueuedQueries = append([]*pgx.QueuedQuery{{SQL: bq}}, b.QueuedQueries...)
	}
	n := len(b.QueuedQueries)
	if q != "" {
		b.Queue(q, args...)
	}
	if len(b.QueuedQueries) == 0 {
		return
	}
	if len(b.QueuedQueries) == 1 && scan != nil {
		rows, err := x.c.Query(x.ctx, q, args...)
		if err == nil {
			err = scan(rows)
			rows.Close()
			if err == nil {
				err = rows.Err()
			}
		}
		x.fail(err)
		return
	}
	br := x.c.SendBatch(x.ctx, b)
	for range n {
		if _, err := br.Exec(); err != nil {
			x.fail(err)
			br.Close()
			return
		}
	}
	if q != "" {
		rows, err := br.Query()
		if err == nil && scan != nil {
			err = scan(rows)
		}
		rows.Close()
		if err == nil {
			err = rows.Err()
		}
		if err != nil {
			x.fail(err)
			br.Close()
			return
		}
	}
	x.fail(br.Close())
}

func (x *pgTx) fail(err error) {
	if err != nil && x.err == nil {
		x.err = fmt.Errorf("postgres: %w", err)
	}
}

func (x *pgTx) commit(node string) {
	if !x.begun && x.pending.Len() == 0 {
		return // nothing was read or written
	}
	if len(x.changed) > 0 {
		// Delivered to the listeners only if the transaction commits.
		x.pending.Queue("SELECT pg_notify($1, $2)", changesChannel, node+"|"+strings.Join(x.changed, ","))
	}
	x.pending.Queue("COMMIT")
	x.send("", nil, nil)
	if x.err == nil {
		x.begun = false
	}
}

func (x *pgTx) rollback() {
	// The transaction may be aborted already; ROLLBACK ends it either way.
	// A fresh context: a cancelled ctx must not leave it open (the pool
	// would drop the connection anyway).
	ctx, cancel := context.WithTimeout(context.WithoutCancel(x.ctx), 5*time.Second)
	defer cancel()
	if _, err := x.c.Exec(ctx, "ROLLBACK"); err == nil {
		x.begun = false
	}
}

func (x *pgTx) Get(bucket, key string) []byte {
	var val []byte
	x.send("SELECT val FROM lambdad_kv WHERE bucket = $1 AND key = $2", []any{bucket, []byte(key)}, func(rows pgx.Rows) error {
		if rows.Next() {
			if err := rows.Scan(&val); err != nil {
				return err
			}
			if val == nil {
				val = []byte{}
			}
		}
		return nil
	})
	if x.err != nil {
		return nil
	}
	return val
}

func (x *pgTx) writing(bucket string) error {
	if !x.write {
		return errReadOnly
	}
	if x.err != nil {
		return x.err
	}
	if !slices.Contains(x.changed, bucket) {
		x.changed = append(x.changed, bucket)
	}
	return nil
}

func (x *pgTx) Put(bucket, key string, val []byte) error {
	if err := x.writing(bucket); err != nil {
		return err
	}
	if val == nil {
		val = []byte{}
	}
	x.pending.Queue(`INSERT INTO lambdad_kv (bucket, key, val) VALUES ($1, $2, $3)
		ON CONFLICT (bucket, key) DO UPDATE SET val = EXCLUDED.val`, bucket, []byte(key), val)
	return nil
}

func (x *pgTx) Delete(bucket, key string) error {
	if err := x.writing(bucket); err != nil {
		return err
	}
	x.pending.Queue("DELETE FROM lambdad_kv WHERE bucket = $1 AND key = $2", bucket, []byte(key))
	return nil
}

// keyRange is the condition on key for keys with prefix after after, as
// bounds an index range scan uses.
func keyRange(prefix, after string) (cond string, args []any) {
	lo, op := []byte(prefix), ">="
	if after != "" && after >= prefix {
		lo, op = []byte(after), ">"
	}
	args = []any{lo}
	cond = "key " + op + " $2"
	if hi := prefixEnd(prefix); hi != "" {
		cond += " AND key < $3"
		args = append(args, []byte(hi))
	}
	return cond, args
}

func (x *pgTx) Scan(bucket, prefix, after string, fn func(string, []byte) bool) error {
	type kv struct {
		k string
		v []byte
	}
	var chunk []kv
	for limit := pgScanFirst; ; limit = pgScanChunk {
		cond, args := keyRange(prefix, after)
		q := "SELECT key, val FROM lambdad_kv WHERE bucket = $1 AND " + cond + fmt.Sprintf(" ORDER BY key LIMIT %d", limit)
		chunk = chunk[:0]
		// The rows are read before fn sees them: fn may use the
		// transaction, which a connection reading rows cannot.
		x.send(q, append([]any{bucket}, args...), func(rows pgx.Rows) error {
			for rows.Next() {
				var k, v []byte
				if err := rows.Scan(&k, &v); err != nil {
					return err
				}
				if v == nil {
					v = []byte{}
				}
				chunk = append(chunk, kv{string(k), v})
			}
			return nil
		})
		if x.err != nil {
			return x.err
		}
		for _, e := range chunk {
			if !fn(e.k, e.v) {
				return nil
			}
		}
		if len(chunk) < limit {
			return nil
		}
		after = chunk[len(chunk)-1].k
	}
}

func (x *pgTx) Count(bucket, prefix string) int {
	cond, args := keyRange(prefix, "")
	var n int
	x.send("SELECT count(*) FROM lambdad_kv WHERE bucket = $1 AND "+cond, append([]any{bucket}, args...), func(rows pgx.Rows) error {
		if rows.Next() {
			return rows.Scan(&n)
		}
		return nil
	})
	return n
}
