package train

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/rst-bench/rst/suite/data"

	"github.com/rst-bench/rst/suite/buildinfo"
)

// Metric is a measured number that may be NaN or infinite (a diverged
// run's loss). JSON has no such numbers, so they are written as the strings
// "NaN", "+Inf" and "-Inf": a record can always be written and read back.
type Metric float64

// MarshalJSON writes finite values as numbers and the others as strings.
func (m Metric) MarshalJSON() ([]byte, error) {
	v := float64(m)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"+Inf"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Inf"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON reads what MarshalJSON writes.
func (m *Metric) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case `"NaN"`:
		*m = Metric(math.NaN())
	case `"+Inf"`, `"Inf"`:
		*m = Metric(math.Inf(1))
	case `"-Inf"`:
		*m = Metric(math.Inf(-1))
	default:
		v, err := strconv.ParseFloat(string(b), 64)
		if err != nil {
			return fmt.Errorf("metric %s: want a number, \"NaN\", \"+Inf\" or \"-Inf\"", b)
		}
		*m = Metric(v)
	}
	return nil
}

// Finite reports whether m is an ordinary number.
func (m Metric) Finite() bool { return !math.IsNaN(float64(m)) && !math.IsInf(float64(m), 0) }

// Epoch is the state of a run after one epoch.
type Epoch struct {
	Epoch     int     `json:"epoch"`
	TrainLoss Metric  `json:"train_loss"` // mean first-pass loss over the epoch's steps
	TestLoss  Metric  `json:"test_loss"`
	TestError Metric  `json:"test_error"` // percent
	Seconds   float64 `json:"seconds"`    // wall time since the run started, evaluation excluded
	Pairs     float64 `json:"pairs"`      // forward-backward pairs so far
}

// Record is the result of one run: its config, its metrics, how much work
// it did, and where it ran.
type Record struct {
	ID        string  `json:"id"`
	Config    Config  `json:"config"`
	Epochs    []Epoch `json:"epochs"`
	TestError Metric  `json:"test_error"` // percent, at the end of the run; NaN when diverged
	TestLoss  Metric  `json:"test_loss"`
	// Diverged is set when the loss became NaN or infinite: the run stopped
	// there and its test metrics are NaN. Tables mark it, never average it.
	Diverged *Divergence `json:"diverged,omitempty"`

	// FinalTrain is the finished model evaluated on its whole training
	// split, without augmentation and against the labels it trained on
	// (noisy ones under --label-noise): whether a run fits its training
	// set. Absent for folder datasets (ImageNet), diverged runs and records
	// written before it existed.
	FinalTrain *Fit `json:"final_train,omitempty"`

	Steps int `json:"steps"`
	// Pairs counts the forward-backward passes actually run (a partial
	// pass counts its fraction of the batch). ΔηRealised = (Pairs−Steps)/Steps;
	// ΔηExpected is the mean of p(t) over the run.
	Pairs            float64 `json:"pairs"`
	DeltaEtaRealised float64 `json:"delta_eta_realised"`
	DeltaEtaExpected float64 `json:"delta_eta_expected"`
	// Draws holds X_t (1 = sharp step) for every step, packed 8 to a byte,
	// deflated and base64-encoded; see DecodeDraws.
	Draws string `json:"draws,omitempty"`

	TrainSeconds float64    `json:"train_seconds"` // training steps only
	WallSeconds  float64    `json:"wall_seconds"`  // everything, evaluation included
	Provenance   Provenance `json:"provenance"`
}

// Fit is a model's loss and error (percent) on one split.
type Fit struct {
	Loss  Metric `json:"loss"`
	Error Metric `json:"error"`
}

// Divergence is where a run's loss stopped being a number.
type Divergence struct {
	Step  int    `json:"step"`  // 0-based step whose loss was not finite
	Epoch int    `json:"epoch"` // 1-based epoch of that step
	Loss  Metric `json:"loss"`
}

// Provenance says where and with what a run ran.
type Provenance struct {
	GitCommit string    `json:"git_commit"`
	GoVersion string    `json:"go_version"`
	Backend   string    `json:"backend"` // the engine backend and its BLAS
	Device    string    `json:"device"`
	Threads   int       `json:"threads"` // GOMAXPROCS
	CPU       string    `json:"cpu"`
	Host      string    `json:"host,omitempty"`
	Start     time.Time `json:"start"`
	End       time.Time `json:"end"`
	// Data lists the dataset files the run read, with their SHA-256.
	Data []data.FileSum `json:"data,omitempty"`
	// Resumed counts the times the run continued from a checkpoint.
	Resumed int `json:"resumed,omitempty"`
	// Skipped lists the images an ImageNet run could not decode and
	// replaced (--on-corrupt skip): the run saw other images in their place.
	Skipped []string `json:"skipped,omitempty"`
	// JPEGDecoder is what decoded an ImageNet run's images (libjpeg-turbo
	// or Go's image/jpeg, by build): their pixels differ within ±1.
	JPEGDecoder string `json:"jpeg_decoder,omitempty"`
}

func provenance(backend, device string, start time.Time) Provenance {
	host, _ := os.Hostname()
	return Provenance{GitCommit: buildinfo.Commit(), GoVersion: runtime.Version(), Backend: backend, Device: device,
		Threads: runtime.GOMAXPROCS(0), CPU: cpuModel(), Host: host, Start: start}
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				return strings.TrimSpace(v) + " ×" + strconv.Itoa(runtime.NumCPU())
			}
		}
	}
	return runtime.GOARCH + " ×" + strconv.Itoa(runtime.NumCPU())
}

// encodeDraws packs the draws into a compact string.
func encodeDraws(draws []bool) string {
	packed := make([]byte, (len(draws)+7)/8)
	for i, d := range draws {
		if d {
			packed[i/8] |= 1 << (i % 8)
		}
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(packed)
	w.Close()
	return base64.StdEncoding.EncodeToString(buf.Bytes())
}

// DecodeDraws unpacks a Record's Draws into one bool per step.
func DecodeDraws(s string, steps int) ([]bool, error) {
	raw, err := base64.StdEncoding.DecodeString(s)
	if err != nil {
		return nil, err
	}
	packed, err := io.ReadAll(flate.NewReader(bytes.NewReader(raw)))
	if err != nil {
		return nil, err
	}
	draws := make([]bool, steps)
	for i := range draws {
		if i/8 < len(packed) {
			draws[i] = packed[i/8]&(1<<(i%8)) != 0
		}
	}
	return draws, nil
}
