#!/bin/bash
# A single-node Slurm 22.05 cluster on localhost, without systemd, for orch's tests and for
# anyone who wants to try `orch submit` on a laptop or a container.
#
#   scripts/dev-slurm.sh start    install (apt) if needed, configure, start munged/slurmctld/slurmd,
#                                 wait until the node is idle; idempotent
#   scripts/dev-slurm.sh stop     stop the three daemons this script started (by their pid files)
#   scripts/dev-slurm.sh status   daemons and `sinfo`
#
# Settings (environment):
#   DEV_SLURM_GPUS=4     fake GPUs: character devices <state>/dev/nvidia<i> listed in gres.conf, so
#                        Slurm sets CUDA_VISIBLE_DEVICES for --gres=gpu:N exactly as on a GPU node
#   DEV_SLURM_CPUS=auto  CPUs= of the node: auto = what `slurmd -C` detects but at least 8, so
#                        jobs asking orch.yaml's default 8 CPUs (and several test jobs at once) run
#                        on a 2-core machine; a number sets it; empty = exactly what is detected
#   DEV_SLURM_STATE=/var/lib/orch-dev-slurm   spool, state, logs and the fake devices
#
# Must run as root (it installs packages, writes /etc/slurm and starts daemons).
set -euo pipefail

GPUS=${DEV_SLURM_GPUS:-4}
CPUS=${DEV_SLURM_CPUS-auto}
MIN_AUTO_CPUS=8
STATE=${DEV_SLURM_STATE:-/var/lib/orch-dev-slurm}
CONF_DIR=/etc/slurm
PACKAGES=(slurmctld slurmd slurm-client munge)
MUNGE_PID=/run/munge/munged.pid
CTLD_PID=$STATE/slurmctld.pid
SLURMD_PID=$STATE/slurmd.pid
IDLE_TIMEOUT=${DEV_SLURM_TIMEOUT:-60}

say() { echo "dev-slurm: $*" >&2; }
die() { say "error: $*"; exit 2; }

