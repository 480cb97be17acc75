// Package buildinfo says which source a binary was built from, so that a
// run's record can name the exact commit behind its numbers. It never runs
// git at run time: a binary copied to another machine, or run outside its
// checkout, must report the commit it was built from, not the one of
// whatever folder it happens to run in.
package buildinfo

import "runtime/debug"

// commit is stamped by the Makefile:
//
//	go build -ldflags "-X github.com/rst-bench/rst/suite/buildinfo.commit=HASH[+dirty]"
//
// It is a variable, not a constant, because -X can only set variables.
var commit string

// Commit is the git commit the binary was built from, with "+dirty" when
// the checkout had uncommitted changes: the value stamped at link time
// when there is one, else the VCS revision go build records itself
// (absent under -buildvcs=false, go run and go test), else "unknown".
func Commit() string {
	var settings []debug.BuildSetting
	if bi, ok := debug.ReadBuildInfo(); ok {
		settings = bi.Settings
	}
	return resolve(commit, settings)
}

// resolve picks the commit from the stamped value and the build settings.
func resolve(stamped string, settings []debug.BuildSetting) string {
	if stamped != "" {
		return stamped
	}
	rev, dirty := "", false
	for _, s := range settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	switch {
	case rev == "":
		return "unknown"
	case dirty:
		return rev + "+dirty"
	}
	return rev
}
