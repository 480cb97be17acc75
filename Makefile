# The suite's entry points. OpenBLAS is used when pkg-config finds it
# (Debian: apt-get install libopenblas-dev); otherwise the pure-Go BLAS.
# oneDNN (Debian: libdnnl-dev) runs the convolutions, batch-norm and pooling
# when its header is there (it ships no pkg-config file); otherwise Go does.
# libjpeg-turbo (Debian: libturbojpeg0-dev) decodes ImageNet's JPEGs, with
# DCT-domain scaling, when pkg-config finds it; otherwise Go's image/jpeg.
OPENBLAS := $(shell pkg-config --exists openblas 2>/dev/null && echo yes)
DNNL := $(shell test -f /usr/include/oneapi/dnnl/dnnl.h -o -f /usr/local/include/oneapi/dnnl/dnnl.h && echo yes)
TURBOJPEG := $(shell pkg-config --exists libturbojpeg 2>/dev/null && echo yes)
BUILDTAGS := $(strip $(if $(filter yes,$(OPENBLAS)),openblas) $(if $(filter yes,$(DNNL)),dnnl) $(if $(filter yes,$(TURBOJPEG)),turbojpeg))
ifneq ($(BUILDTAGS),)
  TAGS := -tags "$(BUILDTAGS)"
endif

GO ?= go
RST := bin/rst

.PHONY: build test test-long test-slurm train-mnist theory bench vet clean \
	tables figures all reliability fuzz $(TABLES) $(FIGURES) $(CALIBRATE)

# The paper's targets. Each trains what the store lacks, then renders
# (tables/PROFILE/, figures/PROFILE/) and prints its tables; a target whose
# runs are all stored renders in seconds without training.
PROFILE ?= cpu
SEEDS ?= 0
JOBS ?= 1
DEVICE ?= cpu
RESULTS ?= results
TABLES := table1 table2 table3 table4 table5 table6 table7 table8 table9 table10 table11 table12 table13
FIGURES := figure1 figure2 figure3 figure4 figure5
# The cpu profile's calibration: SGD and SAM in candidate regimes.
CALIBRATE := calibrate
RUNFLAGS = --profile $(PROFILE) --seeds $(SEEDS) --jobs $(JOBS) --device $(DEVICE) --results $(RESULTS)

build:
	$(GO) build $(TAGS) -ldflags "-X github.com/rst-bench/rst/suite/buildinfo.commit=$$(git rev-parse HEAD 2>/dev/null)$$(git status --porcelain 2>/dev/null | grep -q . && echo +dirty)" -o $(RST) ./cmd/rst
	@$(RST) version | sed -n 2,3p

# The tests CI runs: every package, long checks skipped (-short); then
# rst verify on the committed stores (results/cpu, results/smoke) and the
# outputs rendered from them (reads only).
test:
	$(GO) vet $(TAGS) ./...
	$(GO) test $(TAGS) -short -count=1 ./...
	$(GO) run $(TAGS) ./cmd/rst verify --results results
	$(MAKE) test-dry-run
	$(MAKE) test-gpu-double

# The paper profile's table3 through rst run --dry-run on the CPU: every
# cell trains 2 steps on testdata/'s CIFAR-format files and renders.
.PHONY: test-dry-run
test-dry-run: build
	scripts/dryrun/table3.sh $(RST) cpu 2

# The CUDA backend end to end on the CPU double of the CUDA libraries
# (gpu/double): its builds and C tests, kernels.cu through clang-19, gpu/'s
# tests and the conformance suite on cuda and cuda-tf32, a few training
# steps against the CPU backend, and table3's paper dry run on cuda.
.PHONY: test-gpu-double
test-gpu-double: build
	scripts/gpudouble/test.sh $(RST)

# The long checks too (cost ratios, 3-epoch MNIST comparisons).
test-long:
	$(GO) test $(TAGS) -count=1 -timeout 60m ./...

# rst plan --slurm end to end on a one-node Slurm started here (root; scripts/slurm/README.md).
test-slurm:
	scripts/slurm/test.sh

# The main job on the embedded default: the small CNN on MNIST, one epoch.
train-mnist: build
	$(RST) train --model smallcnn --data mnist --epochs 1 --out results/mnist-smallcnn.json

$(TABLES) $(FIGURES) $(CALIBRATE): build
	$(RST) run $(RUNFLAGS) $@

# The paper's qualitative claims checked on the cpu and smoke stores:
# verdicts with statistics, in tables/PROFILE/claims.{md,csv,tex}. Never trains.
.PHONY: claims
claims: build
	$(RST) claims --profile cpu --results $(RESULTS)
	$(RST) claims --profile smoke --results $(RESULTS)

# Side-by-side timings of SGD, SAM and RST per cpu stand-in, kept in the
# store for the cost claim (rst claims: cost-follows-delta-eta).
BENCH_COST_MODELS ?= smallcnn wrn10-1
.PHONY: bench-cost
bench-cost: build
	for m in $(BENCH_COST_MODELS); do \
	  $(RST) bench --model $$m --data fashion-mnist --batch 128 --compare sgd,sam,rst:0.25,rst:0.5,rst:0.75 \
	    --bench-steps 200 --out $(RESULTS)/cpu/bench/$$m.json || exit 1; \
	done

