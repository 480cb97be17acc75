#!/usr/bin/env bash
# Print a job-array script of the shape `rst plan --slurm` prints, whose
# tasks write a minimal record instead of training: a check of the Slurm side
# (array, output files, exit codes, one record per run) that needs no rst.
# Used by `scripts/slurm/test.sh --fake`.
#
#   scripts/slurm/fake-plan.sh DIR [N]   # N runs (default 4)
# RST_FAKE_FAIL=I makes task I exit 3 without a record, to see the checks fail.
set -euo pipefail
[[ $# -ge 1 && $# -le 2 ]] || { echo "usage: $0 DIR [N]" >&2; exit 2; }
dir=$(realpath -m "$1")
n=${2:-4}
[[ $n =~ ^[0-9]+$ ]] || { echo "fake-plan: N must be a whole number, got '$n'" >&2; exit 2; }

ids=()
for ((i = 0; i < n; i++)); do
	# Missing runs only, as rst plan does: a run with a record is not planned.
	id=fake$(printf '%04d' "$i")
	[[ -e $dir/runs/$id.json ]] || ids+=("$id")
done
if [[ ${#ids[@]} -eq 0 ]]; then
	printf '#!/bin/bash\necho "nothing to run: all %d runs are in %s"\nexit 0\n' "$n" "$dir"
	exit 0
fi
mkdir -p "$dir/slurm"
cat <<EOF
#!/bin/bash
#SBATCH --job-name=rst-fake
#SBATCH --array=0-$((${#ids[@]} - 1))
#SBATCH --output=$dir/slurm/%A_%a.out
#SBATCH --cpus-per-task=1
set -euo pipefail
IDS=(${ids[*]})
id=\${IDS[\$SLURM_ARRAY_TASK_ID]}
rec=$dir/runs/\$id.json
if [[ -e \$rec ]]; then echo "skip \$id: done"; exit 0; fi
mkdir -p $dir/runs
if [[ \$SLURM_ARRAY_TASK_ID == "${RST_FAKE_FAIL:-}" ]]; then echo "run \$id: failed on purpose" >&2; exit 3; fi
echo "training \$id"
printf '{"id":"%s","provenance":{"start":"%s"}}\n' "\$id" "\$(date -u +%Y-%m-%dT%H:%M:%S.%NZ)" >"\$rec.tmp"
mv "\$rec.tmp" "\$rec"
echo "\$id fake: trained: no training, a stub record"
EOF
