#!/usr/bin/env bash
# Start a one-node Slurm (controller and compute node on this machine) from
# Debian's packages, for testing `rst plan --slurm` end to end.
#
# Needs root. Safe to run again: running daemons are kept when the config is
# unchanged and restarted when it changed. Stop with scripts/slurm/stop-local.sh.
#
# Environment:
#   SLURM_CONF         config file to write (default /etc/slurm/slurm.conf; the
#                      Slurm commands read this path unless SLURM_CONF is set)
#   SLURM_LOCAL_WAIT   seconds to wait for the node to come up (default 60)
#   APT_WAIT           seconds apt-get waits for the dpkg lock (default 900)
set -euo pipefail

CONF=${SLURM_CONF:-/etc/slurm/slurm.conf}
SPOOL=/var/spool/slurm-local         # slurmctld state and slurmd spool
LOGDIR=/var/log/slurm
CTLD_LOG=$LOGDIR/slurmctld.log
SLURMD_LOG=$LOGDIR/slurmd.log
CTLD_PID=/run/slurmctld.pid
SLURMD_PID=/run/slurmd.pid
MUNGE_PID=/run/munge/munged.pid
WAIT=${SLURM_LOCAL_WAIT:-60}
# The first line of every config this script writes; a config without it
# belongs to someone else and is never overwritten.
MARK="# Written by rst scripts/slurm/start-local.sh (one-node test cluster)."

say() { echo "start-local: $*"; }
die() { echo "start-local: error: $*" >&2; exit 1; }

[[ $EUID -eq 0 ]] || die "must run as root (it installs packages and starts daemons); try: sudo $0"

installed() {
	local p
	for p in slurm-wlm munge; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q '^install ok installed$' || return 1
	done
}

# Install slurm-wlm and munge unless present. Another apt-get may hold the
# dpkg lock (a background install of the same packages): apt waits for it.
if ! installed; then
	say "installing slurm-wlm and munge with apt-get (waits up to ${APT_WAIT:-900}s for the dpkg lock)"
	apt_install() {
		DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout="${APT_WAIT:-900}" \
			install -y --no-install-recommends slurm-wlm munge
	}
	# The other apt-get may have installed them while this one waited.
	if ! apt_install && ! installed; then
		apt-get -o DPkg::Lock::Timeout="${APT_WAIT:-900}" update && apt_install ||
			die "apt-get could not install slurm-wlm and munge; see the output above"
	fi
	installed || die "slurm-wlm or munge still not installed (dpkg -l slurm-wlm munge)"
fi

alive() { [[ -s $1 ]] && kill -0 "$(cat "$1")" 2>/dev/null; }

# --- munge: the credential service every Slurm daemon and command uses.
if [[ ! -s /etc/munge/munge.key ]]; then
	say "creating /etc/munge/munge.key"
	install -d -o munge -g munge -m 0700 /etc/munge
	mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null ||
		dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
	chown munge:munge /etc/munge/munge.key
	chmod 0400 /etc/munge/munge.key
fi
if munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
	say "munged already running"
else
	say "starting munged"
	install -d -o munge -g munge -m 0755 /run/munge
	install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
	runuser -u munge -- /usr/sbin/munged ||
		die "munged did not start; see /var/log/munge/munged.log"
	for _ in $(seq 50); do
		munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break
		sleep 0.2
	done
	munge -n 2>/dev/null | unmunge >/dev/null 2>&1 ||
		die "munge does not answer; see /var/log/munge/munged.log"
fi

# --- slurm.conf. The node line takes its shape from `slurmd -C` (what slurmd
# will report; declaring more than that drains the node) and its CPU count
# from nproc, which honours a container's CPU limit.
host=$(hostname -s)
ncpu=$(nproc)
probe=$(slurmd -C | head -1)                  # NodeName=h CPUs=.. ... RealMemory=..
probe_cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$probe")
probe_mem=$(sed -n 's/.* RealMemory=\([0-9]*\).*/\1/p' <<<"$probe")
free_mem=$(awk '/^MemTotal:/ {print int($2/1024)}' /proc/meminfo)
mem=$(( probe_mem < free_mem ? probe_mem : free_mem ))
[[ -n $probe_cpus && -n $probe_mem ]] || die "cannot parse 'slurmd -C' output: $probe"
if [[ $probe_cpus -eq $ncpu ]]; then
	shape=$(sed -e 's/^NodeName=[^ ]* //' -e 's/ RealMemory=[0-9]*//' <<<"$probe")
