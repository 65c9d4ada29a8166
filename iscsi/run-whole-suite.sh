#!/usr/bin/env bash
# run-whole-suite.sh - every SCSI.* and iSCSI.* test of libiscsi's iscsi-test-cu
# (`iscsi-test-cu --list`; the ALL.* and LINUX.* entries are the same tests under other
# names) against one LUN, one test per process, each under `timeout $TIMEOUT`, and a
# per-family table of pass / fail / skip / timeout.
#
# Usage: bash iscsi/run-whole-suite.sh iscsi://127.0.0.1:13261/iqn.2026-11.org.vsa:default/0 [OUT_DIR]
#   OUT_DIR [/tmp/cu-whole-<date>]: one <test>.log per test, results.tsv (test, result, rc),
#   table.txt. Environment: TIMEOUT [60], FILTER [^(SCSI|iSCSI)\.] (an ERE over test names),
#   MP_URL [unset] a second path to the same LU (SCSI.MultipathIO skips itself without one).
# Every test runs as `iscsi-test-cu --test=T -d -S -V URL [MP_URL]`: -d allows the destructive
# (write) tests, -S the SANITIZE tests, -V logs each command's status and sense into the log.
#
# A test counts as
#   pass    CUnit summary "tests 1 1 1 0 ..." and exit 0, no [SKIPPED] in its output,
#   skip    it passed but printed [SKIPPED] (the test decided the target lacks a feature),
#   timeout `timeout` killed it (exit 124),
#   fail    anything else (an assertion failed, or no CUnit summary).
# Start a target first, e.g. ManualTarget (64 MiB vDisk demo as LUN 0; 2nd argument: block size)
#   java -Djava.io.tmpdir=/tmp/cu-data -cp iscsi/target/classes:iscsi/target/test-classes:volume/target/classes:volume/target/test-classes:backends/target/classes:appliance/target/vsa.jar \
#       org.vsa.iscsi.ManualTarget /tmp/port 512   # PORT n; data under /tmp/cu-data
# or the appliance (1 GiB vDisk demo) from a fresh `mvn -B -q -o -DskipTests package`:
#   java -jar appliance/target/vsa.jar serve --data-dir /tmp/cu-data --iscsi-port 13261 \
#       --nfs-port 0 --mount-port 0 --portmap none
set -uo pipefail

URL=${1:?usage: $0 ISCSI_URL [OUT_DIR]}
OUT=${2:-${TMPDIR:-/tmp}/cu-whole-$(date -u +%Y%m%d-%H%M%S)}
TIMEOUT=${TIMEOUT:-60}
FILTER=${FILTER:-'^(SCSI|iSCSI)\.'}
command -v iscsi-test-cu >/dev/null || { echo "iscsi-test-cu not found (Debian: libiscsi-bin)" >&2; exit 2; }
mkdir -p "$OUT"
: > "$OUT/results.tsv"

mapfile -t TESTS < <(iscsi-test-cu --list | grep -E '^[^.]+\.[^.]+\.[^.]+$' | grep -E "$FILTER")
echo "${#TESTS[@]} tests, timeout ${TIMEOUT}s each, logs in $OUT" >&2

for t in "${TESTS[@]}"; do
  log="$OUT/$t.log"
  timeout "$TIMEOUT" iscsi-test-cu --test="$t" -d -S -V "$URL" ${MP_URL:+"$MP_URL"} > "$log" 2>&1
  rc=$?
  summary=$(grep -E '^\s*tests\s' "$log" | head -1 | awk '{print $3, $4, $5}')  # run passed failed
  if [ "$rc" -eq 124 ]; then
    res=timeout
  elif [ "$summary" = "1 1 0" ] && [ "$rc" -eq 0 ]; then
    if sed -n '/Test: /,$p' "$log" | grep -q '\[SKIPPED\]'; then res=skip; else res=pass; fi
  else
    res=fail
  fi
  printf '%s\t%s\t%s\n' "$t" "$res" "$rc" >> "$OUT/results.tsv"
  printf '%-60s %s\n' "$t" "$res" >&2
done

awk -F'\t' '
  { split($1, p, "."); f = p[1] "." p[2]
    if (!(f in seen)) { seen[f] = 1; order[++n] = f }
    c[f, $2]++; tot[$2]++; all++ }
  END {
    printf "| %-32s | %5s | %4s | %4s | %4s | %7s |\n", "Family", "tests", "pass", "fail", "skip", "timeout"
    printf "|%s|%s|%s|%s|%s|%s|\n", "----------------------------------", "-------", "------", "------", "------", "---------"
    for (i = 1; i <= n; i++) { f = order[i]
      printf "| %-32s | %5d | %4d | %4d | %4d | %7d |\n", f, c[f,"pass"]+c[f,"fail"]+c[f,"skip"]+c[f,"timeout"], c[f,"pass"], c[f,"fail"], c[f,"skip"], c[f,"timeout"] }
    printf "| %-32s | %5d | %4d | %4d | %4d | %7d |\n", "**all**", all, tot["pass"], tot["fail"], tot["skip"], tot["timeout"]
  }' "$OUT/results.tsv" | tee "$OUT/table.txt"