# Render only, from the store: never trains.
tables: build
	$(RST) render --profile $(PROFILE) --seeds $(SEEDS) --results $(RESULTS) $(TABLES)

figures: build
	$(RST) render --profile $(PROFILE) --seeds $(SEEDS) --results $(RESULTS) $(FIGURES)

# Every target: trains everything missing (hours on the cpu profile).
all: build
	$(RST) run $(RUNFLAGS) $(TABLES) $(FIGURES)

theory: build
	$(RST) theory --out theory/out

bench: build
	$(RST) bench --model smallcnn --batch 128 --steps 20
	$(RST) bench --model mlp --data mnist --batch 128 --steps 50

# Ours and PyTorch's CPU twin (bench/peer/torch_peer.py, Debian's
# python3-torch) side by side, interleaved in rounds, as ratios.
PEER_PYTHON ?= $(shell for p in python3 /usr/bin/python3; do $$p -c 'import torch' 2>/dev/null && { echo $$p; break; }; done)
PEER_MODELS ?= smallcnn,resnet18,wrn16-4,vgg16-bn
PEER_ROUNDS ?= 2
PEER_STEPS ?= 5
# PyTorch's side in its best configuration: each memory format timed and
# the faster kept per model, glibc's mmap/trim thresholds and top pad raised
# for its process (PEER_TORCH_MALLOC=default leaves them); see compare.py.
PEER_FORMATS ?= channels_last,contiguous
PEER_TORCH_MALLOC ?= tuned
# PyTorch's OpenBLAS threads sleep when idle, as rst's do (PEER_TORCH_BLAS_IDLE=default
# leaves OpenBLAS's long yielding wait); see compare.py.
PEER_TORCH_BLAS_IDLE ?= rst
PEER_FLAGS = --formats $(PEER_FORMATS) --torch-malloc $(PEER_TORCH_MALLOC) --torch-blas-idle $(PEER_TORCH_BLAS_IDLE)
.PHONY: bench-peer
bench-peer: build
	@test -n "$(PEER_PYTHON)" || { echo "bench-peer: no python3 with torch (Debian: apt-get install python3-torch)" >&2; exit 1; }
	$(PEER_PYTHON) bench/peer/compare.py --rst $(RST) --models $(PEER_MODELS) --rounds $(PEER_ROUNDS) --steps $(PEER_STEPS) $(PEER_FLAGS)

# The ImageNet-size models, ResNet-50 and ViT-S/16 at 224×224, batch 16.
.PHONY: bench-peer-imagenet
bench-peer-imagenet: build
	@test -n "$(PEER_PYTHON)" || { echo "bench-peer-imagenet: no python3 with torch (Debian: apt-get install python3-torch)" >&2; exit 1; }
	$(PEER_PYTHON) bench/peer/compare.py --rst $(RST) --models resnet50,vit-s16 --data imagenet --batch 16 --rounds 2 --steps 2 $(PEER_FLAGS)

# The ImageNet folder loader, ours (this build, and pure Go) beside
# torchvision's ImageFolder + DataLoader (bench/peer/input_peer.py, Debian's
# python3-torchvision) on the same generated 500×375 q90 JPEGs: images per
# CPU-second (user + system) and per wall second, 1 and 2 workers.
BENCH_INPUT_DIR ?= $(or $(TMPDIR),/tmp)/rst-bench-input
BENCH_INPUT_TIMES ?= 20x
.PHONY: bench-input
bench-input:
	@test -n "$(PEER_PYTHON)" || { echo "bench-input: no python3 with torch (Debian: apt-get install python3-torchvision)" >&2; exit 1; }
	rm -rf $(BENCH_INPUT_DIR) && mkdir -p $(BENCH_INPUT_DIR)
	$(GO) test -count=1 -run TestWriteBenchFolder ./suite/data/ -args -bench-folder $(BENCH_INPUT_DIR)/folder
	$(GO) test $(TAGS) -count=1 -run '^$$' -bench BenchmarkFolderFillBatch -benchtime $(BENCH_INPUT_TIMES) ./suite/data/ | tee $(BENCH_INPUT_DIR)/ours.txt
	$(GO) test -count=1 -run '^$$' -bench BenchmarkFolderFillBatch -benchtime $(BENCH_INPUT_TIMES) ./suite/data/ | tee $(BENCH_INPUT_DIR)/ours-go.txt
	$(GO) test $(TAGS) -count=1 -run '^$$' -bench BenchmarkTurboDecode ./suite/data/ | tee $(BENCH_INPUT_DIR)/decode.txt
	$(PEER_PYTHON) bench/peer/input_peer.py --folder $(BENCH_INPUT_DIR)/folder --ours $(BENCH_INPUT_DIR)/ours.txt --ours-go $(BENCH_INPUT_DIR)/ours-go.txt --decode $(BENCH_INPUT_DIR)/decode.txt

