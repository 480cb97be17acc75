package nn

import (
	"fmt"
	"sort"
	"strings"
	"sync"

	"github.com/rst-bench/rst/suite/rng"
)

// ConvGeom is the geometry of a 2-D convolution or pooling window: a
// KH×KW window moved by Stride with Pad zeros on every border.
type ConvGeom struct {
	KH, KW, Stride, Pad int
}

// Out is the spatial output size for an H×W input.
func (g ConvGeom) Out(h, w int) (oh, ow int) {
	return (h+2*g.Pad-g.KH)/g.Stride + 1, (w+2*g.Pad-g.KW)/g.Stride + 1
}

// Backend holds every numeric kernel the layers and optimizers need. Tensors
// passed to a backend were created by the same backend (New or View).
// Images are NHWC; convolution weights are [Cout, KH, KW, Cin]; matrices
// are row-major with the last dimension as columns.
type Backend interface {
	// Name is the --device name ("cpu", "cuda").
	Name() string
	// Describe says what the backend runs on, for provenance and `rst version`.
	Describe() string

	// New's contents are undefined until written: the cpu backend's
	// happen to be zeros, the cuda device's are whatever its reused memory
	// held. Fill what must start at zero.
	New(shape ...int) *Tensor
	View(t *Tensor, off int, shape ...int) *Tensor
	Upload(dst *Tensor, src []float32)
	Download(dst []float32, src *Tensor)
	Fill(t *Tensor, v float32)
	Copy(dst, src *Tensor)

	// Flat vector operations, used by optimizers on whole buffers.
	Axpy(alpha float32, x, y *Tensor) // y += alpha·x
	Scale(alpha float32, x *Tensor)   // x *= alpha
	Lerp(y, x *Tensor, a float32)     // y = (1−a)·y + a·x
	Dot(x, y *Tensor) float64
	Mul(a, b, y *Tensor)     // y = a⊙b
	Add(a, b, y *Tensor)     // y = a+b
	AddReLU(a, b, y *Tensor) // y = max(a+b, 0): a residual join and its ReLU in one pass

	// MatMul computes c = alpha·op(a)·op(b) + beta·c on 2-D views.
	MatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor)
	AddRowVector(y, v *Tensor)                           // y[r,:] += v
	SumRows(dy, dv *Tensor, beta float32)                // dv = beta·dv + Σ_r dy[r,:]
	Conv2D(x, w, y *Tensor, g ConvGeom)                  // y = conv(x, w)
	Conv2DBackward(x, w, dy, dx, dw *Tensor, g ConvGeom) // dw = ∂/∂w; dx = ∂/∂x unless dx is nil

	// Batch normalisation over all but the last (channel) dimension,
	// followed by a ReLU when relu is set (fused: one pass over memory
	// instead of two). BatchNormTrain writes the batch mean and biased
	// variance. BatchNormBackward takes the forward output y, which it
	// needs only for the ReLU mask.
	BatchNormTrain(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool)
	BatchNormInfer(x, y, gamma, beta, mean, variance *Tensor, eps float32, relu bool)
	BatchNormBackward(x, y, dy, dx, gamma, mean, variance, dgamma, dbeta *Tensor, eps float32, relu bool)

	ReLU(x, y *Tensor)
	ReLUBackward(y, dy, dx *Tensor)
	MaxPool(x, y *Tensor, g ConvGeom)
	MaxPoolBackward(x, y, dy, dx *Tensor, g ConvGeom)
	AvgPool(x, y *Tensor, g ConvGeom)
	AvgPoolBackward(dy, dx *Tensor, g ConvGeom)
	GlobalAvgPool(x, y *Tensor)           // [N,H,W,C] → [N,C]
	GlobalAvgPoolBackward(dy, dx *Tensor) // [N,C] → [N,H,W,C]
	// DropoutMask sets element i of mask to 0 when key.Float32At(offset+i)
	// < p and to 1/(1−p) otherwise: counter-based, so a device kernel draws
	// each element on its own and the mask is the same on every backend.
	DropoutMask(mask *Tensor, p float32, key rng.Key, offset uint64)

	// SoftmaxCrossEntropy returns the mean loss over the batch with label
	// smoothing, writes the gradient of that mean into dlogits and each
	// sample's loss into perSample (either may be nil).
	SoftmaxCrossEntropy(logits *Tensor, labels []int32, smoothing float32, dlogits *Tensor, perSample []float32) float64
	// Argmax writes each row's index of its largest value.
	Argmax(logits *Tensor, out []int32)

	// Transformer kernels. A row is the last dimension, as in MatMul.
	//
	// LayerNorm normalises each row of x (R rows of C) on its own:
	// mean[r] = Σ_j x[r,j]/C, rstd[r] = 1/√(Σ_j (x[r,j]−mean[r])²/C + eps)
	// (the biased variance, as PyTorch and timm), and
	// y[r,j] = (x[r,j]−mean[r])·rstd[r]·gamma[j] + beta[j]; mean and rstd
	// ([R]) are written for the backward pass.
	LayerNorm(x, y, gamma, beta, mean, rstd *Tensor, eps float32)
	// LayerNormBackward, with x̂ = (x−mean)·rstd and g = dy⊙gamma, writes
	// dgamma[j] = Σ_r dy[r,j]·x̂[r,j] and dbeta[j] = Σ_r dy[r,j]
	// (overwritten, as every parameter gradient) and, unless dx is nil,
	// dx[r,j] = rstd[r]·(g[r,j] − Σ_k g[r,k]/C − x̂[r,j]·Σ_k g[r,k]·x̂[r,k]/C).
	LayerNormBackward(x, dy, dx, gamma, mean, rstd, dgamma, dbeta *Tensor)
	// GELU is y = x·Φ(x) = ½·x·(1 + erf(x/√2)), the exact form (PyTorch's
	// nn.GELU default); GELUBackward is dx = dy·(Φ(x) + x·φ(x)) with
	// φ(x) = e^(−x²/2)/√(2π).
	GELU(x, y *Tensor)
	GELUBackward(x, dy, dx *Tensor)
	// BatchedMatMul is MatMul on each of the B matrices of 3-D tensors
	// [B, rows, cols]: c[i] = alpha·op(a[i])·op(b[i]) + beta·c[i].
	BatchedMatMul(transA, transB bool, alpha float32, a, b *Tensor, beta float32, c *Tensor)
	// SoftmaxRows is y[r,:] = softmax(x[r,:]) = e^(x[r,j]−max_k x[r,k]) /
	// Σ_k e^(x[r,k]−max); SoftmaxRowsBackward takes the softmax output y
	// and writes dx[r,j] = y[r,j]·(dy[r,j] − Σ_k y[r,k]·dy[r,k]). Both may
	// run in place (y = x; dx = dy).
	SoftmaxRows(x, y *Tensor)
	SoftmaxRowsBackward(y, dy, dx *Tensor)
	// SplitHeads permutes the tokens x [N, T, P·H·D] (P parts, such as
	// query, key and value, each of H heads of D features) into y
	// [P, N·H, T, D]: y[p, n·H+h, t, d] = x[n, t, (p·H+h)·D + d]. N and T
	// are x's first two dimensions; y may have any shape of as many
	// elements. MergeHeads is its inverse, which is also its adjoint:
	// x[n, t, (p·H+h)·D + d] = y[p, n·H+h, t, d], with x 3-D.
	SplitHeads(x, y *Tensor, parts, heads int)
	MergeHeads(y, x *Tensor, parts, heads int)
	// StridedCopy copies rows of cols elements between flat positions:
	// dst[dOff + r·dStride + j] = src[sOff + r·sStride + j] for r < rows,
	// j < cols; sStride 0 repeats one source row. The rest of dst is left
	// as it is. (A class token is prepended, or taken out, with it.)
	StridedCopy(dst *Tensor, dOff, dStride int, src *Tensor, sOff, sStride, rows, cols int)

	// Fused optimizer updates on flat buffers; see package optim for the formulas.
	SGDMomentum(w, g, v *Tensor, lr, momentum float32, nesterov bool)
	AdamW(w, g, m, v *Tensor, lr, beta1, beta2, eps, decay, bc1, bc2 float32)

	// Element-wise operations of the sharpness-aware methods (ASAM's
	// scale, ESAM's and SSAM's masks), so that none of them needs the
	// weights or gradients on the host.
	AbsPlus(x, y *Tensor, c float32) // y = |x| + c
	Where(mask, a, b, y *Tensor)     // y = a where mask ≠ 0, else b
	// Bernoulli sets mask[i] = 1 when key.Float64At(i) < p, else 0.
	Bernoulli(mask *Tensor, p float64, key rng.Key)
	// Uniform sets t[i] = key.Float32At(i), uniform in [0, 1).
	Uniform(t *Tensor, key rng.Key)
	// Normal sets t[i] = key.NormalAt(offset + i), a standard normal draw
	// (scale and shift it with Scale and Axpy): Gaussian noise for a
	// method, drawn where the tensor lives and the same on every backend.
	Normal(t *Tensor, key rng.Key, offset uint64)
	// TopKMask sets mask[i] = 1 for the keep largest entries of score and
	// 0 elsewhere; among entries equal to the threshold the lower indices
	// are kept, so the mask is a function of the scores alone.
	TopKMask(score, mask *Tensor, keep int)

	// Sync waits until every operation issued so far has finished (a
	// device backend's kernels run asynchronously; timing needs this).
	Sync()
	// Err reports the first failure of any operation since the backend
	// was opened (a device's out-of-memory, a failed launch). Operations
	// return nothing so that the layers stay readable; the trainer asks
	// once per step. It stays set: a failed backend is not reused.
	Err() error
	// Free releases a tensor made by New (not a view); it must not be
	// used afterwards. The CPU backend leaves its memory to the garbage
	// collector.
	Free(t *Tensor)
}

var (
	backendsMu sync.Mutex
	backends   = map[string]func() (Backend, error){}
)

// Register makes a backend available under name; it is called from the
// init function of the package that implements it.
func Register(name string, open func() (Backend, error)) {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	backends[name] = open
}

// Open returns the backend registered under name, or an error that lists
// the registered ones.
func Open(name string) (Backend, error) {
	backendsMu.Lock()
	open, ok := backends[name]
	backendsMu.Unlock()
	if !ok {
		return nil, fmt.Errorf("unknown device %q: available devices are %s", name, strings.Join(Devices(), ", "))
	}
	return open()
}

// Devices lists the registered backend names.
func Devices() []string {
	backendsMu.Lock()
	defer backendsMu.Unlock()
	var names []string
	for n := range backends {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

func init() {
	Register("cpu", func() (Backend, error) { return NewCPU(), nil })
}
