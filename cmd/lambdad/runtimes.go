package main

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"slices"
	"text/tabwriter"

	"github.com/lambdad/lambdad/internal/runtimes"
	"github.com/lambdad/lambdad/internal/spec"
)

// runRuntimes is `lambdad runtimes [install RUNTIME...] [flags]`: it lists
// the runtime ids of Lambda's model that lambdad can run and with what, or
// installs runtimes into the data directory. It takes every flag lambdad
// does, so --data-dir and the interpreter flags (and their LAMBDAD_*
// variables) mean here what they mean to the server; flags may come before
// or after the runtime ids.
func runRuntimes(ctx context.Context, args []string, lookup func(string) (string, bool), out io.Writer) error {
	install := len(args) > 0 && args[0] == "install"
	force := false
	if install {
		args = args[1:]
		// --force is install's own, not a server flag.
		args = slices.DeleteFunc(slices.Clone(args), func(a string) bool {
			if a == "--force" || a == "-force" {
				force = true
				return true
			}
			return false
		})
	}
	var st settings
	fl := st.flags()
	fl.Usage = func() {
		fmt.Fprintf(fl.Output(), "Usage: lambdad runtimes [flags]: which Lambda runtimes this host runs, and with what\n       lambdad runtimes install [--force] RUNTIME... [flags]: install them into <data-dir>/runtimes (nodejsN.x); --force installs again (the newest N.x)\n\nFlags (those of lambdad; --data-dir, --python, --node, --node-binaries and --runtime-fallback matter here):\n")
		fl.PrintDefaults()
	}
	if err := applyEnv(fl, lookup); err != nil {
		return err
	}
	if wantsHelp(args) {
		fl.SetOutput(out)
	}
	// Parse flags anywhere among the runtime ids.
	var ids []string
	for {
		if err := fl.Parse(args); err != nil {
			return err
		}
		if fl.NArg() == 0 {
			break
		}
		ids = append(ids, fl.Arg(0))
		args = fl.Args()[1:]
	}
	dir := filepath.Join(st.cfg.DataDir, "runtimes")
	if install {
		if len(ids) == 0 {
			return fmt.Errorf("runtimes install: name the runtimes to install, e.g. lambdad runtimes install nodejs22.x")
		}
		for _, id := range ids {
			if _, _, err := runtimes.Install(ctx, runtimes.InstallConfig{Dir: dir, Progress: out, Force: force}, id); err != nil {
				return err
			}
		}
		return nil
	}
	if len(ids) > 0 {
		return fmt.Errorf("runtimes: unexpected %q (did you mean lambdad runtimes install %s?)", ids[0], ids[0])
	}
	cat, err := runtimes.New(runtimes.Config{Dir: dir, Python: st.cfg.Python, Node: st.cfg.Node, Nodes: st.cfg.Nodes,
		Fallback: st.cfg.RuntimeFallback, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	defer cat.Close()
	return listRuntimes(cat, out)
}

// listRuntimes writes one line per runtime id of the model lambdad knows:
// the interpreter that runs it, or why none does and what installs one.
func listRuntimes(cat *runtimes.Catalog, out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "RUNTIME\tSTATUS\tVERSION\tINTERPRETER\tFOUND BY\tNOTES")
	for _, id := range spec.RuntimeValues() {
		if !cat.Known(id) {
			continue
		}
		s := cat.Status(id)
		switch {
		case s.Missing != "":
			fmt.Fprintf(tw, "%s\tmissing\t-\t-\t-\tinstall: %s\n", id, s.Install)
		case s.Path == "":
			fmt.Fprintf(tw, "%s\tok\t-\tthe function's bootstrap\t-\t\n", id)
		default:
			status, note := "ok", ""
			if s.Fallback != "" {
				status, note = "fallback", "install: "+runtimes.InstallCommand(id)
			}
			if s.SDK != "" {
				note += " AWS SDK v3: " + s.SDK
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", id, status, s.Version, s.Path, s.Source, note)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintln(out, "\nmissing: a function of that runtime shows State Failed until its interpreter is installed (or lambdad runs with --runtime-fallback).")
	return err
}
