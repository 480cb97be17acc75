#!/usr/bin/env bash
# The clang check of gpu/kernels.cu, on a machine without CUDA: Debian's
# clang-19 compiles it in CUDA device mode to PTX for sm_80 and sm_90, FP
# contraction off (as NVRTC's --fmad=false), with gpu/check/nvrtc_prelude.h
# standing in for what NVRTC declares implicitly. It fails on
#   - any error, and any -Wall -Wextra warning;
#   - a sign-changing conversion of an integer constant (NVRTC's "integer
#     conversion resulted in a change of sign", e.g. __int_as_float(0xff800000)):
#     -Wsign-conversion warnings whose spelled expression is a literal (the
#     many on blockIdx/threadIdx arithmetic are the CUDA idiom and pass);
#   - an extern "C" kernel of kernels.cu with no .entry in the PTX.
# It proves the source is valid CUDA C++ that compiles for both
# architectures, not that NVRTC accepts it or that the kernels are right.
# Usage: gpu/check/clang_ptx.sh (CLANG overrides the compiler; KEEP=dir keeps the PTX).
set -euo pipefail
cd "$(dirname "$0")/../.."
CLANG=${CLANG:-clang++-19}
SRC=gpu/kernels.cu
PRELUDE=gpu/check/nvrtc_prelude.h
ARCHS=(sm_80 sm_90)

if ! command -v "$CLANG" >/dev/null; then
	echo "clang check: $CLANG not found (Debian: apt-get install clang-19)" >&2
	exit 1
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# The kernels as the Go launcher reads them (gpu/kernels.go): extern "C"
# __global__ void, an optional macro such as FIXED_BLOCK(x, y), the name.
sed -nE 's/.*extern "C" __global__ void ([A-Za-z_][A-Za-z0-9_]*\([^)]*\) +)*([A-Za-z_][A-Za-z0-9_]*) *\(.*/\2/p' "$SRC" | sort >"$tmp/kernels"
nk=$(wc -l <"$tmp/kernels")
if [ "$nk" -eq 0 ]; then
	echo "clang check: no extern \"C\" kernels found in $SRC" >&2
	exit 1
fi

fail=0
summary=()
for arch in "${ARCHS[@]}"; do
	ptx=$tmp/kernels.$arch.ptx
	log=$tmp/clang.$arch.log
	rc=0
	"$CLANG" -x cuda --cuda-device-only -nocudainc -nocudalib --cuda-gpu-arch="$arch" \
		-ffp-contract=off -std=c++14 -O2 -include "$PRELUDE" \
		-Wall -Wextra -Wsign-conversion -fno-caret-diagnostics \
		-S -o "$ptx" "$SRC" 2>"$log" || rc=$?
	# Each diagnostic's spelling location is the last "expanded from macro"
	# note after it (or its own location): a sign-conversion warning counts
	# when the source text there is an integer literal.
	bad=$(awk -v arch="$arch" '
		function text(file, line, col,   s, i, l) {
			if (!(file in loaded)) {
				loaded[file] = 1
				i = 0
				while ((getline l < file) > 0) src[file, ++i] = l
				close(file)
			}
			return substr(src[file, line], col)
		}
		function flush() {
			if (kind == "") return
			if (kind == "signconv") {
				if (text(f, ln, cl) ~ /^(0[xX][0-9a-fA-F]+|[0-9]+)[uUlL]*([^0-9A-Za-z_.]|$)/)
					print msg " (the constant at " f ":" ln ":" cl " changes sign)"
			} else if (kind == "other") {
				print msg
			}
			kind = ""
		}
		match($0, /^[^:]+:[0-9]+:[0-9]+: (warning|error|fatal error): /) {
			flush()
			split($0, p, ":")
			f = p[1]; ln = p[2]; cl = p[3]; msg = $0
			kind = ($0 ~ /warning: .*\[-Wsign-conversion\]$/) ? "signconv" : "other"
			next
		}
		/: note: expanded from macro / {
			split($0, p, ":")
			f = p[1]; ln = p[2]; cl = p[3]
			next
		}
		/error generated|errors generated/ { flush(); print $0; next }
		END { flush() }
	' "$log")
	if [ "$rc" -ne 0 ] || [ -n "$bad" ]; then
		echo "clang check: $SRC for $arch:" >&2
		[ -n "$bad" ] && printf '%s\n' "$bad" >&2
		[ "$rc" -ne 0 ] && echo "($CLANG exited with status $rc)" >&2
		fail=1
		continue
	fi
	sed -nE 's/^\.visible \.entry ([A-Za-z_][A-Za-z0-9_]*)\(.*/\1/p' "$ptx" | sort >"$tmp/entries.$arch"
	missing=$(comm -23 "$tmp/kernels" "$tmp/entries.$arch")
	if [ -n "$missing" ]; then
		echo "clang check: kernels of $SRC with no .entry in the $arch PTX: $(echo $missing)" >&2
		fail=1
		continue
	fi
	summary+=("$arch $(wc -l <"$tmp/entries.$arch")/$nk")
	if [ -n "${KEEP:-}" ]; then
		mkdir -p "$KEEP" && cp "$ptx" "$KEEP/"
	fi
done
if [ "$fail" -ne 0 ]; then
	exit 1
fi
ver=$("$CLANG" --version | sed -n '1s/.*clang version \([^ ]*\).*/\1/p')
echo "clang check: $nk kernels of $SRC compiled to PTX with clang $ver, entries $(IFS=,; echo "${summary[*]}" | sed 's/,/, /g'); no errors, warnings or constant sign changes"
