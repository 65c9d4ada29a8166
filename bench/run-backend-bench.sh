#!/usr/bin/env bash
# Builds the reactor up to bench (package, no install: ~/.m2 is left alone) and runs
# org.vsa.bench.BackendBench with its runtime classpath. Arguments pass through, e.g.:
#   bench/run-backend-bench.sh                 # 64 MiB SCO, best of 3 rounds
#   bench/run-backend-bench.sh --sco=16 --rounds=1
# Environment: JAVA (default: java), JAVA_OPTS, SKIP_BUILD=1 (reuse the last build).
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cp_file="$here/target/cp.txt"

if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$cp_file" ]]; then
  # offline first, online if something is missing; build-classpath in the same reactor run so the
  # vsa modules resolve to this tree's jars
  args=(-B -q -pl bench -am -DskipTests package
        org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath
        -Dmdep.includeScope=runtime -Dmdep.outputFile=target/cp.txt)
  (cd "$root" && { mvn -o "${args[@]}" || mvn "${args[@]}"; })
fi

exec "${JAVA:-java}" -Xmx4g -XX:+UseG1GC ${JAVA_OPTS:-} \
  -cp "$here/target/classes:$(cat "$cp_file")" org.vsa.bench.BackendBench "$@"
