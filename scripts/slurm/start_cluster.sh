#!/usr/bin/env bash
# Starts a one-node SLURM cluster with job accounting on this machine, for CI and for
# trying profiles/slurm-ci locally: munged, MariaDB + slurmdbd (so `sacct` answers, as
# snakemake-executor-plugin-slurm needs), slurmctld and slurmd, partition `ci`, account
# `gemcont`. No systemd and no cgroups needed (proctrack/linuxproc, task/none), so it
# works in containers. Idempotent: does nothing when the cluster already answers.
# Needs root on Debian/Ubuntu; installs the Debian packages when they are missing.
# Stop it with scripts/slurm/stop_cluster.sh. Daemon logs: /var/log/slurm/.
set -euo pipefail

CLUSTER=gemcont-ci
PARTITION=ci
ACCOUNT=gemcont
DB_PASS=gemcont-ci # MariaDB password of the local `slurm` user; the DB only listens locally
PACKAGES=(munge mariadb-server slurmdbd slurmctld slurmd slurm-client)
HERE=$(cd "$(dirname "$0")" && pwd)
START=$SECONDS

say() { echo "[slurm] $*" >&2; }
die() {
  say "error: $*"
  exit 1
}

# The user who will submit jobs (the one behind sudo, if any) gets the account.
SUBMITTER=${SUDO_USER:-$(id -un)}

if "$HERE/cluster_ready.sh" "$PARTITION" "$ACCOUNT" "$SUBMITTER" 2>/dev/null; then
  say "cluster already running (partition $PARTITION, account $ACCOUNT)"
  exit 0
fi

if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
  cat >&2 <<MSG
[slurm] no local SLURM cluster answers, and starting one needs root on Debian/Ubuntu.
Run:  sudo scripts/slurm/start_cluster.sh      (installs ${PACKAGES[*]})
Then: pytest tests/test_slurm_cluster.py       (skipped without a cluster unless CI=true)
MSG
  exit 1
fi

missing=()
for pkg in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "ok installed" || missing+=("$pkg")
done
if [ ${#missing[@]} -gt 0 ]; then
  say "installing ${missing[*]} with apt-get"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    "${missing[@]}" >/dev/null
  say "installed in $((SECONDS - START)) s"
fi

HOST=$(hostname -s)
# CPUs, sockets, cores and RealMemory exactly as slurmd detects them on this machine
NODE=$(slurmd -C | head -n 1 | sed "s/^NodeName=[^ ]*/NodeName=$HOST NodeAddr=127.0.0.1/")
install -d -o slurm -g slurm /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm \
  /run/slurm
install -d -o munge -g munge -m 0755 /run/munge

cat >/etc/slurm/slurm.conf <<CONF
# Written by scripts/slurm/start_cluster.sh: one-node CI cluster on $HOST.
ClusterName=$CLUSTER
SlurmctldHost=$HOST(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
MpiDefault=none
# no cgroups: works in containers without systemd
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/linux
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
ReturnToService=2
# a job past its time limit is killed at once (the retry test relies on it)
OverTimeLimit=0
KillWait=5
InactiveLimit=0
MinJobAge=300
# accounting in slurmdbd, so that sacct reports every job; jobs need a valid account
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStorageEnforce=associations
# keep the job comment (snakemake-executor-plugin-slurm writes rule_<name> there)
AccountingStoreFlags=job_comment
JobCompType=jobcomp/none
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurm/slurmctld.pid
SlurmdPidFile=/run/slurm/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
$NODE State=UNKNOWN
PartitionName=$PARTITION Nodes=$HOST Default=YES MaxTime=INFINITE State=UP
CONF

install -m 0600 -o slurm -g slurm /dev/null /etc/slurm/slurmdbd.conf
cat >/etc/slurm/slurmdbd.conf <<CONF
# Written by scripts/slurm/start_cluster.sh
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
SlurmUser=slurm
PidFile=/run/slurm/slurmdbd.pid
LogFile=/var/log/slurm/slurmdbd.log
StorageType=accounting_storage/mysql
StorageHost=localhost
StorageUser=slurm
StoragePass=$DB_PASS
StorageLoc=slurm_acct_db
CONF

running() { pgrep -x "$1" >/dev/null; }
wait_for() { # seconds, description, command...
  local limit=$1 what=$2
  shift 2
  for _ in $(seq "$limit"); do
    "$@" >/dev/null 2>&1 && return 0
    sleep 1
  done
  die "$what did not come up within $limit s; see /var/log/slurm/ and $0"
}

running munged || runuser -u munge -- /usr/sbin/munged
wait_for 10 munged bash -c 'munge -n | unmunge'

if ! mysqladmin ping >/dev/null 2>&1; then
  /etc/init.d/mariadb start >/dev/null
fi
wait_for 30 MariaDB mysqladmin ping
mysql <<SQL
CREATE USER IF NOT EXISTS 'slurm'@'localhost' IDENTIFIED BY '$DB_PASS';
GRANT ALL ON slurm_acct_db.* TO 'slurm'@'localhost';
SQL

running slurmdbd || slurmdbd
wait_for 30 slurmdbd sacctmgr -n list cluster
sacctmgr -n list cluster format=cluster | grep -qw "$CLUSTER" ||
  sacctmgr -i add cluster "$CLUSTER" >/dev/null
sacctmgr -n list account format=account | grep -qw "$ACCOUNT" ||
  sacctmgr -i add account "$ACCOUNT" cluster="$CLUSTER" description="gemcont CI" \
    organization=gemcont >/dev/null
sacctmgr -n -P list assoc user="$SUBMITTER" account="$ACCOUNT" format=account |
  grep -qx "$ACCOUNT" ||
  sacctmgr -i add user "$SUBMITTER" account="$ACCOUNT" cluster="$CLUSTER" >/dev/null

# a slurmctld that is already running re-reads the slurm.conf written above
if running slurmctld; then scontrol reconfigure; else slurmctld; fi
wait_for 30 slurmctld bash -c 'scontrol ping | grep -q "is UP"'
running slurmd || slurmd
sleep 1
# a node left down or drained by an earlier run is put back in service
case $(sinfo -h -n "$HOST" -o %t) in
  down* | drain*) scontrol update nodename="$HOST" state=resume ;;
esac
wait_for 60 "node $HOST" "$HERE/cluster_ready.sh" "$PARTITION" "$ACCOUNT" "$SUBMITTER"

say "cluster $CLUSTER up in $((SECONDS - START)) s:"
sinfo -N -l >&2
