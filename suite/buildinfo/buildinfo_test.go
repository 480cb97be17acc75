package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestResolve(t *testing.T) {
	vcs := func(rev, modified string) []debug.BuildSetting {
		return []debug.BuildSetting{{Key: "vcs", Value: "git"}, {Key: "vcs.revision", Value: rev}, {Key: "vcs.modified", Value: modified}}
	}
	for _, c := range []struct {
		name     string
		stamped  string
		settings []debug.BuildSetting
		want     string
	}{
		{"stamped wins over vcs", "abc123+dirty", vcs("def456", "false"), "abc123+dirty"},
		{"vcs clean", "", vcs("def456", "false"), "def456"},
		{"vcs dirty", "", vcs("def456", "true"), "def456+dirty"},
		{"nothing", "", nil, "unknown"},
		{"vcs without revision", "", []debug.BuildSetting{{Key: "vcs.modified", Value: "true"}}, "unknown"},
	} {
		if got := resolve(c.stamped, c.settings); got != c.want {
			t.Errorf("%s: resolve(%q, …) = %q, want %q", c.name, c.stamped, got, c.want)
		}
	}
}

// Under go test nothing is stamped and the test binary carries no VCS
// revision, so Commit must say so rather than guess.
func TestCommitUnstamped(t *testing.T) {
	if got := Commit(); got != "unknown" {
		if bi, ok := debug.ReadBuildInfo(); ok {
			for _, s := range bi.Settings {
				if s.Key == "vcs.revision" {
					return // a toolchain that stamps test binaries: any revision is right
				}
			}
		}
		t.Errorf("Commit() = %q with nothing stamped, want unknown", got)
	}
}
