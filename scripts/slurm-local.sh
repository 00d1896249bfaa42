#!/bin/bash
# A real one-node Slurm cluster on this machine, for the tests and for trying slurm/ without a
# cluster (docs/slurm.md). No systemd is needed: munged, slurmctld and slurmd are started by
# hand with their state, logs, munge key and slurm.conf in one folder, and stopped by their own
# PIDs. Nothing system-wide is read or written, so two can run at once (own folder, own ports).
#
#   scripts/slurm-local.sh up DIR     starts the daemons; prints `export SLURM_CONF=DIR/slurm.conf`
#   scripts/slurm-local.sh down DIR   stops them (SIGTERM, SIGKILL only if one stays)
#
# Runs as root (slurmd launches jobs as their users). Packages: slurm-wlm munge (scripts/setup.sh
# --tests). SLURM_LOCAL_PORT: slurmctld's port (slurmd takes the next); default a free pair.
set -euo pipefail
usage() {
    echo "usage: $0 up|down DIR" >&2
    exit 2
}
[ $# -eq 2 ] || usage
dir=$2

# A port and the next one, both free: from a start derived from our PID so that parallel runs
# begin apart, then upwards. /dev/tcp connects only where something listens.
free_ports() {
    local p=$((20000 + ($$ * 7) % 30000))
    while (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null ||
        (exec 3<>"/dev/tcp/127.0.0.1/$((p + 1))") 2>/dev/null; do
        p=$((p + 2))
    done
    echo "$p"
}

stop() { # stop NAME: SIGTERM, up to 10 s, then SIGKILL; only the PID we recorded
    local pidfile=$dir/$1.pid p
    [ -f "$pidfile" ] || return 0
    p=$(cat "$pidfile")
    kill -TERM "$p" 2>/dev/null || true
    for _ in $(seq 100); do
        kill -0 "$p" 2>/dev/null || break
        sleep 0.1
    done
    if kill -0 "$p" 2>/dev/null; then kill -KILL "$p" 2>/dev/null || true; fi
    rm -f "$pidfile"
}

case $1 in
up)
    mkdir -p "$dir"/{etc,state,spool,log,munge-run}
    dir=$(cd "$dir" && pwd)
    chmod 755 "$dir" "$dir/munge-run" # munged wants a socket folder others may enter
    chmod 700 "$dir/etc"
    [ -f "$dir/etc/munge.key" ] || mungekey --create --keyfile="$dir/etc/munge.key"
    munged -F --socket="$dir/munge-run/munge.socket.2" --key-file="$dir/etc/munge.key" \
        --pid-file="$dir/munge-run/munged.pid" --seed-file="$dir/etc/munged.seed" \
        >"$dir/log/munged.log" 2>&1 &
    echo $! >"$dir/munged.pid"
    for _ in $(seq 50); do
        [ -S "$dir/munge-run/munge.socket.2" ] && break
        sleep 0.1
    done
    # munged stops at once when a folder above its socket is closed to others (mktemp -d)
    if ! kill -0 "$(cat "$dir/munged.pid")" 2>/dev/null; then
        echo "$0: munged stopped: $(tail -1 "$dir/log/munged.log")" >&2
        exit 1
    fi
    port=${SLURM_LOCAL_PORT:-$(free_ports)}
    host=$(hostname -s)
    # kill_invalid_depend: a job whose dependency failed is cancelled, not left pending forever.
    # No accounting daemon: scontrol keeps finished jobs for MinJobAge seconds. cred_expire: a
    # requeued job waits that long before it may start again (default 120 s).
    cat >"$dir/slurm.conf" <<CONF
ClusterName=local
SlurmctldHost=$host
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$dir/munge-run/munge.socket.2,cred_expire=10
SlurmctldPort=$port
SlurmdPort=$((port + 1))
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pidfile
SlurmdPidFile=$dir/slurmd.pidfile
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SwitchType=switch/none
MpiDefault=pmix
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
JobCompType=jobcomp/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
DependencyParameters=kill_invalid_depend
ReturnToService=2
MailProg=/bin/true
MinJobAge=300
KillWait=10
$(slurmd -C | head -1 | sed 's/ RealMemory=[0-9]*//') State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
    export SLURM_CONF=$dir/slurm.conf
    slurmctld -D -f "$SLURM_CONF" >"$dir/log/slurmctld.out" 2>&1 &
    echo $! >"$dir/slurmctld.pid"
    slurmd -D -f "$SLURM_CONF" >"$dir/log/slurmd.out" 2>&1 &
    echo $! >"$dir/slurmd.pid"
    # each sinfo bounded too: with slurmd down (say, no cgroup filesystem) it can wait minutes
    # on the controller, and the test would hang instead of failing with the reason below
    for _ in $(seq 120); do
        if [ "$(timeout 5 sinfo -h -o %T 2>/dev/null)" = idle ]; then
            echo "export SLURM_CONF=$SLURM_CONF"
            exit 0
        fi
        sleep 0.5
    done
    # the daemons' last error says why (e.g. slurmd without /sys/fs/cgroup mounted)
    why=$(grep -h 'error' "$dir/log/slurmd.out" "$dir/log/slurmctld.out" 2>/dev/null | tail -1)
    echo "$0: slurm did not come up${why:+: $why}; see $dir/log" >&2
    exit 1
    ;;
down)
    for d in slurmd slurmctld munged; do stop "$d"; done
    ;;
*) usage ;;
esac
