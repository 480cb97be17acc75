package train

import (
	"context"
	"fmt"
	"math"
	"slices"
	"time"

	"github.com/rst-bench/rst/suite/data"
	"github.com/rst-bench/rst/suite/durable"
	"github.com/rst-bench/rst/suite/models"
	"github.com/rst-bench/rst/suite/nn"
	"github.com/rst-bench/rst/suite/optim"
)

// Augmentations by name, as the --augment flag spells them.
var Augmentations = map[string]data.Augment{
	"none":             {},
	"crop-flip":        data.CIFARAugment,
	"crop-flip-cutout": {Crop: 4, Reflect: true, Flip: true, Cutout: 16},
	// The official code's quirk: one cutout position for the whole batch.
	"crop-flip-cutout-batch": {Crop: 4, Reflect: true, Flip: true, Cutout: 16, CutoutPerBatch: true},
}

// Run loads the config's dataset and trains.
func Run(ctx context.Context, cfg Config, progress Progress) (*Record, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if cfg.Data == "imagenet" {
		return runImageNet(ctx, cfg, progress)
	}
	trainSet, testSet, err := data.Load(cfg.Data, cfg.DataDir)
	if err != nil {
		return nil, err
	}
	return RunOn(ctx, cfg, trainSet, testSet, progress)
}

// trainer is one run in progress.
type trainer struct {
	cfg     Config
	b       nn.Backend
	net     *nn.Net
	method  optim.Method
	base    optim.Base
	lr      optim.LR
	src     source     // the training split, with its augmentation
	x       *nn.Tensor // the batch, on the backend
	host    []float32  // the batch, on the host
	labels  []int32
	logits  *nn.Tensor
	dlogits map[int]*nn.Tensor
	per     []float32
	subX    map[int]*nn.Tensor
	subHost []float32
	subLab  []int32
	// prefetching decodes the next batch during each step (a folder
	// source); pending is that batch, spare its buffers once taken.
	prefetching    bool
	pending, spare *prefetched
	// Mixup's state for the loaded batch (see mixBatch).
	mixLambda float32
	mixLabels []int32
	subMix    []int32
	mixD      map[int]*nn.Tensor
	mixPer    []float32
	pass      *nn.Pass
	step      int
	passNo    int
}

// RunOn trains on the given splits (the config's Data names them).
func RunOn(ctx context.Context, cfg Config, trainSet, testSet *data.Set, progress Progress) (*Record, error) {
	rec, _, err := RunModel(ctx, cfg, trainSet, testSet, progress)
	return rec, err
}

// RunModel is RunOn that also returns the trained network, for tests and
// for callers that go on using the model.
func RunModel(ctx context.Context, cfg Config, trainSet, testSet *data.Set, progress Progress) (*Record, *nn.Net, error) {
	rec, t, err := run(ctx, cfg, trainSet, testSet, progress)
	if err != nil {
		return nil, nil, err
	}
	return rec, t.net, nil
}

// subset is s.Subset(n) from the run's seed; a dry run takes at most what
// s holds (its config, and so its id, keeps n).
func (cfg Config) subset(s *data.Set, n int) (*data.Set, error) {
	if cfg.DryRun {
		n = min(n, s.Len())
	}
	return s.Subset(n, cfg.Seed)
}

func run(ctx context.Context, cfg Config, trainSet, testSet *data.Set, progress Progress) (*Record, *trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	trainSrc, err := trainSource(cfg, trainSet)
	if err != nil {
		return nil, nil, err
	}
	if cfg.TestSubset > 0 {
		var err error
		if testSet, err = cfg.subset(testSet, cfg.TestSubset); err != nil {
			return nil, nil, fmt.Errorf("--test-subset: %w", err)
		}
	}
	return runSources(ctx, cfg, trainSrc, setSource{set: testSet}, progress)
}

