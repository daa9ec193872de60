// Package nsinit is the part of an isolated environment's setup that runs
// inside it: lambdad re-executes itself as this package's helper in new
// mount and PID namespaces (see Arg0 and Spec).
//
// It is a package of its own, importing little, for speed: the helper runs
// from this package's init(), and Go initialises packages in import-path
// order as soon as their imports are initialised, so the helper starts
// before heavier packages of the binary (generated tables, compiled
// regexps) spend every cold start on their own init. Keep its imports to
// the standard library basics and x/sys.
package nsinit
