#!/bin/bash
# Install the Debian packages orch uses: darknet (training/evaluation), gcc + libc6-dev (pip
# compiles orch's log scanner, orchestrator/logs/scan.c), Slurm + munge (the single-node test
# cluster), cron (scheduled evaluation), chromium + chromium-driver (the report's tests open the
# page in a real headless browser). Idempotent: installs only what is missing.
set -euo pipefail
packages=(darknet gcc libc6-dev slurmctld slurmd slurm-client munge cron util-linux coreutils chromium chromium-driver)
missing=()
for pkg in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
    cat >&2 <<MSG
orch: these Debian packages are missing: ${missing[*]}
Install them as root, then run make again:
    sudo apt-get update && sudo apt-get install -y ${missing[*]}
(Only darknet, gcc and libc6-dev are needed for the demo; Slurm, munge, cron and chromium are for the test suite.)
MSG
    exit 1
fi
echo "orch: installing Debian packages: ${missing[*]}"
if ! { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}"; }; then
    cat >&2 <<MSG
orch: apt-get could not install ${missing[*]}.
Without network access to the Debian archives, copy the .deb files from a machine that has it
(apt-get download ${missing[*]} and their dependencies) and install them with: dpkg -i *.deb
MSG
    exit 1
fi
