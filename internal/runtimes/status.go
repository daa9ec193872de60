package runtimes

import "errors"

// Status says how this host runs a runtime, for `lambdad runtimes`.
type Status struct {
	Runtime string
	// Path is the interpreter's binary; Version what it reports (3.12.1,
	// 22.23.5); Source where it was found (lambdad, PATH, pyenv, ...).
	// All empty for provided* and for a runtime that cannot run.
	Path, Version, Source string
	// Fallback is set when the interpreter is another version's (Config.Fallback).
	Fallback string
	// SDK is the node_modules holding the AWS SDK the runtime provides ("" if none).
	SDK string
	// Missing says why the runtime cannot run ("" when it can), and Install
	// the command that installs its interpreter.
	Missing, Install string
}

// Status says whether and with what runtime runs here.
func (c *Catalog) Status(runtime string) Status {
	st := Status{Runtime: runtime}
	if !c.Known(runtime) {
		st.Missing = missingLauncher(runtime)
		return st
	}
	var f found
	var note string
	var err error
	switch minor, isPy := pythonVersion(runtime); {
	case isPy:
		f, note, err = c.choose(runtime, minor, c.exactPython)
	default:
		major, isNode := nodeVersion(runtime)
		if !isNode {
			return st // provided*: the function's own bootstrap
		}
		f, note, err = c.choose(runtime, major, c.exactNode)
		if err == nil {
			st.SDK = c.sdkDir(f.p.path)
		}
	}
	if err != nil {
		st.Missing = err.Error()
		var ue *UnavailableError
		if errors.As(err, &ue) {
			st.Missing, st.Install = ue.Missing, ue.Install
		}
		return st
	}
	st.Path, st.Version, st.Source, st.Fallback = f.p.path, f.p.full, f.source, note
	return st
}
