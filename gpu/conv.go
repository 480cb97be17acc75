package gpu

import (
	"fmt"
	"sort"
	"strings"
	"unsafe"

	"github.com/rst-bench/rst/suite/nn"
)

// Convolutions through cuDNN's legacy API on NHWC tensors with
// [Cout, KH, KW, Cin] filters (cuDNN's NHWC filter layout), one plan per
// shape: descriptors and the algorithms cuDNN's own benchmark (Find)
// chose, once, the first time a shape is seen.

type convKey struct{ n, h, w, c, cout, kh, kw, s, p int }

type convPlan struct {
	x, y, w                 uintptr // tensor and filter descriptors
	fwdC, dataC, filterC    uintptr // one convolution descriptor per direction (math types may differ)
	fwd, data, filter       int32   // algorithms
	fwdWS, dataWS, filterWS uint64  // workspace bytes
	// What Find offered in each direction (forward, backward data,
	// backward filter), for ConvReport: which algorithms a real cuDNN has
	// for a shape is what the CPU double cannot tell.
	found [3][]convPerf
}

// slower is how much slower a deterministic algorithm may be than the
// fastest and still be preferred: runs then repeat bit for bit.
const slower = 1.25

// pick chooses among Find's results (sorted fastest first).
func pick(perf []convPerf) (convPerf, bool) {
	var fastest *convPerf
	for i := range perf {
		p := &perf[i]
		if p.Status != 0 {
			continue
		}
		if fastest == nil {
			fastest = p
		}
		if p.Determinism == cudnnDeterministic && p.Time <= slower*fastest.Time {
			return *p, true
		}
	}
	if fastest == nil {
		return convPerf{}, false
	}
	return *fastest, true
}

func (b *Backend) plan(k convKey) *convPlan {
	if p, ok := b.convs[k]; ok {
		return p
	}
	a := b.a
	p := &convPlan{}
	oh, ow := nn.ConvGeom{KH: k.kh, KW: k.kw, Stride: k.s, Pad: k.p}.Out(k.h, k.w)
	b.dnnFail(a.cudnnCreateTensorDescriptor(&p.x), "cudnnCreateTensorDescriptor")
	b.dnnFail(a.cudnnCreateTensorDescriptor(&p.y), "cudnnCreateTensorDescriptor")
	b.dnnFail(a.cudnnCreateFilterDescriptor(&p.w), "cudnnCreateFilterDescriptor")
	b.dnnFail(a.cudnnSetTensor4dDescriptor(p.x, cudnnTensorNHWC, cudnnDataFloat, int32(k.n), int32(k.c), int32(k.h), int32(k.w)), "cudnnSetTensor4dDescriptor(x)")
	b.dnnFail(a.cudnnSetTensor4dDescriptor(p.y, cudnnTensorNHWC, cudnnDataFloat, int32(k.n), int32(k.cout), int32(oh), int32(ow)), "cudnnSetTensor4dDescriptor(y)")
	b.dnnFail(a.cudnnSetFilter4dDescriptor(p.w, cudnnDataFloat, cudnnTensorNHWC, int32(k.cout), int32(k.c), int32(k.kh), int32(k.kw)), "cudnnSetFilter4dDescriptor")
	math := int32(cudnnFMAMath)
	if b.opt.TF32 {
		math = cudnnTensorOpMath
	}
	for _, d := range []*uintptr{&p.fwdC, &p.dataC, &p.filterC} {
		b.dnnFail(a.cudnnCreateConvolutionDescriptor(d), "cudnnCreateConvolutionDescriptor")
		b.dnnFail(a.cudnnSetConvolution2dDescriptor(*d, int32(k.p), int32(k.p), int32(k.s), int32(k.s), 1, 1, cudnnCrossCorrelation, cudnnDataFloat), "cudnnSetConvolution2dDescriptor")
		b.dnnFail(a.cudnnSetConvolutionMathType(*d, math), "cudnnSetConvolutionMathType")
	}
	if b.err != nil {
		return nil
	}
	var perf [16]convPerf
	var got int32
	dir := 0
	choose := func(r int32, call string, desc uintptr, algo *int32, ws *uint64) {
		b.dnnFail(r, call)
		if b.err != nil {
			return
		}
		p.found[dir] = append([]convPerf(nil), perf[:got]...)
		dir++
		c, ok := pick(perf[:got])
		if !ok {
			b.fail(fmt.Errorf("%s: no algorithm for %+v", call, k))
			return
		}
		*algo, *ws = c.Algo, c.Memory
		// Find may report CUDNN_DEFAULT_MATH, which lets cuDNN use TF32
		// on Ampere and later: without TF32 the math stays FMA.
		m := int32(cudnnFMAMath)
		if b.opt.TF32 {
			m = c.MathType
		}
		b.dnnFail(a.cudnnSetConvolutionMathType(desc, m), "cudnnSetConvolutionMathType")
	}
	choose(a.cudnnFindConvolutionForwardAlgorithm(b.cudnn, p.x, p.w, p.fwdC, p.y, int32(len(perf)), &got, &perf[0]),
		"cudnnFindConvolutionForwardAlgorithm", p.fwdC, &p.fwd, &p.fwdWS)
	choose(a.cudnnFindConvolutionBackwardDataAlgorithm(b.cudnn, p.w, p.y, p.dataC, p.x, int32(len(perf)), &got, &perf[0]),
		"cudnnFindConvolutionBackwardDataAlgorithm", p.dataC, &p.data, &p.dataWS)
	choose(a.cudnnFindConvolutionBackwardFilterAlgorithm(b.cudnn, p.x, p.y, p.filterC, p.w, int32(len(perf)), &got, &perf[0]),
		"cudnnFindConvolutionBackwardFilterAlgorithm", p.filterC, &p.filter, &p.filterWS)
	if b.err != nil {
		return nil
	}
	b.convs[k] = p
	return p
}

