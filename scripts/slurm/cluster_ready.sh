#!/usr/bin/env bash
# Exit 0 when a SLURM cluster answers on this machine with a usable node in partition
# $1 (default ci) and accounting that knows user $3 (default: you) in account $2
# (default gemcont), i.e. what profiles/slurm-ci and tests/test_slurm_cluster.py need.
# Prints the reason otherwise.
set -uo pipefail
PARTITION=${1:-ci}
ACCOUNT=${2:-gemcont}
USER_NAME=${3:-$(id -un)}
fail() {
  echo "$*" >&2
  exit 1
}
command -v sbatch >/dev/null 2>&1 || fail "no SLURM client commands (sbatch) on PATH"
timeout 10 scontrol ping 2>/dev/null | grep -q "is UP" || fail "slurmctld does not answer"
state=$(timeout 10 sinfo -h -p "$PARTITION" -o %t 2>/dev/null | head -n 1)
case "$state" in
  idle* | mix* | alloc* | comp*) ;;
  *) fail "partition '$PARTITION' has no usable node (state: '${state:-none}')" ;;
esac
timeout 10 sacctmgr -n -P list assoc user="$USER_NAME" account="$ACCOUNT" format=account \
  2>/dev/null | grep -qx "$ACCOUNT" ||
  fail "accounting (slurmdbd) does not answer or has no account '$ACCOUNT' for $USER_NAME"
exit 0
