#!/usr/bin/env bash
# The GPU check, on a machine with an NVIDIA GPU, CUDA 12 or 13 and cuDNN 9
# and neither Go nor network: built by `make gpu-check`, run from anywhere
# as gpu-check/run.sh. Every result goes to gpu-check/out (JSON per step,
# logs, summary.txt); with $OUT set, summary.txt and a tarball of the rest
# are copied there (the device tool brings back at most 8 files). Each step has its own timeout and
# the whole run stays under BUDGET seconds (default 345), so one hang costs
# only its step.
set -u
HERE=$(cd "$(dirname "$0")" && pwd)
FINAL=${OUT:-}
OUT=$HERE/out
rm -rf "$OUT"
BUDGET=${BUDGET:-345}
mkdir -p "$OUT"
RST="$HERE/rst"
export RST_REQUIRE_GPU=1
STATUS="$OUT/steps.tsv"
: >"$STATUS"

# step NAME SECONDS CMD...: runs CMD with stdout to $OUT/NAME.out and
# stderr to $OUT/NAME.err, within both its own limit and what is left of
# the budget; records name, exit status and seconds.
step() {
	local name=$1 limit=$2
	shift 2
	local left=$((BUDGET - SECONDS))
	if ((left < 5)); then
		printf '%s\tskipped (budget spent)\t0\n' "$name" >>"$STATUS"
		return
	fi
	((limit > left)) && limit=$left
	local t0=$SECONDS
	echo "== $name (limit ${limit}s)" >&2
	timeout -k 5 "$limit" "$@" >"$OUT/$name.out" 2>"$OUT/$name.err"
	local rc=$?
	local st=$rc
	((rc == 124 || rc == 137)) && st="timeout after ${limit}s"
	printf '%s\t%s\t%d\n' "$name" "$st" $((SECONDS - t0)) >>"$STATUS"
}

# The CUDA libraries may live outside the loader's path (a toolkit in
# /usr/local/cuda*, or pip wheels under site-packages/nvidia/*/lib).
find_libs() {
	local dirs=() d
	for pat in 'libcublas.so.1[23]' 'libcudnn.so.9' 'libnvrtc.so.1[23]'; do
		if ! ldconfig -p 2>/dev/null | grep -q "${pat//\\/}"; then
			while IFS= read -r f; do dirs+=("$(dirname "$f")"); done < <(
				find /usr/local /usr/lib /opt $(python3 -c 'import site; print(" ".join(site.getsitepackages()))' 2>/dev/null) \
					-maxdepth 6 -name "$pat" 2>/dev/null | head -3)
		fi
	done
	for d in $(printf '%s\n' "${dirs[@]}" | sort -u); do
		LD_LIBRARY_PATH="$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
	done
	export LD_LIBRARY_PATH
}
# A Python with PyTorch, if any (for the peer and the environment report).
PY=python3
for c in python3 /usr/bin/python3 /usr/local/bin/python3 python; do
	if "$c" -c 'import torch' 2>/dev/null; then PY=$c; break; fi
done
find_libs
{
	date -u
	nvidia-smi 2>&1
	echo "LD_LIBRARY_PATH=${LD_LIBRARY_PATH:-}"
	ldconfig -p 2>/dev/null | grep -E 'libcuda\.so|libcublas\.so|libcudnn\.so|libnvrtc\.so'
	"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} >"$OUT/env.txt" 2>&1

step version 20 "$RST" version
step conformance 110 "$HERE/gpu.test" -test.v -test.count=1 -test.timeout 105s
# A few training steps of each model and method on cuda against the CPU
# backend, from the same seed, on the small CIFAR-format files in testdata.
step train_compare 60 "$PY" "$HERE/train_compare.py" "$RST" "$HERE/testdata" "$OUT/train_compare.json"

# ResNet-18 at CIFAR shapes, batch 256: SGD, SAM and RST(0.5) interleaved,
# FP32 then TF32; WRN-28-10 SGD. (Inputs are synthetic: no data needed.)
R18="--model resnet18 --data cifar10 --batch 256"
step bench_resnet18_fp32 55 "$RST" bench $R18 --compare sgd,sam,rst:0.5 --bench-steps 20 --device cuda --json
step bench_resnet18_tf32 45 "$RST" bench $R18 --compare sgd,sam,rst:0.5 --bench-steps 20 --device cuda-tf32 --json
step bench_wrn28_10_fp32 35 "$RST" bench --model wrn28-10 --data cifar10 --batch 256 --bench-steps 8 --device cuda --json
step bench_wrn28_10_tf32 25 "$RST" bench --model wrn28-10 --data cifar10 --batch 256 --bench-steps 8 --device cuda-tf32 --json

# Five ResNet-18 SGD processes sharing the GPU, against one alone.
concurrent() {
	local pids=() i
	for i in 1 2 3 4 5; do
		"$RST" bench $R18 --bench-steps 20 --device cuda-tf32 --json >"$OUT/concurrent_$i.json" 2>"$OUT/concurrent_$i.err" &
		pids+=($!)
	done
	local rc=0
	for p in "${pids[@]}"; do wait "$p" || rc=1; done
	return $rc
}
step bench_resnet18_single 25 "$RST" bench $R18 --bench-steps 20 --device cuda-tf32 --json
export -f concurrent
export RST R18 OUT
step bench_resnet18_concurrent5 45 bash -c concurrent

# PyTorch on the same GPU: eager FP32 and TF32, then torch.compile with
# what time is left.
if "$PY" -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
	step peer_eager 75 "$PY" "$HERE/gpu_peer.py" --device cuda --json "$OUT/peer_eager.json"
	step peer_compile 60 "$PY" "$HERE/gpu_peer.py" --device cuda --compile --only resnet18-sgd --json "$OUT/peer_compile.json"
else
	printf 'peer\tskipped (no PyTorch with CUDA)\t0\n' >>"$STATUS"
fi

# The ImageNet-size models, with what budget is left: ViT-S/16 exercises the
# transformer kernels and the strided-batched GEMM at scale.
step bench_vit_s16_tf32 30 "$RST" bench --model vit-s16 --data imagenet --batch 128 --bench-steps 5 --device cuda-tf32 --json
step bench_resnet50_tf32 30 "$RST" bench --model resnet50 --data imagenet --batch 128 --bench-steps 5 --device cuda-tf32 --json

"$PY" "$HERE/summary.py" "$OUT" >"$OUT/summary.txt" 2>&1 || {
	echo "summary.py failed; raw step status:" >>"$OUT/summary.txt"
	cat "$STATUS" >>"$OUT/summary.txt"
}
cat "$OUT/summary.txt"
if [ -n "$FINAL" ]; then
	mkdir -p "$FINAL"
	cp "$OUT/summary.txt" "$FINAL/"
	tar czf "$FINAL/gpu-check-results.tgz" -C "$OUT" .
fi