// ConvReport lists, per convolution shape planned so far, the algorithms
// cuDNN's Find offered in each direction (id, time in ms, deterministic or
// not, workspace) and the one chosen.
func (b *Backend) ConvReport() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	keys := make([]convKey, 0, len(b.convs))
	for k := range b.convs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
	var sb strings.Builder
	for _, k := range keys {
		p := b.convs[k]
		fmt.Fprintf(&sb, "conv n=%d %dx%dx%d -> %d, %dx%d stride %d pad %d:\n", k.n, k.h, k.w, k.c, k.cout, k.kh, k.kw, k.s, k.p)
		for d, name := range []string{"forward", "backward data", "backward filter"} {
			chosen := []int32{p.fwd, p.data, p.filter}[d]
			fmt.Fprintf(&sb, "  %-15s", name)
			for _, f := range p.found[d] {
				if f.Status != 0 {
					fmt.Fprintf(&sb, " [algo %d: status %d]", f.Algo, f.Status)
					continue
				}
				mark := ""
				if f.Algo == chosen {
					mark = "*"
				}
				det := "nondet"
				if f.Determinism == cudnnDeterministic {
					det = "det"
				}
				fmt.Fprintf(&sb, " [%salgo %d %.3f ms %s ws %d KiB math %d]", mark, f.Algo, f.Time, det, f.Memory>>10, f.MathType)
			}
			sb.WriteString("\n")
		}
	}
	return sb.String()
}

// workspace returns at least n bytes of cuDNN workspace.
func (b *Backend) workspace(n uint64) uintptr {
	if n == 0 {
		return 0
	}
	if b.ws.size < n {
		b.mem.Put(b.ws)
		b.ws = block{}
		blk, ok := b.temp(int(n))
		if !ok {
			return 0
		}
		b.ws = blk
	}
	return b.ws.ptr
}

