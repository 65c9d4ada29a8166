#!/usr/bin/env bash
# Builds the modules in the reactor (no install) and runs org.vsa.bench.DtlBench: DTL modes none,
# async and sync over loopback, 4 KiB random writes at iodepth 1 and 32. Arguments pass through:
#   bench/run-dtl-bench.sh                      # 5 s per cell, data under ./dtl-bench-data
#   bench/run-dtl-bench.sh --seconds=10 --dir=/mnt/flash/dtl-bench
#   bench/run-dtl-bench.sh --stages             # also where each DTL entry spent its time (iodepth 1)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cp_file="$here/target/dtl-bench-classpath.txt"
(cd "$root" && mvn -B -q -o -DskipTests -pl bench -am package \
    org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath \
    -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file")
jar="$(ls "$here"/target/vsa-bench-*.jar | grep -v -e sources -e javadoc | head -n 1)"
exec "${JAVA:-java}" -Xmx2g ${JAVA_OPTS:-} -cp "$jar:$(cat "$cp_file")" org.vsa.bench.DtlBench "$@"
