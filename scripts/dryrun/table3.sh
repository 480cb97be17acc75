#!/usr/bin/env bash
# The first GPU user's path, checked without their data: every paper cell
# of table3 (resnet18-official, wrn28-10-official, vit-s16 on CIFAR-10 and
# CIFAR-100; SGD, SAM, G-RST) trained STEPS steps by `rst run --dry-run`
# on the small CIFAR-format files in testdata/, then rendered. Usage:
#   scripts/dryrun/table3.sh RST DEVICE [STEPS]
# Fails unless all 18 runs train, every record is marked dry_run, the
# table says DRY RUN, and nothing was written outside a scratch store.
set -euo pipefail
RST=$1 DEVICE=$2 STEPS=${3:-2}
scratch=$(mktemp -d)
trap 'rm -rf "$scratch"' EXIT
start=$SECONDS
"$RST" run table3 --profile paper --device "$DEVICE" --dry-run "$STEPS" --jobs 2 \
	--results "$scratch" --data-dir testdata >"$scratch/log" 2>&1 || {
	tail -30 "$scratch/log"
	echo "dry run of table3 on $DEVICE: rst run failed (log above)" >&2
	exit 1
}
runs=$(ls "$scratch"/dry-run/paper/runs/*.json | wc -l)
marked=$(grep -l '"dry_run": *true' "$scratch"/dry-run/paper/runs/*.json | wc -l)
table="$scratch/dry-run/tables/paper/table3.md"
if [ "$runs" -ne 18 ] || [ "$marked" -ne 18 ] || ! grep -q 'DRY RUN' "$table"; then
	echo "dry run of table3 on $DEVICE: $runs records, $marked marked dry_run, want 18 and 18 and a DRY RUN title in $table" >&2
	exit 1
fi
if [ -e "$scratch/paper" ]; then
	echo "dry run of table3 on $DEVICE wrote into the store itself ($scratch/paper), not only dry-run/" >&2
	exit 1
fi
echo "dry run of table3 (paper profile) on $DEVICE: 18 of 18 cells trained $STEPS steps and rendered in $((SECONDS - start)) s"