// aligned returns a 16-byte-aligned address holding t: t's own, or a
// copy (in) or a scratch block to copy back afterwards (out). Parameters
// are views at any element offset of one flat buffer, and cuDNN's fast
// algorithms want aligned pointers.
func (b *Backend) aligned(t *nn.Tensor, in bool) (uintptr, block) {
	p := uintptr(b.ptr(t))
	if p%16 == 0 {
		return p, block{}
	}
	tmp, ok := b.temp(4 * t.Len())
	if !ok {
		return 0, block{}
	}
	if in {
		b.cuFail(b.a.cuMemcpyDtoDAsync(tmp.ptr, p, uint64(4*t.Len()), b.stream), "cuMemcpyDtoDAsync(align)")
	}
	return tmp.ptr, tmp
}

// release copies an out scratch block back to t and returns it.
func (b *Backend) release(t *nn.Tensor, tmp block, out bool) {
	if tmp.size == 0 {
		return
	}
	if out {
		b.cuFail(b.a.cuMemcpyDtoDAsync(uintptr(b.ptr(t)), tmp.ptr, uint64(4*t.Len()), b.stream), "cuMemcpyDtoDAsync(align)")
	}
	b.mem.Put(tmp)
}

func convKeyOf(x, w *nn.Tensor, g nn.ConvGeom) convKey {
	return convKey{x.Shape[0], x.Shape[1], x.Shape[2], x.Shape[3], w.Shape[0], g.KH, g.KW, g.Stride, g.Pad}
}

func (b *Backend) Conv2D(x, w, y *nn.Tensor, g nn.ConvGeom) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	p := b.plan(convKeyOf(x, w, g))
	if p == nil {
		return
	}
	xp, xt := b.aligned(x, true)
	wp, wt := b.aligned(w, true)
	yp, yt := b.aligned(y, false)
	ws := b.workspace(p.fwdWS)
	if b.err == nil {
		r := b.a.cudnnConvolutionForward(b.cudnn, unsafe.Pointer(&b.one), p.x, xp, p.w, wp, p.fwdC, p.fwd, ws, p.fwdWS, unsafe.Pointer(&b.zero), p.y, yp)
		b.dnnFail(r, "cudnnConvolutionForward")
	}
	b.release(x, xt, false)
	b.release(w, wt, false)
	b.release(y, yt, true)
}

func (b *Backend) Conv2DBackward(x, w, dy, dx, dw *nn.Tensor, g nn.ConvGeom) {
	if !b.enter() {
		b.leave()
		return
	}
	defer b.leave()
	p := b.plan(convKeyOf(x, w, g))
	if p == nil {
		return
	}
	dyp, dyt := b.aligned(dy, true)
	defer b.release(dy, dyt, false)
	if dx != nil {
		wp, wt := b.aligned(w, true)
		dxp, dxt := b.aligned(dx, false)
		ws := b.workspace(p.dataWS)
		if b.err == nil {
			r := b.a.cudnnConvolutionBackwardData(b.cudnn, unsafe.Pointer(&b.one), p.w, wp, p.y, dyp, p.dataC, p.data, ws, p.dataWS, unsafe.Pointer(&b.zero), p.x, dxp)
			b.dnnFail(r, "cudnnConvolutionBackwardData")
		}
		b.release(w, wt, false)
		b.release(dx, dxt, true)
	}
	xp, xt := b.aligned(x, true)
	dwp, dwt := b.aligned(dw, false)
	ws := b.workspace(p.filterWS)
	if b.err == nil {
		r := b.a.cudnnConvolutionBackwardFilter(b.cudnn, unsafe.Pointer(&b.one), p.x, xp, p.y, dyp, p.filterC, p.filter, ws, p.filterWS, unsafe.Pointer(&b.zero), p.w, dwp)
		b.dnnFail(r, "cudnnConvolutionBackwardFilter")
	}
	b.release(x, xt, false)
	b.release(dw, dwt, true)
}
