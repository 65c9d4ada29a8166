#!/usr/bin/env bash
# Builds the engine and the bench, then runs org.vsa.bench.EngineBench with its runtime classpath.
# Arguments pass through, e.g.:
#   bench/run-engine-bench.sh                       # vsa vs plain file, 4 threads x 10 s per workload
#   bench/run-engine-bench.sh --ram                 # heap per written GiB / cluster (16 GiB vDisk)
#   bench/run-engine-bench.sh --seconds=5 --span=1GiB --dir=/mnt/flash/bench
# Environment: JAVA (default: java), JAVA_OPTS (extra JVM flags, e.g. a JFR recording),
#              SKIP_BUILD=1 (reuse the last build).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/java-bench.sh" EngineBench "$@"
