#!/usr/bin/env bash
# Installs the external GWAS/LD tools (Debian packages plink2, plink1.9) when missing.
# As root on Debian/Ubuntu it installs them with apt; otherwise it explains the options.
set -euo pipefail
missing=()
command -v plink2 >/dev/null 2>&1 || missing+=(plink2)
command -v plink1.9 >/dev/null 2>&1 || missing+=(plink1.9)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
else
  cat >&2 <<MSG
error: ${missing[*]} not found on PATH.
Fix: install the Debian packages (sudo apt-get install ${missing[*]}), or put the
binaries on PATH, or run the workflow with conda-managed tools:
  snakemake --sdm conda --cores all    (environments in envs/)
MSG
  exit 1
fi