# The small ViT on MNIST with AdamW as the base of SGD, RST (p = 0.5) and
# SAM, then on Fashion-MNIST beside the small CNN (bench/vit/README.md).
VIT_RECORDS ?= bench/vit/records
VIT_FLAGS = --model vit-mini --optimizer adamw --lr 3e-3 --l2 0 --wd 0.05 --epochs 5 --batch 128 --seed 1
.PHONY: vit-mnist
vit-mnist: build
	$(RST) train $(VIT_FLAGS) --data mnist --method sgd --out $(VIT_RECORDS)/mnist-vit-mini-sgd.json
	$(RST) train $(VIT_FLAGS) --data mnist --method rst --schedule constant:0.5 --out $(VIT_RECORDS)/mnist-vit-mini-rst0.5.json
	$(RST) train $(VIT_FLAGS) --data mnist --method sam --out $(VIT_RECORDS)/mnist-vit-mini-sam.json
	$(RST) train $(VIT_FLAGS) --data fashion-mnist --method sgd --out $(VIT_RECORDS)/fashion-vit-mini-sgd.json
	$(RST) train --model smallcnn --data fashion-mnist --method sgd --epochs 5 --batch 128 --seed 1 --out $(VIT_RECORDS)/fashion-smallcnn-sgd.json

vet:
	$(GO) vet $(TAGS) ./...

clean:
	rm -rf bin

# The fault tests at full size: SIGKILLs at random moments and after each
# write, resumed training, concurrent workers (and workers that must end
# with the same tables), --jobs outcomes, diverged runs, bad inputs, a
# record copied over another; then the Slurm scripts' hostile paths and
# GPU requests, and where outputs go (RELIABILITY.md reports the figures).
reliability:
	$(GO) test $(TAGS) -count=1 -timeout 60m -v ./reliability -args -long
	$(GO) test $(TAGS) -count=1 -v -run 'TestSlurmScript|TestRenderWritesBesideItsStore|TestRefusedRunCreatesNothing' ./cmd/rst

# Every fuzz target in the repository, FUZZTIME each, one after another on
# one worker; a failure is reported and the others still run.
FUZZTIME ?= 5m
fuzz:
	@failed=""; \
	for f in $$(grep -rl 'func Fuzz' --include=*_test.go . | sort); do \
	  for n in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
	    echo "== $$(dirname $$f) $$n ($(FUZZTIME))"; \
	    $(GO) test $(TAGS) -run '^$$' -fuzz "^$$n$$" -fuzztime $(FUZZTIME) -parallel 1 $$(dirname $$f) || failed="$$failed $$n"; \
	  done; \
	done; \
	if [ -n "$$failed" ]; then echo "fuzz targets that failed:$$failed"; exit 1; fi

# The check on a GPU machine (no Go, no network there; issue 10): a static
# linux/amd64 rst with the cuda devices, the gpu package's compiled tests,
# the PyTorch peer and run.sh, in the git-ignored folder gpu-check/.
# There: gpu-check/run.sh (results and summary.txt in $$OUT, or gpu-check/out).
.PHONY: gpu-check
GPUCHECK_ENV := CGO_ENABLED=0 GOOS=linux GOARCH=amd64
gpu-check:
	rm -rf gpu-check && mkdir -p gpu-check
	$(GPUCHECK_ENV) $(GO) build -trimpath -ldflags "-s -w -X github.com/rst-bench/rst/suite/buildinfo.commit=$$(git rev-parse HEAD 2>/dev/null)$$(git status --porcelain 2>/dev/null | grep -q . && echo +dirty)" -o gpu-check/rst ./cmd/rst
	$(GPUCHECK_ENV) $(GO) test -c -trimpath -ldflags "-s -w" -o gpu-check/gpu.test ./gpu
	cp gpu/check/run.sh gpu/check/summary.py gpu/check/train_compare.py bench/peer/gpu_peer.py gpu-check/
	cp -r testdata gpu-check/testdata
	@du -sh gpu-check

# kernels.cu compiled by Debian's clang-19 in CUDA device mode to PTX for
# sm_80 and sm_90, no CUDA needed (gpu/check/clang_ptx.sh says what it checks).
.PHONY: gpu-clang-check
gpu-clang-check:
	gpu/check/clang_ptx.sh

# ---- CPU double of the CUDA libraries (gpu/double; issue 18) ----
# Builds gpu/double/lib/{libcuda.so.1,libnvrtc.so.13,libcublas.so.13,
# libcudnn.so.9} with Debian's g++ (no NVIDIA software) and the double's C
# test. The backend uses them only when RST_CUDA_DOUBLE names that folder:
#   RST_CUDA_DOUBLE=$PWD/gpu/double/lib go test ./gpu
.PHONY: gpu-double
gpu-double:
	$(MAKE) -C gpu/double all lib/driver_test lib/blasdnn_test
# ---- end of the CPU double block ----
