package nn

import "fmt"

// Tensor is a dense float32 array. Data holds it on the CPU backend; a
// device backend keeps its memory in Dev and may leave Data nil.
type Tensor struct {
	Shape []int
	Data  []float32
	Dev   any
	// Off is the element offset of this view inside Dev's allocation, for
	// device backends whose views cannot be expressed as slices.
	Off int
}

// Len is the number of elements.
func (t *Tensor) Len() int { return numel(t.Shape) }

// Rows is the product of all dimensions but the last: the number of rows
// when the tensor is read as a matrix of Shape[last] columns.
func (t *Tensor) Rows() int { return numel(t.Shape[:len(t.Shape)-1]) }

// Cols is the last dimension.
func (t *Tensor) Cols() int { return t.Shape[len(t.Shape)-1] }

func (t *Tensor) String() string { return fmt.Sprintf("Tensor%v", t.Shape) }

func numel(shape []int) int {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return n
}

func sameShape(a, b []int) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

// ParamKind says what a parameter is, because methods treat kinds
// differently: ASAM rescales weights only, weight decay may skip
// normalisation parameters, and running statistics are not trained.
type ParamKind int

const (
	Weight ParamKind = iota // convolution and linear weights
	Bias                    // additive biases
	Norm                    // batch-norm / layer-norm scale and shift
	Stat                    // running statistics: saved, never trained
)

func (k ParamKind) String() string {
	return [...]string{"weight", "bias", "norm", "stat"}[k]
}

// Param is one named parameter tensor. After Build, W and G are views into
// the network's flat buffers (G is nil for statistics).
type Param struct {
	Name  string
	Shape []int
	Kind  ParamKind
	W, G  *Tensor
	// Offset is the position of W inside the flat buffer that holds it.
	Offset int
}
