# The suite's entry points. OpenBLAS is used when pkg-config finds it
# (Debian: apt-get install libopenblas-dev); otherwise the pure-Go BLAS.
OPENBLAS := $(shell pkg-config --exists openblas 2>/dev/null && echo yes)
ifeq ($(OPENBLAS),yes)
  TAGS := -tags openblas
  export CGO_LDFLAGS := $(shell pkg-config --libs openblas)
endif

GO ?= go
RST := bin/rst

.PHONY: build test test-long test-slurm train-mnist theory bench vet clean

build:
	$(GO) build $(TAGS) -o $(RST) ./cmd/rst
	@$(RST) version | sed -n 2p

# The tests CI runs: every package, long checks skipped (-short).
test:
	$(GO) vet $(TAGS) ./...
	$(GO) test $(TAGS) -short -count=1 ./...

# The long checks too (cost ratios, 3-epoch MNIST comparisons).
test-long:
	$(GO) test $(TAGS) -count=1 -timeout 60m ./...

# rst plan --slurm end to end on a one-node Slurm started here (root; scripts/slurm/README.md).
test-slurm:
	scripts/slurm/test.sh

# The main job on the embedded default: the small CNN on MNIST, one epoch.
train-mnist: build
	$(RST) train --model smallcnn --data mnist --epochs 1 --out results/mnist-smallcnn.json

theory: build
	$(RST) theory --out theory/out

bench: build
	$(RST) bench --model smallcnn --batch 128 --steps 20
	$(RST) bench --model mlp --data mnist --batch 128 --steps 50

vet:
	$(GO) vet $(TAGS) ./...

clean:
	rm -rf bin
