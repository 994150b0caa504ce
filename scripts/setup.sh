#!/usr/bin/env bash
# Installs the system libraries fusellm links (OpenBLAS, zstd). Idempotent; runs as root on a
# fresh Debian machine (uses sudo when not root and sudo exists).
#   --mpi   also Open MPI's mpirun and runtime (openmpi-bin), for training and dumping on several ranks
#           (docs/distributed.md); fusellm loads libmpi.so.40 only when a launcher starts it, so building needs no MPI.
set -euo pipefail
packages=(libopenblas-dev libzstd-dev)
[ "${1:-}" = --mpi ] && packages+=(openmpi-bin)
missing=()
for p in "${packages[@]}"; do
  dpkg -s "$p" >/dev/null 2>&1 || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null && SUDO=sudo
  echo "setup: installing ${missing[*]}" >&2
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift not found on PATH (Swift 6 toolchain required)" >&2; exit 1; }
