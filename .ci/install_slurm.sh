#!/usr/bin/env bash
# Installs a single-node SLURM (Debian's slurmctld, slurmd, slurm-client) and munge, for
# tests/test_slurm.py. Idempotent: does nothing when the binaries are already there.
# The daemons are not enabled or started here: the test writes its own slurm.conf into a
# temporary directory and starts (and stops) munged, slurmctld and slurmd itself.
set -euo pipefail

need=(munged slurmctld slurmd sbatch squeue sinfo scontrol srun scancel)
missing=()
for b in "${need[@]}"; do
    command -v "$b" >/dev/null 2>&1 || [ -x "/usr/sbin/$b" ] || missing+=("$b")
done
if [ "${#missing[@]}" -eq 0 ]; then
    echo "install_slurm: slurm and munge already installed ($(dpkg-query -W -f='${Version}' slurm-client 2>/dev/null || echo "version unknown"))"
    exit 0
fi
echo "install_slurm: missing ${missing[*]}; installing slurmctld slurmd slurm-client munge"

if [ "$(id -u)" -ne 0 ]; then
    SUDO=sudo
else
    SUDO=
fi
export DEBIAN_FRONTEND=noninteractive
# policy-rc.d 101: the packages' postinst must not start the daemons (no systemd in
# containers; the test starts its own with its own config). Removed again on exit.
policy=/usr/sbin/policy-rc.d
created_policy=0
if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' | $SUDO tee "$policy" >/dev/null
    $SUDO chmod +x "$policy"
    created_policy=1
fi
cleanup() { if [ "$created_policy" -eq 1 ]; then $SUDO rm -f "$policy"; fi; }
trap cleanup EXIT

# wait for a dpkg/apt lock held by another installer rather than failing at once
$SUDO apt-get -o DPkg::Lock::Timeout=300 update -qq
$SUDO apt-get -o DPkg::Lock::Timeout=300 install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold \
    slurmctld slurmd slurm-client munge >/dev/null
echo "install_slurm: installed slurm-client $(dpkg-query -W -f='${Version}' slurm-client)"
