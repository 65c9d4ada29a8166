#!/usr/bin/env bash
# run-frontends.sh - vsa's iSCSI target and NFS gateway against Debian's tgt and
# nfs-ganesha, with fio (fio-net: libiscsi + libnfs engines), on 127.0.0.1.
#
# 1. builds vsa (mvn -o package) and copies vsa.jar to $WORK (so a concurrent
#    rebuild of the tree cannot change the jar under the running JVM),
# 2. starts `vsa serve` on a fresh data dir, iSCSI 13260, NFS 12049, MOUNT 12048,
#    no portmapper, and waits for "vsa running",
# 3. pre-fills LUN 0 (vDisk demo) over iSCSI, 1 MiB sequential writes, so reads hit
#    written data like tgt's fully allocated backing file (an unwritten thin vDisk
#    reads zeros without touching any tier),
# 4. runs /work/shared/tools/run-peers.sh with vsa as ISCSI_URL / NFS_URL and vsa's
#    PID as EXT_PIDS (the NFS test file fio-1g.dat is written over NFS by run-peers;
#    at 1 GiB it is past the 256 MiB threshold, so vsa stores it as a vDisk),
# 5. samples `jcmd <vsa> Thread.print` every $JSTACK_EVERY s into $OUT/jstacks/,
# 6. stops vsa by PID (SIGTERM: it flushes and exits) and deletes its data dir.
#
# Usage (root; run-peers.sh needs apt-get, tgtd, ganesha.nfsd, and fio-net from
# /work/shared/tools/build-fio.sh):
#   bash bench/run-frontends.sh                      # RUNTIME=20 REPEAT=3, ~25 min
#   RUNTIME=5 REPEAT=1 bash bench/run-frontends.sh   # quick pass, ~4 min
#
# Environment (defaults in brackets); everything else is passed on to run-peers.sh
# (NUMJOBS, RAMP, SIZE_MB, EXTRAS, ...; read its header):
#   RUNTIME [20] REPEAT [3] IODEPTH [32] PEERS ["tgt ganesha"] BACKINGS [disk]
#   NFS_VERSIONS [3]          vsa serves NFSv3 only
#   WORKLOADS ["randread4k randwrite4k read64k write64k"]
#   PROTOCOLS ["iscsi nfs"]   which of vsa's front ends to measure (with PEERS to match)
#   ISCSI_PORT [13260] NFS_PORT [12049] MOUNT_PORT [12048]
#   SKIP_BUILD [0]            1: use $VSA_JAR as it is
#   VSA_JAR [$WORK/vsa.jar]   DATA_DIR [/work/bench-vsa] (deleted at start and end)
#   VSA_HEAP [4g]             KEEP_DATA [0]
#   ISCSI [1]                 0: NFS only (no LUN pre-fill, no iSCSI URL; use with PEERS=ganesha)
#   VSA_JAVA_OPTS [""]        extra JVM flags for vsa, e.g. a JFR recording:
#                             "-XX:StartFlightRecording=filename=/tmp/vsa.jfr,settings=profile"
#   JSTACK_EVERY [10]         0: no thread dumps
#   WORK [/tmp/vsa-frontends] OUT [$WORK/results/<date>]
#   PEERS_SH [/work/shared/tools/run-peers.sh]  FIO_NET [/usr/local/bin/fio-net]
set -uo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$HERE/.." && pwd)
export RUNTIME=${RUNTIME:-20}
export REPEAT=${REPEAT:-3}
export IODEPTH=${IODEPTH:-32}
export PEERS=${PEERS-"tgt ganesha"}
export BACKINGS=${BACKINGS:-disk}
export NFS_VERSIONS=${NFS_VERSIONS:-3}
export WORKLOADS=${WORKLOADS:-"randread4k randwrite4k read64k write64k"}
export FIO_NET=${FIO_NET:-/usr/local/bin/fio-net}
WORK=${WORK:-/tmp/vsa-frontends}
export OUT=${OUT:-$WORK/results/$(date +%Y%m%d-%H%M%S)}
SKIP_BUILD=${SKIP_BUILD:-0}
VSA_JAR=${VSA_JAR:-$WORK/vsa.jar}
DATA_DIR=${DATA_DIR:-/work/bench-vsa}
VSA_HEAP=${VSA_HEAP:-4g}
ISCSI=${ISCSI:-1}
VSA_JAVA_OPTS=${VSA_JAVA_OPTS:-}
KEEP_DATA=${KEEP_DATA:-0}
JSTACK_EVERY=${JSTACK_EVERY:-10}
PEERS_SH=${PEERS_SH:-/work/shared/tools/run-peers.sh}
ISCSI_PORT=${ISCSI_PORT:-13260} NFS_PORT=${NFS_PORT:-12049} MOUNT_PORT=${MOUNT_PORT:-12048}
PROTOCOLS=${PROTOCOLS:-"iscsi nfs"}
[ "$ISCSI" = 1 ] || PROTOCOLS=${PROTOCOLS//iscsi/}
case " $PROTOCOLS " in *" iscsi "*) ;; *) ISCSI=0 ;; esac
IQN=iqn.2026-11.org.vsa:default

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

