#!/usr/bin/env bash
# Builds the engine and the bench, then runs org.vsa.bench.EngineBench with its runtime classpath.
# Arguments pass through, e.g.:
#   bench/run-engine-bench.sh                       # vsa vs plain file, 4 threads x 10 s per workload
#   bench/run-engine-bench.sh --ram                 # heap per written GiB / cluster (16 GiB vDisk)
#   bench/run-engine-bench.sh --seconds=5 --span=1GiB --dir=/mnt/flash/bench
# Environment: JAVA (default: java), JAVA_OPTS (extra JVM flags, e.g. a JFR recording),
#              SKIP_BUILD=1 (reuse the last build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"

mvn_() {
  # offline first (no network needed once ~/.m2 is filled), then online if something is missing
  mvn -B -q -o "$@" || mvn -B -q "$@"
}

cp_file="$here/target/runtime-classpath.txt"
if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$cp_file" ]]; then
  # a reactor build (never `install`: the local repository is shared): the classpath names the
  # modules' freshly packaged jars
  (cd "$root" && mvn_ -pl bench -am -DskipTests package dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file")
fi

jar="$(ls "$here"/target/vsa-bench-*.jar | grep -v -e sources -e javadoc | head -n 1)"
exec "${JAVA:-java}" -Xmx4g -XX:+UseG1GC ${JAVA_OPTS:-} \
  -cp "$jar:$(cat "$cp_file")" org.vsa.bench.EngineBench "$@"