// runSources trains on splits that are already subset and augmented as the
// config says.
func runSources(ctx context.Context, cfg Config, trainSrc, testSrc source, progress Progress) (*Record, *trainer, error) {
	if err := cfg.Validate(); err != nil {
		return nil, nil, err
	}
	cfg, err := cfg.Resolved()
	if err != nil {
		return nil, nil, err
	}
	if progress == nil {
		progress = Silent{}
	}
	if cfg.Checkpoint != "" {
		// Fail now, not after an epoch of training, when the checkpoint
		// cannot be written; and let one process at a time use it.
		if err := durable.CheckWritable(cfg.Checkpoint); err != nil {
			return nil, nil, fmt.Errorf("--checkpoint: %w", err)
		}
		lock, err := durable.TryLock(cfg.Checkpoint+".lock", "checkpoint "+cfg.Checkpoint)
		if err != nil {
			return nil, nil, err
		}
		defer lock.Unlock()
	}
	t, err := newTrainerOn(cfg, trainSrc, nil)
	if err != nil {
		return nil, nil, err
	}
	_, isFolder := trainSrc.(folderSource) // in-memory sets fill in microseconds
	t.prefetching = isFolder && prefetchFolders
	b, net, method := t.b, t.net, t.method
	perEpoch, total, epochs := t.length()

	start := time.Now()
	rec := &Record{ID: cfg.ID(), Config: cfg, Provenance: provenance(b.Describe(), cfg.Device, start)}
	rec.Provenance.Data = append(slices.Clone(trainSrc.Files()), testSrc.Files()...)
	draws := make([]bool, 0, total)
	var trainTime time.Duration
	var pairs, expected float64
	progress.Start(cfg, total, perEpoch)
	sc := &optim.StepContext{Net: net, Total: total, Seed: cfg.Seed, BatchSize: cfg.Batch, StepsPerEpoch: perEpoch, Pass: t.runPass}
	if pe, ok := method.(interface{ ExpectedDeltaEta(total int) float64 }); ok {
		expected = pe.ExpectedDeltaEta(total)
	}
	first := 0
	if cfg.Checkpoint != "" {
		c, err := t.restore(cfg.Checkpoint)
		if err != nil {
			return nil, nil, err
		}
		if c != nil {
			first, pairs, draws, rec.Epochs = c.Epoch, c.Pairs, c.Draws, c.Epochs
			trainTime = time.Duration(c.TrainSeconds * float64(time.Second))
			start = c.Start
			rec.Provenance.Start = start
			rec.Provenance.Resumed = c.Resumed + 1
			if r, ok := progress.(Resumer); ok {
				r.Resume(c.Epoch, c.Step)
			}
		}
	}
	for e := first; e < epochs && rec.Diverged == nil; e++ {
		order := data.Order(trainSrc.Len(), cfg.Seed, e)
		epochStart := time.Now()
		var lossSum float64
		var n int
		for i := 0; i < perEpoch && t.step < total; i++ {
			if err := ctx.Err(); err != nil {
				return nil, nil, err
			}
			if err := t.load(order[i*cfg.Batch:(i+1)*cfg.Batch], e); err != nil {
				return nil, nil, err
			}
			if t.prefetching && i+1 < perEpoch && t.step+1 < total {
				t.prefetch(order[(i+1)*cfg.Batch:(i+2)*cfg.Batch], e)
			}
			res := t.methodStep(sc, total)
			if err := t.b.Err(); err != nil { // once per step: a failed kernel must not become a result
				return nil, nil, fmt.Errorf("device %s failed at step %d: %w", t.cfg.Device, t.step, err)
			}
			pairs += res.Pairs
			draws = append(draws, res.Sharp)
			t.step++
			if math.IsNaN(res.Loss) || math.IsInf(res.Loss, 0) {
				// A diverged run is a result, not a failure: it stops here
				// and is recorded as diverged, so that it is never re-run
				// as if missing nor averaged into a table.
				rec.Diverged = &Divergence{Step: t.step - 1, Epoch: e + 1, Loss: Metric(res.Loss)}
				break
			}
			lossSum += res.Loss
			n++
			progress.Step(t.step, e, res.Loss)
		}
		trainTime += time.Since(epochStart)
		if rec.Diverged != nil {
			break
		}
		testLoss, testErr := math.NaN(), math.NaN()
		if cfg.EvalEvery <= 1 || (e+1)%cfg.EvalEvery == 0 || e+1 == epochs {
			var err error
			if testLoss, testErr, err = evaluate(net, testSrc, cfg.Batch); err != nil {
				return nil, nil, fmt.Errorf("evaluating after epoch %d: %w", e+1, err)
			}
		}
		ep := Epoch{Epoch: e + 1, TrainLoss: Metric(lossSum / float64(n)), TestLoss: Metric(testLoss), TestError: Metric(testErr),
			Seconds: trainTime.Seconds(), Pairs: pairs}
		rec.Epochs = append(rec.Epochs, ep)
		progress.Epoch(ep)
		if cfg.Checkpoint != "" {
			c := &checkpoint{ID: rec.ID, Epoch: e + 1, Step: t.step, Pairs: pairs, Draws: draws,
				Epochs: rec.Epochs, TrainSeconds: trainTime.Seconds(), Start: start, Resumed: rec.Provenance.Resumed}
			if err := t.save(cfg.Checkpoint, c); err != nil {
				return nil, nil, err
			}
		}
	}
	rec.Steps = t.step
	rec.Pairs = pairs
	rec.DeltaEtaRealised = (pairs - float64(t.step)) / float64(t.step)
	rec.DeltaEtaExpected = expected
	if _, ok := method.(optim.Plain); !ok {
		rec.Draws = encodeDraws(draws)
	}
	if rec.Diverged != nil {
		rec.TestError, rec.TestLoss = Metric(math.NaN()), Metric(math.NaN())
	} else {
		last := rec.Epochs[len(rec.Epochs)-1]
		rec.TestError, rec.TestLoss = last.TestError, last.TestLoss
	}
	if s, ok := trainSrc.(setSource); ok && rec.Diverged == nil {
		// One more forward pass over the training images (about a third of
		// an epoch's work) says whether the run fitted its training set.
		loss, errPct, err := evaluate(net, setSource{set: s.set}, cfg.Batch)
		if err != nil {
			return nil, nil, fmt.Errorf("evaluating on the training set: %w", err)
		}
		rec.FinalTrain = &Fit{Loss: Metric(loss), Error: Metric(errPct)}
	}
	rec.TrainSeconds = trainTime.Seconds()
	rec.Provenance.End = time.Now()
	rec.WallSeconds = rec.Provenance.End.Sub(start).Seconds()
	progress.Done(rec)
	return rec, t, nil
}

