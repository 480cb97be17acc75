#!/usr/bin/env bash
# End-to-end check of `rst plan --slurm` on a real (one-node, local) Slurm;
# what `make test-slurm` runs. Needs root (it starts Slurm) and jq.
#
# 1. builds bin/rst and starts the local Slurm (start-local.sh);
# 2. checks the #SBATCH header of a GPU plan (the paper profile: one GPU,
#    CPUs and memory per task, --sbatch-arg passed through) and of a CPU
#    plan, as text: this one-node Slurm has no GPU to run them on;
# 3. submits `rst plan table3 --profile smoke --seeds 2 --results DIR --slurm`
#    to sbatch and waits for the array job (at most RST_SLURM_TIMEOUT s, 600);
#    DIR's name holds a space, quotes, $, ;, % and #, which the script must
#    carry to sbatch and to each task unchanged;
# 4. checks that every task exited 0 and wrote its output where the plan
#    said, that DIR holds exactly one record per planned run and none twice,
#    that a second plan finds nothing to do, and that `rst render` prints the
#    table from DIR.
#
#   scripts/slurm/test.sh          the real thing
#   scripts/slurm/test.sh --fake   the Slurm side only: fake-plan.sh's tasks
#                                  write a stub record instead of training
# Environment: RST_SLURM_RESULTS=DIR uses (and keeps) that store;
# RST_SLURM_KEEP=1 keeps the temporary store and logs after a pass;
# RST_SLURM_BIN=PATH tests that rst binary instead of building bin/rst.
set -euo pipefail
cd "$(dirname "$0")/../.."
ROOT=$(pwd)

fake=no
for a in "$@"; do
	case $a in
	--fake) fake=yes ;;
	-h | --help) sed -n '2,25p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "test-slurm: unknown argument '$a' (only --fake)" >&2; exit 2 ;;
	esac
done

TARGET=table3 PROFILE=smoke SEEDS=2
TIMEOUT=${RST_SLURM_TIMEOUT:-600}
t0=$SECONDS
step() { printf 'test-slurm [%4ds] %s\n' $((SECONDS - t0)) "$*"; }
fail() { printf 'test-slurm [%4ds] FAIL: %s\n' $((SECONDS - t0)) "$*" >&2; exit 1; }

command -v jq >/dev/null || fail "jq is needed to read the run records: apt-get install jq"
[[ $EUID -eq 0 ]] || fail "must run as root (it starts slurmctld and slurmd); try: sudo $0"

keep=${RST_SLURM_KEEP:-}
if [[ -n ${RST_SLURM_RESULTS:-} ]]; then
	DIR=$(realpath -m "$RST_SLURM_RESULTS")
	keep=1
elif [[ $fake == yes ]]; then
	DIR=$(mktemp -d /tmp/rst-slurm-store.XXXXXX)
else
	# A store whose path a careless script would split, expand or cut at a
	# comment: rst plan must quote it for sbatch and for bash alike.
	DIR=$(mktemp -d "/tmp/rst-slurm store's \$x;100%#.XXXXXX")
fi
WORK=$(mktemp -d /tmp/rst-slurm-work.XXXXXX)
JOB=
passed=no
cleanup() {
	if [[ $passed == yes && -z $keep ]]; then
		rm -rf "$DIR" "$WORK"
	else
		echo "test-slurm: kept the store $DIR and the scripts and logs in $WORK" >&2
	fi
}
trap cleanup EXIT

# plan FILE: write the job script that plans the target's missing runs.
if [[ $fake == yes ]]; then
	plan() { "$ROOT/scripts/slurm/fake-plan.sh" "$DIR" 4 >"$1"; }
else
	if [[ -n ${RST_SLURM_BIN:-} ]]; then
		RST=$(realpath "$RST_SLURM_BIN")
		[[ -x $RST ]] || fail "RST_SLURM_BIN=$RST_SLURM_BIN is not an executable"
	else
		step "make build"
		make -s build
		RST=$ROOT/bin/rst
	fi
	if "$RST" plan -h 2>&1 | grep -q 'unknown command'; then
		fail "bin/rst has no 'plan' command yet"
	fi
	plan() { "$RST" plan "$TARGET" --profile "$PROFILE" --seeds "$SEEDS" --results "$DIR" --slurm >"$1"; }
