#!/usr/bin/env bash
# The shared part of the run-*-bench.sh scripts: builds the bench module and the modules it needs
# in one reactor run (never `install`: the local repository may be shared, and the classpath must
# name this tree's freshly packaged jars), then runs one bench's main class.
#   bench/java-bench.sh CLASS [ARGS...]     e.g. bench/java-bench.sh DtlBench --seconds=5
# SKIP_BUILD=1 reuses the last build; JAVA picks the java binary; JAVA_OPTS adds JVM options
# (after -Xmx4g -XX:+UseG1GC, so they win).
set -euo pipefail
[ $# -ge 1 ] || { echo "usage: $0 CLASS [ARGS...]" >&2; exit 2; }
main="org.vsa.bench.$1"
shift

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$here/.." && pwd)"
cp_file="$here/target/bench-classpath.txt"

if [[ "${SKIP_BUILD:-0}" != 1 || ! -s "$cp_file" ]]; then
  args=(-B -q -pl bench -am -DskipTests package
        org.apache.maven.plugins:maven-dependency-plugin:3.9.0:build-classpath
        -Dmdep.includeScope=runtime -Dmdep.outputFile="$cp_file")
  # offline first (no network needed once ~/.m2 is filled), then online if something is missing
  (cd "$root" && { mvn -o "${args[@]}" || mvn "${args[@]}"; })
fi

jar="$(ls "$here"/target/vsa-bench-*.jar | grep -v -e sources -e javadoc | head -n 1)"
exec "${JAVA:-java}" -Xmx4g -XX:+UseG1GC ${JAVA_OPTS:-} -cp "$jar:$(cat "$cp_file")" "$main" "$@"
