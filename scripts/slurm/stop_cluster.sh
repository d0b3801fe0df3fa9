#!/usr/bin/env bash
# Stops the one-node cluster of scripts/slurm/start_cluster.sh: slurmd, slurmctld,
# slurmdbd, MariaDB and munged. The accounting database (job history) is kept.
set -uo pipefail
stop_pidfile() { # name pidfile
  local pid
  pid=$(cat "$2" 2>/dev/null) || return 0
  kill -0 "$pid" 2>/dev/null || return 0
  kill "$pid" && echo "[slurm] stopped $1" >&2
  for _ in $(seq 20); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.5
  done
}
stop_pidfile slurmd /run/slurm/slurmd.pid
stop_pidfile slurmctld /run/slurm/slurmctld.pid
stop_pidfile slurmdbd /run/slurm/slurmdbd.pid
if mysqladmin ping >/dev/null 2>&1; then
  /etc/init.d/mariadb stop >/dev/null && echo "[slurm] stopped MariaDB" >&2
fi
stop_pidfile munged /run/munge/munged.pid
exit 0
