#!/usr/bin/env bash
# Builds the reactor up to bench (package, no install: ~/.m2 is left alone) and runs
# org.vsa.bench.BackendBench with its runtime classpath. Arguments pass through, e.g.:
#   bench/run-backend-bench.sh                 # 64 MiB SCO, best of 3 rounds
#   bench/run-backend-bench.sh --sco=16 --rounds=1
# Environment: JAVA (default: java), JAVA_OPTS, SKIP_BUILD=1 (reuse the last build).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/java-bench.sh" BackendBench "$@"