fi

# header FILE NAME: the values sbatch reads for --NAME from FILE's #SBATCH
# lines (one per line; a quoted value loses its quotes).
header() {
	sed -n '/^[^#]/q; s/^#SBATCH --'"$2"'=//p' "$1" | sed 's/^"\(.*\)"$/\1/; s/\\\(.\)/\1/g'
}
# want_header FILE NAME VALUE: fail unless --NAME is set once, to VALUE.
want_header() {
	local got
	got=$(header "$1" "$2")
	[[ $got == "$3" ]] || fail "$1: want '#SBATCH --$2=$3' once, got: ${got:-nothing}"
}

if [[ $fake == no ]]; then
	step "headers of a GPU plan (paper profile) and a CPU plan"
	gpu_dir=$WORK/gpu-store
	"$RST" plan table3 --profile paper --results "$gpu_dir" --slurm \
		--sbatch-arg=--partition=debug --sbatch-arg=--time=24:00:00 >"$WORK/gpu.sh" 2>"$WORK/gpu.err" ||
		fail "rst plan --profile paper --slurm failed: $(cat "$WORK/gpu.err")"
	want_header "$WORK/gpu.sh" gres gpu:1
	want_header "$WORK/gpu.sh" cpus-per-task 8
	want_header "$WORK/gpu.sh" mem 32G
	want_header "$WORK/gpu.sh" partition debug
	want_header "$WORK/gpu.sh" time 24:00:00
	grep -q -- ' --device cuda ' "$WORK/gpu.sh" || fail "the GPU plan's tasks do not run --device cuda: $WORK/gpu.sh"
	grep -q -- '--device cuda: the paper profile' "$WORK/gpu.err" || fail "rst plan does not say it chose --device cuda: $(cat "$WORK/gpu.err")"
	bash -n "$WORK/gpu.sh" || fail "bash -n $WORK/gpu.sh"
	"$RST" plan table3 --profile paper --device cpu --results "$gpu_dir" --slurm >"$WORK/cpu.sh" ||
		fail "rst plan --profile paper --device cpu --slurm failed"
	want_header "$WORK/cpu.sh" cpus-per-task 1
	[[ -z $(header "$WORK/cpu.sh" gres) ]] || fail "the CPU plan asks for a GPU: $WORK/cpu.sh"
	step "GPU header: $(grep '^#SBATCH' "$WORK/gpu.sh" | paste -sd' ')"
fi

step "start the local Slurm"
"$ROOT/scripts/slurm/start-local.sh"

step "plan: $TARGET --profile $PROFILE --seeds $SEEDS --results $DIR"
plan "$WORK/plan.sh" || fail "the plan command failed (exit $?); its script so far is in $WORK/plan.sh"

