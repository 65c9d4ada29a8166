#!/usr/bin/env bash
# NFS through a cluster's non-owner node against the namespace's owner, with three real
# `vsa serve` processes (org.vsa.bench.ClusterNfsBench, see bench/README-forward.md): builds
# vsa.jar (appliance, shaded) in one reactor run without `install`, compiles
# appliance/src/test/c/vsa-nfs-mkdir.c into bench/target/ (gcc, libnfs-dev), then runs the bench.
#   bench/run-cluster-nfs-bench.sh [--mib=256] [--files=200] [--rounds=3] [--dir=cluster-nfs-bench]
# SKIP_BUILD=1 reuses the last build of vsa.jar and of the bench. Needs libnfs-utils (nfs-cp, nfs-ls).
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
for t in nfs-cp nfs-ls gcc; do
  command -v "$t" >/dev/null || { echo "missing $t (libnfs-utils, gcc)" >&2; exit 1; }
done
if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$root/appliance/target/vsa.jar" ]]; then
  (cd "$root" && { mvn -B -q -o -pl appliance -am -DskipTests package || mvn -B -q -pl appliance -am -DskipTests package; })
fi
mkdir -p "$here/target"
gcc -O2 -Wall -o "$here/target/vsa-nfs-mkdir" "$root/appliance/src/test/c/vsa-nfs-mkdir.c" -lnfs
exec "$here/java-bench.sh" ClusterNfsBench --jar="$root/appliance/target/vsa.jar" --mkdir="$here/target/vsa-nfs-mkdir" "$@"
