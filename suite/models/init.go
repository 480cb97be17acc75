package models

import (
	"fmt"
	"math"

	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/rng"
)

// Reinit applies an initialisation option (train.Config.Init) to a built
// network: "" or "suite" keeps what New drew; "official" redraws every
// linear layer as the official code's dense initialiser does (the SAM
// repository's sam_jax/models/utils.py, dense_layer_init_fn): the kernel
// uniform in ±1/√fan_out, fan_out being the layer's outputs (the classes
// for the head, 4096 for VGG's hidden FC layers), and the bias zero
// (Flax's Dense default). Convolutions are left as drawn: they are
// Kaiming-normal with fan-out in both.
func Reinit(net *nn.Net, scheme string, seed uint64) error {
	switch scheme {
	case "", "suite":
		return nil
	case "official":
	default:
		return fmt.Errorf("initialisation %q: choose suite or official", scheme)
	}
	i := 0
	var visit func(l nn.Layer)
	visit = func(l nn.Layer) {
		if lin, ok := l.(*nn.Linear); ok {
			r := rng.New(seed, "init-official-dense", uint64(i))
			bound := 1 / math.Sqrt(float64(lin.Out))
			w := make([]float32, lin.W.W.Len())
			for j := range w {
				w[j] = float32((2*r.Float64() - 1) * bound)
			}
			net.B.Upload(lin.W.W, w)
			net.B.Fill(lin.B.W, 0)
		}
		i++
		if c, ok := l.(nn.Container); ok {
			for _, ch := range c.Children() {
				visit(ch)
			}
		}
	}
	visit(net.Root)
	return nil
}
