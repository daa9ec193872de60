package logs

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/lambdad/lambdad/internal/pgschema"
)

// ErrPGNotEmpty is CopyToPG refusing tables that hold log groups.
var ErrPGNotEmpty = errors.New("the PostgreSQL function logs are not empty")

// PGLogsEmpty migrates the logs' tables in pool's database and reports
// whether they hold no group, so `lambdad migrate` can refuse before it
// copies anything.
func PGLogsEmpty(ctx context.Context, pool *pgxpool.Pool) (bool, error) {
	if err := pgschema.Migrate(ctx, pool, "logs", pgSteps); err != nil {
		return false, err
	}
	var some bool
	err := pool.QueryRow(ctx, "SELECT EXISTS (SELECT 1 FROM lambdad_log_groups)").Scan(&some)
	return !some, err
}

// CopyToPG copies every group, stream and event of the data directory's
// store s into PostgreSQL's log tables (pool), as they are: names, creation
// times, retention policies, timestamps, ingestion times and each event's
// position in its stream, so a GetLogEvents token stays valid. replace
// empties the tables first; else tables that hold a group are refused.
// Each group is one transaction: a copy cut short leaves whole groups,
// and is run again with replace.
func CopyToPG(ctx context.Context, s *Store, pool *pgxpool.Pool, replace bool) (groups, events int, err error) {
	empty, err := PGLogsEmpty(ctx, pool)
	if err != nil {
		return 0, 0, err
	}
	if !empty {
		if !replace {
			return 0, 0, ErrPGNotEmpty
		}
		if _, err := pool.Exec(ctx, "TRUNCATE lambdad_log_events, lambdad_log_streams, lambdad_log_groups"); err != nil {
			return 0, 0, err
		}
	}
	for _, g := range s.Groups() {
		n := 0
		err := pgx.BeginFunc(ctx, pool, func(tx pgx.Tx) error {
			n = 0
			var id int64
			if err := tx.QueryRow(ctx, `INSERT INTO lambdad_log_groups (name, created, retention_days) VALUES ($1, $2, $3) RETURNING id`,
				g.Name, g.Created, g.RetentionDays).Scan(&id); err != nil {
				return err
			}
			streams, err := s.Streams(g.Name)
			if err != nil {
				return err
			}
			for _, st := range streams {
				k, err := copyStream(ctx, tx, s, g.Name, id, st)
				if err != nil {
					return err
				}
				n += k
			}
			return nil
		})
		if err != nil {
			return groups, events, err
		}
		groups++
		events += n
	}
	return groups, events, nil
}

// copyStream copies one stream's row and events into group id.
func copyStream(ctx context.Context, tx pgx.Tx, s *Store, group string, id int64, st StreamInfo) (int, error) {
	var evs []Event
	if err := s.Scan(group, Query{Streams: []string{st.Name}}, func(e Event) bool {
		evs = append(evs, e)
		return true
	}); err != nil {
		return 0, err
	}
	var first, last, next, size int64
	for i, e := range evs {
		if i == 0 {
			first, last = e.Timestamp, e.Timestamp
		}
		first, last = min(first, e.Timestamp), max(last, e.Timestamp)
		next = max(next, e.Ord+1)
		size += int64(eventHeader + len(e.Message))
	}
	if _, err := tx.Exec(ctx, `INSERT INTO lambdad_log_streams (group_id, name, created, last_ingest, next_ord, first_ts, last_ts, bytes)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, id, st.Name, st.Created, st.LastIngestion, next, first, last, size); err != nil {
		return 0, err
	}
	i := 0
	_, err := tx.CopyFrom(ctx, pgx.Identifier{"lambdad_log_events"},
		[]string{"group_id", "stream", "ord", "ts", "ingestion", "message"},
		pgx.CopyFromFunc(func() ([]any, error) {
			if i >= len(evs) {
				return nil, nil
			}
			e := evs[i]
			i++
			return []any{id, st.Name, e.Ord, e.Timestamp, e.Ingestion, []byte(e.Message)}, nil
		}))
	return len(evs), err
}
