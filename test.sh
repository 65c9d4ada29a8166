#!/usr/bin/env bash
# Runs every test of vsa: installs what the tests need on a fresh Debian/Ubuntu machine
# (Debian packages: the real initiators and clients the tests drive), then `mvn -B verify`.
# Needs a JDK 17+ and Maven; run as root or with sudo available for the package step.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use (libiscsi-dev and gcc build a small libiscsi client for the iSCSI
# kill test). A test never skips because a tool is missing: it fails.
packages=(libiscsi-bin libnfs-utils libiscsi-dev gcc)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}"
fi

exec mvn -B verify "$@"