# --- What the script promises: an array 0-K over IDS, one output file each.
grep -qE '^[[:space:]]*IDS=\(' "$WORK/plan.sh" || fail "the plan script has no IDS=(...) array; see $WORK/plan.sh"
# The array may span lines, one id per line with a comment naming the run.
read -r -a IDS <<<"$(awk '
	/^[[:space:]]*IDS=\(/ { on = 1; sub(/^[[:space:]]*IDS=\(/, "") }
	on { sub(/#.*/, ""); if (sub(/\).*/, "")) { print; exit } print }' "$WORK/plan.sh" | tr -d "\"'" | tr '\n' ' ')"
n=${#IDS[@]}
((n > 0)) || fail "the plan lists no runs, but the store $DIR was empty"
[[ $(printf '%s\n' "${IDS[@]}" | sort -u | wc -l) -eq $n ]] || fail "the plan lists a run id twice: ${IDS[*]}"
grep -qE "^#SBATCH --array=0-$((n - 1))(%[0-9]+)?$" "$WORK/plan.sh" ||
	fail "want '#SBATCH --array=0-$((n - 1))' for $n runs, got: $(grep -E '^#SBATCH --array' "$WORK/plan.sh" || echo none)"
out_pat=$(header "$WORK/plan.sh" output | head -1)
[[ $out_pat == *%A* && $out_pat == *%a* ]] ||
	fail "want '#SBATCH --output=DIR/slurm/%A_%a.out', got '${out_pat:-none}'"
# sbatch reads %% as a literal %: the folder is the pattern's, unescaped.
out_dir=$(dirname "${out_pat//%%/%}")
[[ $out_dir == "$DIR/slurm" ]] || fail "the tasks' output goes to '$out_dir', want '$DIR/slurm' (sbatch's reading of: $(grep '^#SBATCH --output' "$WORK/plan.sh"))"
# Slurm does not create the output directory; a task without one fails
# before its first line runs, with nothing written anywhere.
[[ -d $out_dir ]] || fail "the output directory $out_dir does not exist after planning: Slurm will not create it, and a mkdir inside the script runs too late (every task fails with exit code 0:53); the plan command must create it"
step "planned $n runs: ${IDS[*]}"

# Jobs left from an earlier session hold the one node, and this array
# would wait behind them until the timeout: name them now.
others=$(squeue -h -o '%i (%j, %T for %M)' 2>/dev/null | paste -sd' ' || true)
[[ -z $others ]] || step "note: the cluster already runs other jobs, which this array waits behind: $others (scancel ID if they are stale)"

step "sbatch --parsable < plan.sh"
JOB=$(sbatch --parsable <"$WORK/plan.sh") || fail "sbatch refused the plan script ($WORK/plan.sh)"
JOB=${JOB%%;*}
echo "Submitted batch job $JOB"
squeue -j "$JOB" || true

# --- Wait until no task of the array is pending or running. Without
# accounting storage there is no sacct; squeue lists only live jobs.
deadline=$((SECONDS + TIMEOUT))
last=
while :; do
	live=$(squeue -h -r -j "$JOB" -o %T 2>/dev/null | sort | uniq -c | awk '{printf "%s %s, ", $1, tolower($2)}' || true)
	[[ -z $live ]] && break
	if [[ $live != "$last" ]]; then step "job $JOB: ${live%, }"; last=$live; fi
	if ((SECONDS > deadline)); then
		squeue -j "$JOB" >&2 || true
		scancel "$JOB" || true
		fail "job $JOB still running after ${TIMEOUT}s (set RST_SLURM_TIMEOUT); cancelled it; task logs in $out_dir${others:+; other jobs held the node from the start: $others}"
	fi
	sleep 2
done
step "job $JOB finished"

# --- Every task COMPLETED with exit 0:0, read from the controller (finished
# jobs stay there for MinJobAge seconds: 3600 in start-local's config).
out_file() { local f=${out_pat//%%/$'\x01'}; f=${f//%A/$JOB}; f=${f//%a/$1}; echo "${f//$'\x01'/%}"; }
declare -A st ec
while read -r task state code; do
	st[$task]=$state ec[$task]=$code
done < <(scontrol show job -o "$JOB" 2>/dev/null | awk '{
	t = s = e = "";
	for (i = 1; i <= NF; i++) {
		split($i, kv, "=");
		if (kv[1] == "ArrayTaskId") t = kv[2];
		else if (kv[1] == "JobState") s = kv[2];
		else if (kv[1] == "ExitCode") e = kv[2];
	}
	if (t != "") print t, s, e }')
bad=()
for ((i = 0; i < n; i++)); do
	f=$(out_file "$i")
	if [[ ! -s $f ]]; then
		bad+=("task $i (${IDS[i]}): no output file $f")
	elif [[ ${#st[@]} -gt 0 && (${st[$i]:-} != COMPLETED || ${ec[$i]:-} != 0:0) ]]; then
		bad+=("task $i (${IDS[i]}): state ${st[$i]:-unknown}, exit ${ec[$i]:-unknown}; last lines of $f:
$(tail -5 "$f" | sed 's/^/    /')")
	fi
done
[[ ${#st[@]} -gt 0 ]] || step "warning: scontrol no longer knows job $JOB; judging by the output files alone"
((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
step "all $n tasks exited 0"

# --- The store: exactly one record per planned run, each started once.
declare -A count
starts=()
while IFS=$'\t' read -r id start; do
	count[$id]=$((${count[$id]:-0} + 1))
	starts+=("$start")
done < <(find "$DIR" -path "$out_dir" -prune -o -type f -name '*.json' -print0 |
	xargs -0 -r jq -r '
		# The store wraps each record in an envelope {format, id, sha256, record}.
		select(type == "object" and has("id")) | [.id, (.record.provenance.start // .provenance.start)]
		| select(.[1] != null) | @tsv' 2>/dev/null)
bad=()
for id in "${IDS[@]}"; do
	[[ ${count[$id]:-0} -eq 1 ]] || bad+=("run $id has ${count[$id]:-0} records, want 1")
done
for id in "${!count[@]}"; do
	printf '%s\n' "${IDS[@]}" | grep -qxF "$id" || bad+=("record of run $id, which the plan did not list")
done
((${#bad[@]} == 0)) || fail "store $DIR: $(printf '%s; ' "${bad[@]}")"
dup=$(printf '%s\n' "${starts[@]}" | sort | uniq -d)
[[ -z $dup ]] || fail "two records share provenance.start $dup: a run ran twice"
# The task logs: no task found its run already done (`skip ID: done`), and
# each run was trained once, by its own task (`ID ...: trained:`, printed
# after the run's lock was taken and its record written; `training ID` is
# printed before the lock, also by a task that then skips).
bad=()
for ((i = 0; i < n; i++)); do
	f=$(out_file "$i")
	skip=$(grep -E '^skip .*: done' "$f" || true)
	[[ -z $skip ]] && continue
	bad+=("task $i skipped in a fresh store: $skip")
done
for ((i = 0; i < n; i++)); do
	id=${IDS[i]}
	own=$(grep -cE "\\b$id\\b.*: trained:" "$(out_file "$i")" || true)
	all=$(for ((j = 0; j < n; j++)); do cat "$(out_file "$j")"; done | grep -cE "\\b$id\\b.*: trained:" || true)
	[[ $own -eq 1 && $all -eq 1 ]] ||
		bad+=("run $id: '$id ...: trained:' appears $own times in task $i's log and $all times in all, want 1 and 1")
done
((${#bad[@]} == 0)) || fail "$(printf '%s\n' "${bad[@]}")"
step "store holds one record for each of the $n runs, provenance.start all distinct; each trained once"

# --- Planning again finds nothing to run.
plan "$WORK/plan2.sh" || fail "the second plan failed (exit $?)"
! grep -qE '^#SBATCH --array' "$WORK/plan2.sh" ||
	fail "the second plan still submits an array: $(grep -E '^#SBATCH --array|^[[:space:]]*IDS=' "$WORK/plan2.sh")"
msg=$(bash "$WORK/plan2.sh" 2>&1) || fail "the nothing-to-do script exits non-zero: $msg"
step "second plan: nothing to do (${msg:-no message})"

if [[ $fake == no ]]; then
	step "render $TARGET from $DIR"
	"$RST" render "$TARGET" --profile "$PROFILE" --seeds "$SEEDS" --results "$DIR" \
		--tables "$WORK/tables" --figures "$WORK/figures" >"$WORK/render.txt" 2>&1 ||
		fail "rst render failed: $(cat "$WORK/render.txt")"
	[[ $(grep -c . "$WORK/render.txt") -ge 3 ]] || fail "rst render printed no table: $(cat "$WORK/render.txt")"
	cat "$WORK/render.txt"
fi
passed=yes
step "PASS ($n runs on Slurm job $JOB)"
