package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/jackc/pgx/v5/pgconn"

	"github.com/lambdad/lambdad/internal/logs"
	"github.com/lambdad/lambdad/internal/server"
	"github.com/lambdad/lambdad/internal/store"
)

// storeValue is --store: empty (bbolt in the data directory) or a
// PostgreSQL URL, whose form is checked at start.
type storeValue struct{ p *string }

func (v storeValue) String() string {
	if v.p == nil {
		return ""
	}
	return *v.p
}

func (v storeValue) Set(s string) error {
	if s != "" {
		if err := checkPostgresURL(s); err != nil {
			return err
		}
	}
	*v.p = s
	return nil
}

func checkPostgresURL(s string) error {
	if !server.IsPostgresURL(s) {
		return errors.New("want a postgres:// URL")
	}
	if _, err := pgconn.ParseConfig(s); err != nil {
		return err
	}
	return nil
}

func storeVar(fl *flag.FlagSet, p *string, name, usage string) {
	fl.Var(storeValue{p}, name, usage)
}

// runMigrate is `lambdad migrate --from DIR --to URL [--replace]`.
func runMigrate(args []string) error {
	fl := flag.NewFlagSet("lambdad migrate", flag.ContinueOnError)
	from := fl.String("from", "./lambdad-data", "data directory whose bbolt store to copy (lambdad must not be running on it)")
	to := fl.String("to", "", "postgres:// URL of the store to copy it into")
	replace := fl.Bool("replace", false, "delete what the PostgreSQL store holds first, instead of refusing a store that is not empty")
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "Usage: lambdad migrate --from DIR --to postgres://...\n\nCopies every record of a data directory's metadata store, and its code-link key, into PostgreSQL in one transaction, then its function logs (a transaction per log group). Code stays in the data directory's blobs.\n\nFlags:\n")
		fl.PrintDefaults()
	}
	if err := fl.Parse(args); err != nil {
		return err
	}
	if err := checkPostgresURL(*to); err != nil {
		return fmt.Errorf("--to: %w", err)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := server.MigrateStore(ctx, *from, *to, *replace, log)
	if errors.Is(err, store.ErrNotEmpty) {
		return fmt.Errorf("%w: --replace deletes its records first", err)
	}
	if errors.Is(err, logs.ErrPGNotEmpty) {
		return fmt.Errorf("%w: --replace deletes them first", err)
	}
	if err != nil {
		return err
	}
	fmt.Printf("copied %d records and %d log groups (%d events) from %s\n", m.Records, m.LogGroups, m.LogEvents, *from)
	return nil
}
