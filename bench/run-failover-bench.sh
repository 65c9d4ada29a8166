#!/usr/bin/env bash
# Failover time seen by an iSCSI client (org.vsa.bench.FailoverBench, see bench/README-failover.md):
# builds vsa.jar (appliance, shaded) in one reactor run without `install`, compiles the load tool
# appliance/src/test/c/vsa-iscsi-load.c into bench/target/ (gcc, libiscsi-dev), then runs the bench.
#   bench/run-failover-bench.sh [--failovers=10] [--timing=default,short] [--dir=failover-bench]
# SKIP_BUILD=1 reuses the last build of vsa.jar and of the bench.
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$root/appliance/target/vsa.jar" ]]; then
  (cd "$root" && { mvn -B -q -o -pl appliance -am -DskipTests package || mvn -B -q -pl appliance -am -DskipTests package; })
fi
mkdir -p "$here/target"
gcc -O2 -Wall -o "$here/target/vsa-iscsi-load" "$root/appliance/src/test/c/vsa-iscsi-load.c" -liscsi
exec "$here/java-bench.sh" FailoverBench --jar="$root/appliance/target/vsa.jar" --tool="$here/target/vsa-iscsi-load" "$@"
