#!/usr/bin/env bash
# Builds the engine and the bench in the reactor (no install), then runs org.vsa.bench.DedupeBench:
# 4 KiB random write IOPS into a vDisk with dedupe off, on with unique data, on with duplicates.
# Arguments pass through, e.g.:
#   bench/run-dedupe-bench.sh                        # buffered writes, 4 threads, 10 s each
#   bench/run-dedupe-bench.sh --durable --seconds=5
# Environment: JAVA (default: java), JAVA_OPTS, SKIP_BUILD=1 (reuse the last build).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/java-bench.sh" DedupeBench "$@"