// length is the run's steps per epoch, total steps and epochs: the last
// short batch of an epoch is dropped, and a run of --steps ends mid-epoch.
func (t *trainer) length() (perEpoch, total, epochs int) {
	perEpoch = t.src.Len() / t.cfg.Batch
	total = t.cfg.Epochs * perEpoch
	if t.cfg.Steps > 0 {
		total = t.cfg.Steps
	}
	return perEpoch, total, (total + perEpoch - 1) / perEpoch
}

// newTrainer checks the config against the training set and builds the
// model, method and optimizer with their buffers.
func newTrainer(cfg Config, trainSet *data.Set) (*trainer, error) {
	return newTrainerWrapped(cfg, trainSet, nil)
}

// newTrainerWrapped is newTrainer with the backend passed through wrap
// (when not nil) before the model is built on it.
func newTrainerWrapped(cfg Config, trainSet *data.Set, wrap func(nn.Backend) nn.Backend) (*trainer, error) {
	src, err := trainSource(cfg, trainSet)
	if err != nil {
		return nil, err
	}
	return newTrainerOn(cfg, src, wrap)
}

// trainSource is an in-memory training set as the config uses it: its
// --subset, with the --augment checked against its shape.
func trainSource(cfg Config, trainSet *data.Set) (setSource, error) {
	aug, ok := Augmentations[cfg.Augment]
	if !ok {
		return setSource{}, fmt.Errorf("--augment %q: choose none, crop-flip, crop-flip-cutout or crop-flip-cutout-batch", cfg.Augment)
	}
	if err := aug.Validate(trainSet); err != nil {
		return setSource{}, fmt.Errorf("--augment %s: %w", cfg.Augment, err)
	}
	if cfg.Subset > 0 {
		var err error
		if trainSet, err = cfg.subset(trainSet, cfg.Subset); err != nil {
			return setSource{}, fmt.Errorf("--subset: %w", err)
		}
	}
	if cfg.LabelNoise > 0 {
		var err error
		if trainSet, _, err = trainSet.WithLabelNoise(cfg.LabelNoise, cfg.Seed); err != nil {
			return setSource{}, fmt.Errorf("--label-noise: %w", err)
		}
	}
	return setSource{trainSet, aug}, nil
}

