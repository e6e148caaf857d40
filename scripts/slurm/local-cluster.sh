#!/usr/bin/env bash
# A one-node Slurm cluster on this machine, for tests and CI: its config, state, logs and pid
# files all live under DIR (slurmd reaches its spool there through a short link in /tmp), so
# that it runs anywhere and stops by its pid files.
#
#   eval "$(scripts/slurm/local-cluster.sh start DIR)"   # prints: export SLURM_CONF=DIR/slurm.conf
#   sbatch ...; squeue ...                               # every client command needs SLURM_CONF
#   scripts/slurm/local-cluster.sh stop DIR
#
# Needs root, and munge, slurmctld, slurmd and the Slurm clients (Debian: munge slurmctld slurmd
# slurm-client; tested with Slurm 22.05). Jobs run as the user who submits them. munged is shared
# with the system (Slurm finds it at its default socket): started here only if none answers, and
# then stopped by `stop`. SLURMCTLD_PORT and SLURMD_PORT (default 6817, 6818) move the daemons
# off the ports of another cluster. Everything but the export line goes to stderr.
set -euo pipefail
export PATH=$PATH:/usr/sbin:/sbin
usage() { echo "usage: $0 start|stop DIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
[ "$1" = stop ] || mkdir -p "$2"
DIR=$(cd "$2" 2>/dev/null && pwd) || exit 0 # stop: no directory, nothing to stop
export SLURM_CONF=$DIR/slurm.conf

# Whether process $1 runs (a zombie, exited but not yet reaped, does not).
running() {
  local state
  state=$(ps -o stat= -p "$1" 2>/dev/null) && [[ $state != Z* ]]
}

# When the cluster fails to come up: the ends of the daemons' logs, and whatever started stopped.
fail() {
  for f in "$DIR"/log/*.log; do echo "== $f" >&2; tail -n 20 "$f" >&2; done
  stop
  exit 1
}

start() {
  if running "$(cat "$DIR/run/slurmctld.pid" 2>/dev/null || echo 0)"; then
    echo "$0: a cluster already runs from $DIR; stop it first" >&2
    exit 1
  fi
  rm -rf "$DIR/state" "$DIR/spool" "$DIR/log"
  mkdir -p "$DIR/state" "$DIR/spool" "$DIR/log" "$DIR/run"

  # munge: a key (root's or munge's to make; readable by munge alone), its socket directory,
  # and the daemon, unless one already answers.
  if [ ! -s /etc/munge/munge.key ]; then
    mkdir -p /etc/munge
    mungekey --create --keyfile=/etc/munge/munge.key 2>/dev/null \
      || dd if=/dev/urandom of=/etc/munge/munge.key bs=1 count=1024 status=none
    chown munge:munge /etc/munge /etc/munge/munge.key
    chmod 0700 /etc/munge
    chmod 0400 /etc/munge/munge.key
  fi
  mkdir -p /run/munge /var/lib/munge /var/log/munge
  chown munge:munge /run/munge /var/lib/munge /var/log/munge
  chmod 0755 /run/munge
  if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
    runuser -u munge -- /usr/sbin/munged --pid-file=/run/munge/munged.pid
    # Ours to stop: the marker is a copy of its pid file.
    for _ in $(seq 50); do [ -s /run/munge/munged.pid ] && break; sleep 0.1; done
    cp /run/munge/munged.pid "$DIR/run/munged.pid"
    munge -n | unmunge >/dev/null || { tail -n 20 /var/log/munge/munged.log >&2; fail; }
  fi

  # slurmd's spool holds the jobs' Unix sockets, whose paths must stay under 108 bytes: slurmd
  # reaches DIR/spool through a short link in /tmp, removed by `stop`.
  local spool
  spool=$(mktemp -u /tmp/slurmd-spool.XXXXXX)
  ln -s "$DIR/spool" "$spool"
  echo "$spool" >"$DIR/run/spool.link"

  # The node as slurmd sees it (its first line; the second is its uptime), reached at 127.0.0.1.
  local host node
  host=$(hostname -s)
  node=$(slurmd -C | grep '^NodeName=')
  cat >"$SLURM_CONF" <<EOF
ClusterName=local
SlurmctldHost=$host(127.0.0.1)
SlurmctldPort=${SLURMCTLD_PORT:-6817}
SlurmdPort=${SLURMD_PORT:-6818}
SlurmUser=root
AuthType=auth/munge
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
# Batch jobs start on the scheduler's next pass (about once a second) instead of waiting up to
# batch_sched_delay (default 3 s): 4 short tasks on 2 cores and their merge take 3 s, not 9.
SchedulerParameters=batch_sched_delay=0
ReturnToService=2
StateSaveLocation=$DIR/state
SlurmdSpoolDir=$spool
SlurmctldPidFile=$DIR/run/slurmctld.pid
SlurmdPidFile=$DIR/run/slurmd.pid
SlurmctldLogFile=$DIR/log/slurmctld.log
SlurmdLogFile=$DIR/log/slurmd.log
$node NodeAddr=127.0.0.1 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF

  # Both daemons fork to the background and write their pid files; -c starts from a clean slate.
  slurmctld -c || fail
  slurmd -c || fail
  # Ready when the node is idle and runs a job (srun is allocated at once, batch jobs on the
  # scheduler's first pass, about 3 s after slurmctld starts).
  for _ in $(seq 300); do
    if [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; then
      timeout 30 srun --chdir="$DIR" --quiet true || fail
      echo "export SLURM_CONF=$SLURM_CONF"
      return
    fi
    sleep 0.1
  done
  echo "$0: the node is not idle after 30 s: $(sinfo -h -o '%T %E' 2>&1)" >&2
  fail
}

# Sends TERM to each daemon whose pid file is under DIR (if that pid still runs that program),
# waits up to 10 s for them to exit, then KILLs those left. Quiet when they are already gone.
stop() {
  local name pid pids=''
  for name in slurmd slurmctld munged; do
    pid=$(cat "$DIR/run/$name.pid" 2>/dev/null) || continue
    rm -f "$DIR/run/$name.pid"
    if [ "$(cat "/proc/$pid/comm" 2>/dev/null)" = "$name" ] && kill "$pid" 2>/dev/null; then
      pids="$pids $pid"
    fi
  done
  if [ -f "$DIR/run/spool.link" ]; then
    rm -f "$(cat "$DIR/run/spool.link")" "$DIR/run/spool.link"
  fi
  for _ in $(seq 100); do
    local left=''
    for pid in $pids; do running "$pid" && left="$left $pid"; done
    pids=$left
    [ -n "$pids" ] || return 0
    sleep 0.1
  done
  for pid in $pids; do kill -9 "$pid" 2>/dev/null || true; done
}

case $1 in
  start) start ;;
  stop) stop ;;
  *) usage ;;
esac
