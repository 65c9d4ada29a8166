#!/usr/bin/env bash
# Runs every test of vsa: installs what the tests need on a fresh Debian/Ubuntu machine
# (Debian packages: the real initiators and clients the tests drive, lintian and Ansible for
# the package), then `mvn -B verify "$@"`, then the install test of the .deb it built
# (packaging/test-install.sh: installs, upgrades, removes and purges the vsa package on this
# machine, and runs the Ansible role against it; VSA_SKIP_INSTALL_TEST=1 skips it).
# Needs a JDK 17+ and Maven; run as root or with sudo available for the package steps.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the tests use. A test never skips because a tool is missing: it fails.
# libiscsi-dev and gcc: a small libiscsi client the iSCSI kill test builds.
# lintian, ansible-core and python3-apt (for its apt module): the install test of the .deb.
# python3-prometheus-client: MetricsTest parses /metrics with the reference text-format parser.
# chromium and chromium-driver: the web dashboard's browser test (headless, through Selenium).
packages=(libiscsi-bin libnfs-utils libnfs-dev libiscsi-dev gcc lintian ansible-core python3-apt python3-prometheus-client chromium chromium-driver)

sudo_=""
[ "$(id -u)" -eq 0 ] || sudo_="sudo"

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "test.sh: installing ${missing[*]}"
  $sudo_ apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_ apt-get install -y -qq "${missing[@]}"
fi

mvn -B verify "$@"

if [ "${VSA_SKIP_INSTALL_TEST:-0}" = 1 ]; then
  echo "test.sh: install test skipped (VSA_SKIP_INSTALL_TEST=1)"
  exit 0
fi
$sudo_ packaging/test-install.sh
