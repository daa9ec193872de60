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
// data directory's (Files) or PostgreSQL's (PG), shared by the nodes of a
// cluster.
type Logs interface {
	Appender
	Flush()
	Close(ctx context.Context) error

	CreateGroup(ctx context.Context, name string) error
	DeleteGroup(ctx context.Context, name string) error
	SetRetention(ctx context.Context, name string, days int32) error
	GroupExists(ctx context.Context, name string) (bool, error)
	Groups(ctx context.Context) ([]GroupInfo, error)
	Streams(ctx context.Context, group string) ([]StreamInfo, error)
	Filter(ctx context.Context, group string, in FilterInput) (FilterOutput, error)
	Get(ctx context.Context, group string, in GetInput) (GetOutput, error)

	Subscribe(groups []string) *Subscription
	Unsubscribe(sub *Subscription)
}

// Files serves the data directory's store s as Logs: its reads wait on the
// local disk only, which a context does not cut short.
func Files(s *Store) Logs { return files{s} }

type files struct{ *Store }

func (f files) CreateGroup(_ context.Context, name string) error { return f.Store.CreateGroup(name) }
func (f files) DeleteGroup(_ context.Context, name string) error { return f.Store.DeleteGroup(name) }
func (f files) SetRetention(_ context.Context, name string, days int32) error {
	return f.Store.SetRetention(name, days)
}
func (f files) GroupExists(_ context.Context, name string) (bool, error) {
	return f.Store.GroupExists(name), nil
}
func (f files) Groups(context.Context) ([]GroupInfo, error) { return f.Store.Groups(), nil }
func (f files) Streams(_ context.Context, group string) ([]StreamInfo, error) {
	return f.Store.Streams(group)
}
func (f files) Filter(_ context.Context, group string, in FilterInput) (FilterOutput, error) {
	return f.Store.Filter(group, in)
}
func (f files) Get(_ context.Context, group string, in GetInput) (GetOutput, error) {
	return f.Store.Get(group, in)
}

var _ Logs = (*PG)(nil)
