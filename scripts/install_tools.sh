#!/usr/bin/env bash
# Installs the external tools when missing: the GWAS/LD tools (Debian packages plink2,
# plink1.9), GWAMA (Debian package gwama, which the meta-analysis tests compare against)
# and Chromium, which scripts/screenshot_report.sh uses to render the report
# in the test suite. As root on Debian/Ubuntu it installs them with apt (waiting for the
# dpkg lock when another apt runs); otherwise it explains the options.
set -euo pipefail
missing=()
command -v plink2 >/dev/null 2>&1 || missing+=(plink2)
command -v plink1.9 >/dev/null 2>&1 || missing+=(plink1.9)
command -v GWAMA >/dev/null 2>&1 || missing+=(gwama)
command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1 ||
  missing+=(chromium)
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -eq 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "installing ${missing[*]} with apt-get" >&2
  apt_get=(apt-get -o DPkg::Lock::Timeout=600)
  "${apt_get[@]}" update -qq
  DEBIAN_FRONTEND=noninteractive "${apt_get[@]}" install -y -qq "${missing[@]}" >/dev/null
else
  cat >&2 <<MSG
error: ${missing[*]} not found on PATH.
Fix: install the Debian packages (sudo apt-get install ${missing[*]}), or put the
binaries on PATH, or run the workflow with conda-managed tools:
  snakemake --sdm conda --cores all    (environments in envs/; Chromium is needed
  only by scripts/screenshot_report.sh, GWAMA only by tests/test_panel_meta.py)
MSG
  exit 1
fi
