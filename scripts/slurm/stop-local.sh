#!/usr/bin/env bash
# Stop the one-node Slurm that start-local.sh started: slurmd and slurmctld,
# by the pids in their pid files. `--munge` stops munged too (left running by
# default, since other services may use it). Job state under
# /var/spool/slurm-local is kept; running jobs are lost.
set -euo pipefail

stop_munge=no
for a in "$@"; do
	case $a in
	--munge) stop_munge=yes ;;
	-h | --help) sed -n '2,5p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
	*) echo "stop-local: unknown argument '$a' (only --munge)" >&2; exit 2 ;;
	esac
done
[[ $EUID -eq 0 ]] || { echo "stop-local: must run as root; try: sudo $0" >&2; exit 1; }

# stop NAME PIDFILE: SIGTERM, then wait up to 20 s for the process to exit.
stop() {
	local name=$1 pidfile=$2 pid
	if [[ ! -s $pidfile ]] || ! kill -0 "$(cat "$pidfile")" 2>/dev/null; then
		echo "stop-local: $name not running"
		return 0
	fi
	pid=$(cat "$pidfile")
	kill "$pid"
	for _ in $(seq 100); do
		kill -0 "$pid" 2>/dev/null || { echo "stop-local: stopped $name (pid $pid)"; return 0; }
		sleep 0.2
	done
	echo "stop-local: $name (pid $pid) still running after 20s; kill -9 $pid to force" >&2
	return 1
}

rc=0
stop slurmd /run/slurmd.pid || rc=1
stop slurmctld /run/slurmctld.pid || rc=1
if [[ $stop_munge == yes ]]; then
	stop munged /run/munge/munged.pid || rc=1
fi
exit $rc