[ "$(id -u)" = 0 ] || die "run as root (run-peers.sh starts tgtd and ganesha)"
[ -x "$FIO_NET" ] || die "$FIO_NET missing: sudo bash /work/shared/tools/build-fio.sh"
for p in $ISCSI_PORT $NFS_PORT $MOUNT_PORT; do
	ss -Hltn "sport = :$p" | grep -q . && die "port $p already in use"
done
mkdir -p "$WORK" "$OUT/jstacks"

VSA_PID="" SAMPLER_PID="" WATCHDOG_PID=""
cleanup() {
	[ -n "$SAMPLER_PID" ] && kill "$SAMPLER_PID" 2>/dev/null && wait "$SAMPLER_PID" 2>/dev/null
	[ -n "$WATCHDOG_PID" ] && kill "$WATCHDOG_PID" 2>/dev/null
	if [ -n "$VSA_PID" ] && kill -0 "$VSA_PID" 2>/dev/null; then
		log "stopping vsa (pid $VSA_PID)"
		kill -TERM "$VSA_PID"
		for _ in $(seq 300); do kill -0 "$VSA_PID" 2>/dev/null || break; sleep 0.1; done
		kill -0 "$VSA_PID" 2>/dev/null && { log "vsa did not stop, SIGKILL"; kill -KILL "$VSA_PID"; }
		wait "$VSA_PID" 2>/dev/null
	fi
	[ "$KEEP_DATA" = 1 ] || rm -rf "$DATA_DIR"
}
trap cleanup EXIT
trap 'log interrupted; exit 130' INT TERM

# 1. build
if [ "$SKIP_BUILD" != 1 ]; then
	log "building vsa ($(git -C "$REPO" rev-parse --short HEAD)$(git -C "$REPO" diff --quiet || echo ', dirty tree'))"
	(cd "$REPO" && mvn -B -q -o -DskipTests package) >"$OUT/build.log" 2>&1 || die "build failed, see $OUT/build.log"
	cp "$REPO/appliance/target/vsa.jar" "$VSA_JAR"
fi
[ -f "$VSA_JAR" ] || die "$VSA_JAR missing"

# 2. start vsa
rm -rf "$DATA_DIR"
# shellcheck disable=SC2086 # VSA_JAVA_OPTS is a list of flags
java -Xmx"$VSA_HEAP" $VSA_JAVA_OPTS -jar "$VSA_JAR" serve --data-dir "$DATA_DIR" \
	--iscsi-port $ISCSI_PORT --nfs-port $NFS_PORT --mount-port $MOUNT_PORT --portmap none \
	>"$OUT/vsa.log" 2>&1 &