else
	shape="CPUs=$ncpu"
fi
slurm_user=root
getent passwd slurm >/dev/null && slurm_user=slurm

new_conf=$(cat <<EOF
$MARK
# Host $host, $ncpu CPUs, ${mem} MB. Regenerated on every start.
ClusterName=rstlocal
SlurmctldHost=$host
SlurmUser=$slurm_user
AuthType=auth/munge
CredType=cred/munge
MpiDefault=none
# No mail server here; without this slurmctld logs an error at every start.
MailProg=/bin/true
# No cgroups in a container: track processes via /proc, bind no tasks,
# gather no accounting (there is no accounting storage either).
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
SchedulerType=sched/backfill
# A node that was down comes back by itself once slurmd registers.
ReturnToService=2
# Keep finished jobs visible to scontrol for an hour: without accounting
# storage that is the only place a task's exit code can be read.
MinJobAge=3600
StateSaveLocation=$SPOOL/ctld
SlurmdSpoolDir=$SPOOL/d
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$CTLD_LOG
SlurmdLogFile=$SLURMD_LOG
NodeName=$host $shape RealMemory=$mem State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
EOF
)

if [[ -e $CONF ]] && [[ $(head -1 "$CONF") != "$MARK" ]]; then
	die "$CONF exists and was not written by this script; move it away or set SLURM_CONF to another path"
fi
changed=yes
[[ -e $CONF ]] && [[ $(cat "$CONF") == "$new_conf" ]] && changed=no

if [[ $changed == yes ]] && { alive "$CTLD_PID" || alive "$SLURMD_PID"; }; then
	say "config changed: restarting the daemons"
	"$(dirname "$0")/stop-local.sh"
fi
if [[ $changed == yes ]]; then
	install -d -m 0755 "$(dirname "$CONF")"
	printf '%s\n' "$new_conf" >"$CONF.tmp" && mv "$CONF.tmp" "$CONF"
	say "wrote $CONF"
fi
install -d -o "$slurm_user" -m 0755 "$SPOOL/ctld" "$LOGDIR"
install -d -m 0755 "$SPOOL/d"
touch "$CTLD_LOG" "$SLURMD_LOG"
chown "$slurm_user" "$CTLD_LOG"

if alive "$CTLD_PID"; then
	say "slurmctld already running (pid $(cat "$CTLD_PID"))"
else
	say "starting slurmctld (log $CTLD_LOG)"
	slurmctld -f "$CONF" || die "slurmctld did not start; see $CTLD_LOG"
fi
if alive "$SLURMD_PID"; then
	say "slurmd already running (pid $(cat "$SLURMD_PID"))"
else
	say "starting slurmd (log $SLURMD_LOG)"
	slurmd -f "$CONF" || die "slurmd did not start; see $SLURMD_LOG"
fi

# Wait for the node to accept work. idle is a fresh node; mixed or allocated
# means jobs are already running on it, which is up too.
state=
for ((i = 0; i < WAIT * 2; i++)); do
	state=$(SLURM_CONF=$CONF sinfo -h -n "$host" -o %T 2>/dev/null | head -1 || true)
	case $state in
	idle | mixed | allocated | completing) break ;;
	esac
	sleep 0.5
done
case $state in
idle | mixed | allocated | completing) ;;
*)
	SLURM_CONF=$CONF sinfo -N -l >&2 || true
	die "node $host is '${state:-not reported}' after ${WAIT}s; see $CTLD_LOG and $SLURMD_LOG"
	;;
esac
say "node $host is $state"
SLURM_CONF=$CONF sinfo