// newTrainerOn is newTrainerWrapped on a split already subset and
// augmented.
func newTrainerOn(cfg Config, src source, wrap func(nn.Backend) nn.Backend) (*trainer, error) {
	// The last short batch of an epoch is dropped, as in the official code;
	// every step then has the same batch size.
	perEpoch := src.Len() / cfg.Batch
	if perEpoch == 0 {
		return nil, fmt.Errorf("--batch %d is larger than the %d training samples: lower --batch or raise --subset", cfg.Batch, src.Len())
	}

	b, err := nn.Open(cfg.Device)
	if err != nil {
		return nil, fmt.Errorf("--device: %w", err)
	}
	if wrap != nil {
		b = wrap(b)
	}
	in := src.Shape()
	net, err := models.New(b, cfg.Model, in, src.Classes(), cfg.Seed)
	if err != nil {
		return nil, err
	}
	if err := models.Reinit(net, cfg.Init, cfg.Seed); err != nil {
		return nil, fmt.Errorf("--init: %w", err)
	}
	method, err := optim.New(cfg.Method, net)
	if err != nil {
		return nil, err
	}
	lr, err := optim.ParseLRStyle(cfg.LRSchedule, cfg.LR, cfg.Warmup, cfg.WarmupStyle == "official")
	if err != nil {
		return nil, fmt.Errorf("--lr-schedule: %w", err)
	}
	t := &trainer{cfg: cfg, b: b, net: net, method: method, lr: lr, src: src,
		dlogits: map[int]*nn.Tensor{}, subX: map[int]*nn.Tensor{}}
	switch cfg.Optimizer {
	case "sgd":
		t.base = optim.NewSGD(net, float32(cfg.Momentum), cfg.Nesterov, float32(cfg.WeightDecay))
	case "adamw":
		t.base = optim.NewAdamW(net, 0.9, 0.999, 1e-8, float32(cfg.WeightDecay))
	}
	t.x = b.New(append([]int{cfg.Batch}, in...)...)
	t.host = make([]float32, t.x.Len())
	t.labels = make([]int32, cfg.Batch)
	t.per = make([]float32, cfg.Batch)
	t.pass = &nn.Pass{B: b, Train: true, Grads: &nn.GradPool{}}

	return t, nil
}

// load fills the step's batch with the samples idx of epoch e.
func (t *trainer) load(idx []int, e int) error {
	if took, err := t.takePrefetched(idx, e); err != nil {
		return err
	} else if !took {
		if err := t.src.Fill(t.host, t.labels, idx, t.cfg.Seed, e); err != nil {
			return fmt.Errorf("loading the batch of step %d: %w", t.step, err)
		}
	}
	if t.cfg.Mixup > 0 {
		t.mixBatch(len(idx))
	}
	t.b.Upload(t.x, t.host)
	return nil
}

// methodStep runs one iteration on the loaded batch: the method's passes,
// clipping and the base optimizer's update.
func (t *trainer) methodStep(sc *optim.StepContext, total int) optim.StepResult {
	sc.Step, sc.LR = t.step, float32(t.lr.At(t.step, total))
	t.passNo = 0
	var res optim.StepResult
	if t.cfg.WarmupStyle == "official" && t.step < t.cfg.Warmup {
		res = optim.Plain{}.Step(sc) // the official code: no sharp step while warming up
	} else {
		res = t.method.Step(sc)
	}
	optim.ClipGlobalNorm(t.b, t.net.G, t.cfg.Clip)
	if t.cfg.OptClip > 0 {
		optim.ClipGlobalNorm(t.b, t.net.G, t.cfg.OptClip)
	}
	t.base.Update(sc.LR)
	return res
}

// runPass is the method's pass function: forward and backward on this
// step's batch (or a subset of it), leaving ∇L plus the L2 term in G.
func (t *trainer) runPass(o optim.PassOptions) optim.PassResult {
	x, labels := t.x, t.labels
	var mixed []int32 // the mixup partners' labels
	if t.cfg.Mixup > 0 {
		mixed = t.mixLabels
	}
	if o.Subset != nil {
		x, labels, mixed = t.gather(o.Subset)
	}
	n := len(labels)
	p := t.pass
	p.FreezeStats = o.FreezeStats || t.passNo > 0
	pass := t.passNo
	if t.cfg.Dropout != "per-pass" {
		pass = 0 // one mask for every pass of the step
	}
	p.Dropout, p.DropoutDrawn = nn.DropoutKey(t.cfg.Seed, t.step, pass), 0
	t.passNo++
	logits := t.net.Forward(p, x)
	d, ok := t.dlogits[n]
	if !ok {
		d = t.b.New(n, logits.Cols())
		t.dlogits[n] = d
	}
	per := t.per[:n]
	loss := t.b.SoftmaxCrossEntropy(logits, labels, float32(t.cfg.Smoothing), d, per)
	if mixed != nil {
		loss = t.mixLoss(logits, mixed, loss, d, per)
	}
	if o.ForwardOnly { // ESAM's ranking pass: losses only, G untouched
		return optim.PassResult{Loss: loss, PerSample: per, Samples: n}
	}
	t.net.Backward(p, d)
	if t.cfg.L2 > 0 {
		t.b.Axpy(float32(t.cfg.L2), t.net.W, t.net.G)
	}
	return optim.PassResult{Loss: loss, PerSample: per, Samples: n}
}

