package nn

// GradPool lends the input-gradient buffers of a backward pass. A layer's
// input gradient is read by the layer before it and then never again, so
// instead of one buffer per layer (as many bytes as all the activations
// together) a pass needs only the few that are alive at once: Sequential
// and Residual hand each back once it has been read. Buffers are kept per
// shape across passes, so a warmed-up step allocates nothing.
type GradPool struct {
	free  map[bufKey][]*Tensor
	owned map[*Tensor]bufKey // every buffer the pool made
	lent  map[*Tensor]bool   // those out on loan now
}

func shapeKey(shape []int) bufKey {
	k := bufKey{d0: -1, d1: -1, d2: -1, d3: -1}
	dims := [...]*int{&k.d0, &k.d1, &k.d2, &k.d3}
	for i, d := range shape {
		*dims[i] = d
	}
	return k
}

func (g *GradPool) get(b Backend, shape []int) *Tensor {
	if len(shape) > 4 {
		panic("nn: gradient buffer of more than 4 dimensions")
	}
	k := shapeKey(shape)
	if g.owned == nil {
		g.free, g.owned, g.lent = map[bufKey][]*Tensor{}, map[*Tensor]bufKey{}, map[*Tensor]bool{}
	}
	var t *Tensor
	if l := g.free[k]; len(l) > 0 {
		t, g.free[k] = l[len(l)-1], l[:len(l)-1]
	} else {
		t = b.New(shape...)
		g.owned[t] = k
	}
	g.lent[t] = true
	return t
}

// put takes back t if it is one of the pool's buffers on loan; anything
// else (a view, a layer's own buffer, the caller's tensor) is left alone.
func (g *GradPool) put(t *Tensor) {
	if g == nil || t == nil || !g.lent[t] {
		return
	}
	delete(g.lent, t)
	k := g.owned[t]
	g.free[k] = append(g.free[k], t)
}

// owns says whether t is a buffer on loan from the pool.
func (g *GradPool) owns(t *Tensor) bool { return g != nil && t != nil && g.lent[t] }

// reset takes every buffer back: at the start of a backward pass no input
// gradient of the previous one is in use (a layer that returned a view of
// its output gradient kept that buffer out until now).
func (g *GradPool) reset() {
	for t := range g.lent {
		delete(g.lent, t)
		k := g.owned[t]
		g.free[k] = append(g.free[k], t)
	}
}

// gradBuffer is a layer's input-gradient buffer: from the pass's pool
// when it has one, else the layer's own.
func (p *Pass) gradBuffer(own *buffers, shape []int) *Tensor {
	if p.Grads != nil {
		return p.Grads.get(p.B, shape)
	}
	return own.get(p.B, "dx", shape)
}

// done hands back an input gradient that has been read, if it came from
// the pool and the layer that read it did not return it (or a view of it)
// as its own result; an unpooled result may alias its input, so the input
// is kept until the pass ends.
func (p *Pass) done(read, result *Tensor) {
	if p.Grads == nil || read == result || (result != nil && !p.Grads.owns(result)) {
		return
	}
	p.Grads.put(read)
}

// Len is the number of buffers the pool has made.
func (g *GradPool) Len() int { return len(g.owned) }
