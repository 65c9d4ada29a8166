#!/usr/bin/env bash
# Builds the engine and the bench in the reactor (no install), then runs org.vsa.bench.DataBench:
# snapshot and clone time of thin vDisks of different sizes with the same data written, and
# scrub throughput. Arguments pass through, e.g.:
#   bench/run-data-bench.sh                                   # 4 GiB written into 10 GiB and 100 GiB vDisks
#   bench/run-data-bench.sh --written=1GiB --sizes=1GiB,1TiB --dir=/mnt/flash/data-bench
# Environment: JAVA (default: java), JAVA_OPTS, SKIP_BUILD=1 (reuse the last build).
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/java-bench.sh" DataBench "$@"
