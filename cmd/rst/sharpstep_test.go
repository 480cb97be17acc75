package main

import (
	"bytes"
	"flag"
	"strings"
	"sync"
	"testing"

	"github.com/rst-bench/rst/suite/optim"
	"github.com/rst-bench/rst/suite/train"
)

var registerToy sync.Once

// A sharp step registered from a test file shows in `rst train -h`: its
// name under --method and --sharp, its parameter under --param.
func TestTrainHelpListsARegisteredStep(t *testing.T) {
	registerToy.Do(func() {
		optim.RegisterSharp(optim.SharpStep{
			Name: "toy-help", About: "SAM (a test-only step)", ExtraPasses: 1,
			Params: []optim.Param{{Name: "toy_scale", Default: 1, Lo: 0, Hi: 1, LoOpen: true, Help: "a test-only parameter"}},
			Build: func(a *optim.SharpArgs) (optim.Method, error) {
				return &optim.SAM{Rho: a.Rho * a.Value("toy_scale")}, a.Err()
			},
		})
	})
	fs := flag.NewFlagSet("train", flag.ContinueOnError)
	cfg := train.Defaults()
	trainFlags(fs, &cfg)
	var out bytes.Buffer
	fs.SetOutput(&out)
	fs.PrintDefaults()
	for _, name := range []string{"method", "sharp", "param"} {
		f := fs.Lookup(name)
		if f == nil || !strings.Contains(f.Usage, "toy-help") {
			t.Errorf("--%s help does not name the registered step toy-help: %v", name, f)
		}
	}
	if !strings.Contains(out.String(), "toy-help toy_scale") {
		t.Errorf("rst train -h lacks toy-help's parameter:\n%s", out.String())
	}
}