install_packages() {
    local missing=()
    for package in "${PACKAGES[@]}"; do
        dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "ok installed" || missing+=("$package")
    done
    if [ ${#missing[@]} -gt 0 ]; then
        say "installing ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    fi
}

# The node line as slurmd detects it; with a CPU override only CPUs and memory are given, and
# `SlurmdParameters=config_overrides` keeps slurmd from draining a node "smaller" than configured.
node_line() {
    local detected memory cpus=$CPUS
    detected=$(slurmd -C | head -n 1)
    if [ "$cpus" = auto ]; then
        cpus=$(sed -n 's/.* CPUs=\([0-9]*\).*/\1/p' <<<"$detected")
        [ "$cpus" -ge $MIN_AUTO_CPUS ] && cpus="" || cpus=$MIN_AUTO_CPUS
    fi
    [ -z "$cpus" ] || echo "SlurmdParameters=config_overrides"
    if [ -z "$cpus" ]; then
        echo "$detected NodeAddr=127.0.0.1 Gres=gpu:$GPUS State=UNKNOWN"
        return
    fi
    memory=$(sed -n 's/.*RealMemory=\([0-9]*\).*/\1/p' <<<"$detected")
    echo "NodeName=$(hostname) NodeAddr=127.0.0.1 CPUs=$cpus RealMemory=$memory Gres=gpu:$GPUS State=UNKNOWN"
}

render_slurm_conf() {
    cat <<EOF
# Written by orch scripts/dev-slurm.sh: a single-node development cluster.
ClusterName=orchdev
SlurmctldHost=$(hostname)(127.0.0.1)
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$STATE/ctld
SlurmdSpoolDir=$STATE/slurmd
SlurmctldPidFile=$CTLD_PID
SlurmdPidFile=$SLURMD_PID
SlurmctldLogFile=$STATE/slurmctld.log
SlurmdLogFile=$STATE/slurmd.log
SchedulerType=sched/backfill
SchedulerParameters=batch_sched_delay=0
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MailProg=/bin/true
EnforcePartLimits=ALL
ReturnToService=2
GresTypes=gpu
$(node_line)
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
}

render_gres_conf() {
    local i
    echo "# Written by orch scripts/dev-slurm.sh: character devices standing in for GPUs."
    echo "AutoDetect=off"
    for ((i = 0; i < GPUS; i++)); do
        echo "Name=gpu File=$STATE/dev/nvidia$i"
    done
}

# Character devices (major 1 minor 3, like /dev/null): Slurm ignores plain files when it
# decides which CUDA_VISIBLE_DEVICES ids a job gets.
make_fake_gpus() {
    local i
    mkdir -p "$STATE/dev"
    for ((i = 0; i < GPUS; i++)); do
        [ -c "$STATE/dev/nvidia$i" ] || mknod "$STATE/dev/nvidia$i" c 1 3
    done
}

differs() { [ ! -f "$1" ] || [ "$(cat "$1")" != "$2" ]; }

write_file() { printf '%s\n' "$2" >"$1.tmp" && mv "$1.tmp" "$1"; }

# Restarting the daemons on a new node configuration requeues the running jobs ("node
# failure"): refuse unless told to, so nobody's training restarts by surprise.
refuse_if_jobs_running() {
    alive "$CTLD_PID" || return 0
    local running
    running=$(squeue -h -t RUNNING,COMPLETING -o %i 2>/dev/null | wc -l)
    if [ "$running" -gt 0 ] && [ -z "${DEV_SLURM_FORCE:-}" ]; then
        die "the configuration changed but $running job(s) are running; restarting would requeue them (wait, or set DEV_SLURM_FORCE=1)"
    fi
}

alive() { local pid; pid=$(cat "$1" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; }

stop_daemon() {
    local pidfile=$1 name=$2 i
    local pid
    if pid=$(cat "$pidfile" 2>/dev/null) && kill -0 "$pid" 2>/dev/null; then
        kill "$pid"
        for ((i = 0; i < 50; i++)); do alive "$pidfile" || break; sleep 0.1; done
        say "stopped $name"
    fi
    rm -f "$pidfile"
}

start_munge() {
    alive "$MUNGE_PID" && return
    if [ ! -s /etc/munge/munge.key ]; then
        mungekey --create --keyfile=/etc/munge/munge.key
        chown munge:munge /etc/munge/munge.key
        chmod 600 /etc/munge/munge.key
    fi
    mkdir -p /run/munge /var/log/munge /var/lib/munge
    chown munge:munge /run/munge /var/log/munge /var/lib/munge
    runuser -u munge -- munged
}

wait_idle() {
    local deadline=$((SECONDS + IDLE_TIMEOUT))
    until sinfo -h -N -o '%T' 2>/dev/null | grep -qx 'idle'; do
        if [ $SECONDS -ge $deadline ]; then
            sinfo -N -l >&2 || true
            die "the node is not idle after ${IDLE_TIMEOUT}s (logs: $STATE/slurmctld.log, $STATE/slurmd.log)"
        fi
        sleep 0.1
    done
}

start() {
    [ "$(id -u)" -eq 0 ] || die "run as root (apt-get, /etc/slurm, daemons)"
    install_packages
    mkdir -p "$CONF_DIR" "$STATE/ctld" "$STATE/slurmd"
    make_fake_gpus
    local slurm_conf gres_conf
    slurm_conf=$(render_slurm_conf)
    gres_conf=$(render_gres_conf)
    if differs "$CONF_DIR/slurm.conf" "$slurm_conf" || differs "$CONF_DIR/gres.conf" "$gres_conf"; then
        refuse_if_jobs_running
        write_file "$CONF_DIR/slurm.conf" "$slurm_conf"
        write_file "$CONF_DIR/gres.conf" "$gres_conf"
        stop_daemon "$SLURMD_PID" slurmd
        stop_daemon "$CTLD_PID" slurmctld
    fi
    start_munge
    alive "$CTLD_PID" || slurmctld
    alive "$SLURMD_PID" || slurmd
    wait_idle
    say "ready: $(sinfo -h -N -o '%N %T cpus=%c gres=%G')"
}

stop() {
    stop_daemon "$SLURMD_PID" slurmd
    stop_daemon "$CTLD_PID" slurmctld
    stop_daemon "$MUNGE_PID" munged
}

status() {
    local name pidfile state=0
    for name in munged slurmctld slurmd; do
        case $name in
            munged) pidfile=$MUNGE_PID ;;
            slurmctld) pidfile=$CTLD_PID ;;
            slurmd) pidfile=$SLURMD_PID ;;
        esac
        if alive "$pidfile"; then echo "$name: running (pid $(cat "$pidfile"))"; else echo "$name: stopped"; state=1; fi
    done
    [ $state -eq 0 ] && sinfo -N -o '%N %T cpus=%c gres=%G'
    return $state
}

case ${1:-} in
    start) start ;;
    stop) stop ;;
    status) status ;;
    *) echo "usage: $0 start|stop|status" >&2; exit 2 ;;
esac
