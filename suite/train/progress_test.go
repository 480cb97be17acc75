package train

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
	"time"
)

// The live loss is the mean of the current epoch's step losses so far,
// which at the epoch's end is the train_loss the record holds (an
// exponential average would show 1.04 and 10.2 below, not 2 and 15).
func TestProgressShowsEpochMeanLoss(t *testing.T) {
	steps := []struct {
		epoch int
		loss  float64
	}{{0, 1}, {0, 3}, {1, 10}, {1, 20}}

	var term bytes.Buffer
	p := &Terminal{W: &term}
	p.Start(Defaults(), 4, 2)
	for i, s := range steps {
		p.last = time.Time{} // draw every step, not one per 200 ms
		p.Step(i+1, s.epoch, s.loss)
		if i == 1 {
			if got := lastDraw(term.String()); !strings.Contains(got, "epoch mean loss 2.0000") {
				t.Errorf("Terminal after epoch 1: %q, want the epoch mean loss 2.0000", got)
			}
		}
	}
	if got := lastDraw(term.String()); !strings.Contains(got, "epoch 2 step 4/4 epoch mean loss 15.0000") {
		t.Errorf("Terminal at the end: %q, want epoch 2's mean loss 15.0000", got)
	}

	var logs bytes.Buffer
	l := &Lines{Log: slog.New(slog.NewTextHandler(&logs, nil))} // Every 0: a line per step
	l.Start(Defaults(), 4, 2)
	for i, s := range steps {
		l.Step(i+1, s.epoch, s.loss)
	}
	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	for i, want := range []string{"epoch_mean_loss=1.0000", "epoch_mean_loss=2.0000", "epoch_mean_loss=10.0000", "epoch_mean_loss=15.0000"} {
		if got := lines[i+1]; !strings.Contains(got, want) {
			t.Errorf("Lines step %d: %q, want %s", i+1, got, want)
		}
	}
}

// lastDraw is the last redraw of a carriage-return status line.
func lastDraw(s string) string {
	return s[strings.LastIndex(s, "\r")+1:]
}
