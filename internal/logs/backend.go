package logs

import (
	"context"
	"time"
)

// Appender takes functions' output: the invoke path's side, a cheap enqueue.
type Appender interface {
	Append(group, stream string, data []byte)
	AppendMarked(group, stream string, data []byte, start time.Time, marks []Mark)
}

// Logs is a log store as the Logs API, the console and lambdad use it: the
// data directory's (Store) or PostgreSQL's (PG), shared by the nodes of a
// cluster.
type Logs interface {
	Appender
	Flush()
	Close(ctx context.Context) error

	CreateGroup(name string) error
	DeleteGroup(name string) error
	SetRetention(name string, days int32) error
	GroupExists(name string) bool
	Groups() []GroupInfo
	Streams(group string) ([]StreamInfo, error)
	Filter(group string, in FilterInput) (FilterOutput, error)
	Get(group string, in GetInput) (GetOutput, error)

	Subscribe(groups []string) *Subscription
	Unsubscribe(sub *Subscription)
}

var (
	_ Logs = (*Store)(nil)
	_ Logs = (*PG)(nil)
)