VSA_PID=$!
for _ in $(seq 120); do
	grep -q "vsa running" "$OUT/vsa.log" && break
	kill -0 "$VSA_PID" 2>/dev/null || die "vsa exited, see $OUT/vsa.log"
	sleep 0.5
done
grep -q "vsa running" "$OUT/vsa.log" || die "vsa did not start in 60 s, see $OUT/vsa.log"
log "vsa up (pid $VSA_PID), data dir $DATA_DIR"

# 3. pre-fill the LUN
LUN_URL="iscsi://127.0.0.1:$ISCSI_PORT/$IQN/0"
if [ "$ISCSI" = 1 ]; then
	log "pre-filling $LUN_URL (1 GiB, 1 MiB writes)"
	"$FIO_NET" --name=prefill --ioengine=libiscsi --filename="$(printf '%s' "$LUN_URL" | sed 's/:/\\:/g')" \
		--rw=write --bs=1m --iodepth=8 --size=1g >"$OUT/prefill-iscsi.log" 2>&1 ||
		die "iSCSI pre-fill failed, see $OUT/prefill-iscsi.log"
	grep -E 'WRITE: bw' "$OUT/prefill-iscsi.log" | sed 's/^ */  /' >&2
fi

# 5. thread dumps in the background
if [ "$JSTACK_EVERY" -gt 0 ]; then
	(
		while kill -0 "$VSA_PID" 2>/dev/null; do
			sleep "$JSTACK_EVERY"
			jcmd "$VSA_PID" Thread.print >"$OUT/jstacks/$(date +%H%M%S).txt" 2>&1 || true
		done
	) &
	SAMPLER_PID=$!
fi

# 6. fio teardown watchdog. fio's libnfs engine can hang in its unmount after the measured window
# (libnfs answers MOUNT NULL, then never sends UMNT; seen with ganesha and with vsa, see
# bench/README-frontends.md): a fio-net job process still alive 60 s after its window is sent
# SIGTERM, and fio then writes its JSON, which holds the whole measured window. Logged in
# watchdog.log so that every such pass is known.
(
	while true; do
		sleep 5
		for p in $(pgrep -x fio-net); do
			el=$(ps -o etimes= -p "$p" 2>/dev/null | tr -d ' ')
			[ -n "$el" ] || continue
			if [ "$el" -gt $((RUNTIME + ${RAMP:-2} + 60)) ] && pgrep -P "$p" >/dev/null 2>&1; then
				kid=$(pgrep -P "$p" | head -1)
				echo "$(date +%H:%M:%S) fio-net $p ($(tr '\0' ' ' </proc/$p/cmdline | grep -o -- '--output=[^ ]*')) ran ${el}s: SIGTERM to its job $kid" >>"$OUT/watchdog.log"
				kill "$kid" 2>/dev/null || true
			fi
		done
	done
) &
WATCHDOG_PID=$!

# 4. the run
V_ISCSI="" V_NFS=""
case " $PROTOCOLS " in *" iscsi "*) V_ISCSI="vsa=$LUN_URL" ;; esac
case " $PROTOCOLS " in *" nfs "*) V_NFS="vsa3=nfs://127.0.0.1/default?version=3&nfsport=$NFS_PORT&mountport=$MOUNT_PORT" ;; esac
ISCSI_URL="$V_ISCSI" NFS_URL="$V_NFS" \
	EXT_PIDS=$VSA_PID bash "$PEERS_SH" 2>&1 | tee "$OUT/run-peers.out"
rc=${PIPESTATUS[0]}
kill "$WATCHDOG_PID" 2>/dev/null || true
[ -s "$OUT/watchdog.log" ] && log "fio teardown hangs cut short: $(wc -l <"$OUT/watchdog.log") (see watchdog.log)"
log "vsa.log: $(grep -c "ERROR\|WARN" "$OUT/vsa.log") ERROR/WARN lines"
log "results: $OUT (summary.txt from run-peers.sh, vsa.log, jstacks/)"
exit "$rc"