// mixLoss turns the loss, gradient and per-sample losses of the labels
// into mixup's λ·CE(y) + (1−λ)·CE(y_partner) and returns the mixed loss.
func (t *trainer) mixLoss(logits *nn.Tensor, partner []int32, loss float64, d *nn.Tensor, per []float32) float64 {
	n := len(partner)
	if t.mixD == nil {
		t.mixD = map[int]*nn.Tensor{}
	}
	d2, ok := t.mixD[n]
	if !ok {
		d2 = t.b.New(n, logits.Cols())
		t.mixD[n] = d2
	}
	if cap(t.mixPer) < n {
		t.mixPer = make([]float32, n)
	}
	per2 := t.mixPer[:n]
	loss2 := t.b.SoftmaxCrossEntropy(logits, partner, float32(t.cfg.Smoothing), d2, per2)
	lam := t.mixLambda
	t.b.Lerp(d, d2, 1-lam) // d = λ·d + (1−λ)·d2
	for i := range per {
		per[i] = lam*per[i] + (1-lam)*per2[i]
	}
	return float64(lam)*loss + float64(1-lam)*loss2
}

// gather copies the chosen samples of the batch into a smaller batch, with
// their labels and, under mixup, their partners' labels.
func (t *trainer) gather(idx []int) (*nn.Tensor, []int32, []int32) {
	k := len(idx)
	x, ok := t.subX[k]
	if !ok {
		x = t.b.New(append([]int{k}, t.x.Shape[1:]...)...)
		t.subX[k] = x
	}
	img := t.x.Len() / t.x.Shape[0]
	if cap(t.subHost) < k*img {
		t.subHost = make([]float32, len(t.host))
		t.subLab = make([]int32, len(t.labels))
		t.subMix = make([]int32, len(t.labels))
	}
	for j, i := range idx {
		copy(t.subHost[j*img:(j+1)*img], t.host[i*img:(i+1)*img])
		t.subLab[j] = t.labels[i]
		if t.cfg.Mixup > 0 {
			t.subMix[j] = t.mixLabels[i]
		}
	}
	t.b.Upload(x, t.subHost[:k*img])
	if t.cfg.Mixup > 0 {
		return x, t.subLab[:k], t.subMix[:k]
	}
	return x, t.subLab[:k], nil
}

// Evaluate returns the mean loss and the error (percent) of net on set,
// in inference mode (running batch-norm statistics, no dropout), in batches
// of at most batch samples.
func Evaluate(net *nn.Net, set *data.Set, batch int) (loss, errPct float64) {
	loss, errPct, _ = evaluate(net, setSource{set: set}, batch) // a set never fails to fill
	return loss, errPct
}

// evaluate is Evaluate on any split without augmentation.
func evaluate(net *nn.Net, src source, batch int) (loss, errPct float64, err error) {
	b := net.B
	p := &nn.Pass{B: b}
	shape := src.Shape()
	size := shape[0] * shape[1] * shape[2]
	host := make([]float32, batch*size)
	labels := make([]int32, batch)
	pred := make([]int32, batch)
	idx := make([]int, batch)
	inputs := map[int]*nn.Tensor{} // at most two sizes: full and last batch
	var wrong int
	for lo := 0; lo < src.Len(); lo += batch {
		n := min(batch, src.Len()-lo)
		for i := range n {
			idx[i] = lo + i
		}
		if err := src.Fill(host[:n*size], labels[:n], idx[:n], 0, 0); err != nil {
			return 0, 0, err
		}
		x, ok := inputs[n]
		if !ok {
			x = b.New(append([]int{n}, shape...)...)
			inputs[n] = x
		}
		b.Upload(x, host[:n*size])
		logits := net.Forward(p, x)
		loss += b.SoftmaxCrossEntropy(logits, labels[:n], 0, nil, nil) * float64(n)
		b.Argmax(logits, pred[:n])
		for i := range n {
			if pred[i] != labels[i] {
				wrong++
			}
		}
	}
	return loss / float64(src.Len()), 100 * float64(wrong) / float64(src.Len()), nil
}
