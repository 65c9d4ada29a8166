#!/usr/bin/env bash
# Builds the engine and the bench in the reactor (no install), then runs org.vsa.bench.DedupeBench:
# 4 KiB random write IOPS into a vDisk with dedupe off, on with unique data, on with duplicates.
# Arguments pass through, e.g.:
#   bench/run-dedupe-bench.sh                        # buffered writes, 4 threads, 10 s each
#   bench/run-dedupe-bench.sh --durable --seconds=5
# Environment: JAVA (default: java), JAVA_OPTS, SKIP_BUILD=1 (reuse the last build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cp_file="$here/target/dedupe-bench-classpath.txt"

if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$cp_file" ]]; then
  (cd "$root" && { mvn -B -q -o -pl bench -am -DskipTests package dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file" \
    || mvn -B -q -pl bench -am -DskipTests package dependency:build-classpath \
      -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file"; })
fi

jar="$(ls "$here"/target/vsa-bench-*.jar | grep -v -e sources -e javadoc | head -n 1)"
exec "${JAVA:-java}" -Xmx4g -XX:+UseG1GC ${JAVA_OPTS:-} \
  -cp "$jar:$(cat "$cp_file")" org.vsa.bench.DedupeBench "$@"
