#!/usr/bin/env bash
# Builds the modules in the reactor (no install) and runs org.vsa.bench.DtlBench: DTL modes none,
# async and sync over loopback, 4 KiB random writes at iodepth 1 and 32. Arguments pass through:
#   bench/run-dtl-bench.sh                      # 5 s per cell, data under ./dtl-bench-data
#   bench/run-dtl-bench.sh --seconds=10 --dir=/mnt/flash/dtl-bench
#   bench/run-dtl-bench.sh --stages             # also where each DTL entry spent its time (iodepth 1)
set -euo pipefail
exec "$(dirname "${BASH_SOURCE[0]}")/java-bench.sh" DtlBench "$@"
