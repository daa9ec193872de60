package main

import (
	"runtime"
	"runtime/debug"
	"strings"
)

// commit can be set at link time (-ldflags "-X main.commit=<sha>") for
// builds without VCS stamping (GOFLAGS=-buildvcs=false, a source tarball).
var commit string

// versionLine is what --version prints: the module version ("(devel)" for
// a build from a checkout, vX.Y.Z from go install …@vX.Y.Z), the commit the
// go tool stamped (vcs.revision, "+modified" for a dirty tree) and Go's
// version.
func versionLine() string {
	version, rev, modified := "(devel)", commit, false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	if rev == "" {
		// go install …@version builds from the module zip: the pseudo-version
		// ends in the commit's first 12 hex digits.
		if i := strings.LastIndexByte(version, '-'); i >= 0 && len(version)-i-1 == 12 {
			rev = version[i+1:]
		} else {
			rev = "unknown"
		}
	}
	if modified {
		rev += "+modified"
	}
	return "lambdad " + version + " commit " + rev + " " + runtime.Version()
}

// wantsVersion reports whether args ask for --version (before any "--").
func wantsVersion(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-version", "--version":
			return true
		}
	}
	return false
}

// wantsHelp reports whether args ask for the usage (before any "--").
func wantsHelp(args []string) bool {
	for _, a := range args {
		switch a {
		case "--":
			return false
		case "-h", "-help", "--h", "--help":
			return true
		}
	}
	return false
}
