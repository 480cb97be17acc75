package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// rst claims on a scratch store writes its verdicts beside that store,
// never into the repository's committed tables, prints a verdict for
// every claim, and refuses a profile it does not know.
func TestClaimsCommand(t *testing.T) {
	root, _ := fakeRepo(t)
	scratch := filepath.Join(t.TempDir(), "scratch")
	// A copy of the committed smoke store: every claim has data to check.
	if err := os.CopyFS(filepath.Join(scratch, "smoke", "runs"), os.DirFS(filepath.Join("..", "..", "results", "smoke", "runs"))); err != nil {
		t.Fatal(err)
	}
	stdout, stderr, code := runIn(t, root, "claims", "--profile", "smoke", "--results", scratch)
	if code != 0 {
		t.Fatalf("rst claims: exit %d: %s", code, stderr)
	}
	for _, id := range []string{"sam-beats-sgd", "grst-half-cost", "sgd-first-beats-sam-first", "cost-follows-delta-eta"} {
		if !strings.Contains(stdout, id) {
			t.Errorf("rst claims printed no verdict for %s:\n%s", id, stdout)
		}
	}
	if _, err := os.Stat(filepath.Join(scratch, "tables", "smoke", "claims.md")); err != nil {
		t.Errorf("claims of a scratch store: %v", err)
	}
	if _, err := os.Stat(filepath.Join(root, "tables", "smoke", "claims.md")); err == nil {
		t.Error("claims of a scratch store were written into the repository's tables/")
	}
	if _, stderr, code := runIn(t, root, "claims", "--profile", "laptop", "--results", scratch); code == 0 || !strings.Contains(stderr, "--profile") {
		t.Errorf("an unknown profile: exit %d, %q", code, stderr)
	}
	if _, stderr, code := runIn(t, root, "claims", "--profile", "smoke", "--results", filepath.Join(root, "nowhere")); code == 0 || !strings.Contains(stderr, "--results") {
		t.Errorf("a missing store: exit %d, %q", code, stderr)
	}
}
