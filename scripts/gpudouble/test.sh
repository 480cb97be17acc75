#!/usr/bin/env bash
# make test-gpu-double: the CUDA backend end to end on the CPU double of
# libcuda, NVRTC, cuBLAS and cuDNN (gpu/double), on a machine with no GPU.
#   1. builds the double and runs its own C tests;
#   2. compiles kernels.cu with clang-19 in CUDA device mode (sm_80, sm_90);
#   3. runs gpu/'s tests, the whole nntest conformance suite on cuda and
#      cuda-tf32 included, against the double;
#   4. trains smallcnn and resnet18 (SGD, SAM, RST) a few steps with
#      rst train --device cuda on the double and compares each step's loss
#      with the CPU backend's;
#   5. dry-runs the paper profile's table3 on --device cuda (every cell).
# The last line is the summary. Usage: scripts/gpudouble/test.sh RST
set -euo pipefail
RST=$1
start=$SECONDS
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT
fail() { echo "test-gpu-double: $*" >&2; exit 1; }

make -s gpu-double >"$log/build" 2>&1 || { cat "$log/build"; fail "the double does not build"; }
make -s -C gpu/double test >"$log/ctest" 2>&1 || { tail -40 "$log/ctest"; fail "the double's C tests fail"; }
echo "double built; $(grep -E '^driver_test:' "$log/ctest" | tail -1); $(grep -E '^(PASS|FAIL)' "$log/ctest" | tail -1)"

make -s gpu-clang-check >"$log/clang" 2>&1 || { cat "$log/clang"; fail "clang cannot compile kernels.cu"; }
clang_line=$(grep 'clang check:' "$log/clang" | tail -1)
echo "$clang_line"
kernels=$(sed -n 's/.*clang check: \([0-9]*\) kernels.*/\1/p' <<<"$clang_line")

export RST_CUDA_DOUBLE=$PWD/gpu/double/lib
# A device that does not open must fail here, not skip.
export RST_REQUIRE_GPU=1
go test -count=1 -v ./gpu >"$log/gotest" 2>&1 || {
	grep -E '^\s*--- FAIL|^\s+\S+\.go:[0-9]+:|^(FAIL|panic)|^fatal error' "$log/gotest" | head -60
	fail "go test ./gpu fails on the double (full log: rerun RST_CUDA_DOUBLE=$RST_CUDA_DOUBLE RST_REQUIRE_GPU=1 go test -v ./gpu)"
}
conf_pass=$(grep -cE '^\s*--- PASS: TestConformance' "$log/gotest" || true)
all_pass=$(grep -cE '^\s*--- PASS' "$log/gotest" || true)
skipped=$(grep -E '^--- SKIP' "$log/gotest" | sed 's/ (.*//; s/--- SKIP: //' | tr '\n' ' ')
echo "go test ./gpu on the double: $all_pass tests and subtests passed ($conf_pass conformance), skipped: ${skipped:-none}"

python3 gpu/check/train_compare.py "$RST" testdata "$log/train.json" --device cuda \
	--models smallcnn,resnet18 --batch 8 --steps 2 >"$log/train" 2>&1 || { cat "$log/train"; fail "training on the double differs from the CPU backend"; }
tail -1 "$log/train"
read -r steps maxrel < <(python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["steps_compared"], "%.2e" % d["max_rel"])' "$log/train.json")

scripts/dryrun/table3.sh "$RST" cuda 1 >"$log/dry" 2>&1 || { cat "$log/dry"; fail "the paper profile's dry run of table3 fails on the double"; }
cat "$log/dry"

echo "test-gpu-double: $kernels kernels compiled (clang, sm_80 and sm_90), $conf_pass conformance tests passed on cuda and cuda-tf32, $steps training steps compared with the CPU backend (max relative error $maxrel), table3 dry run on cuda passed; $((SECONDS - start)) s"
