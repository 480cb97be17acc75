package optim

import (
	"fmt"
	"sort"
	"strings"

	"github.com/rst-bench/rst/suite/nn"
)

// Spec names a training method and its hyper-parameters. It is part of a
// run's config, so every value that changes the result is in it.
type Spec struct {
	Name     string             `json:"name"`               // sgd, sam, rst, grst, ...
	Sharp    string             `json:"sharp,omitempty"`    // the sharp step of rst/grst
	Schedule string             `json:"schedule,omitempty"` // p(t) of rst/grst
	Rho      float64            `json:"rho,omitempty"`
	Params   map[string]float64 `json:"params,omitempty"` // variant-specific (k, alpha, eta, ...)
}

// constructor builds a method for a network from its spec.
type constructor func(s Spec, net *nn.Net) (Method, error)

var methods = map[string]constructor{}

func registerMethod(name string, c constructor) { methods[name] = c }

// MethodNames lists the known methods.
func MethodNames() []string {
	names := make([]string, 0, len(methods))
	for n := range methods {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// New builds the method a spec names.
func New(s Spec, net *nn.Net) (Method, error) {
	c, ok := methods[s.Name]
	if !ok {
		return nil, fmt.Errorf("--method %q: choose one of %s", s.Name, strings.Join(MethodNames(), ", "))
	}
	return c(s, net)
}

func init() {
	registerMethod("sgd", func(Spec, *nn.Net) (Method, error) { return Plain{}, nil })
	registerMethod("sam", func(s Spec, _ *nn.Net) (Method, error) {
		if !(s.Rho > 0) {
			return nil, fmt.Errorf("sam: --rho %v: the radius must be positive (SPEC.md: 0.05 on CIFAR)", s.Rho)
		}
		return &SAM{Rho: s.Rho}, nil
	})
}
