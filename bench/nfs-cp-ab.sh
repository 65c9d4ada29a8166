#!/usr/bin/env bash
# nfs-cp of 1 GiB into and out of vsa and nfs-ganesha (VFS FSAL), alternating, on equal terms:
# both servers run side by side on 127.0.0.1 for the whole run (vsa on the given jar with its
# embedded defaults but for the ports, ganesha exporting a directory on the same disk); each
# copy starts after `sync` (no writeback of an earlier step still running), every copy goes to a
# new file, the order of the two servers alternates from round to round, and every download is
# compared with the source. One warm-up copy each way per server first (vsa's JIT, both caches).
#
# Usage (root; needs nfs-ganesha, nfs-ganesha-vfs, rpcbind, libnfs-utils installed, as
# run-frontends.sh installs them):
#   bash bench/nfs-cp-ab.sh VSA_JAR [ROUNDS=3] [OUT_DIR=/tmp/vsa-nfs-cp-ab]
# Prints one line per copy and the medians; vsa's log and ganesha's config stay in OUT_DIR.
set -euo pipefail
JAR=${1:?usage: nfs-cp-ab.sh VSA_JAR [ROUNDS] [OUT_DIR]}
ROUNDS=${2:-3}
OUT=${3:-/tmp/vsa-nfs-cp-ab}
[ "$(id -u)" = 0 ] || { echo "run as root (ganesha)" >&2; exit 1; }
for t in ganesha.nfsd nfs-cp rpcbind java; do
	command -v "$t" >/dev/null || { echo "missing $t (run bench/run-frontends.sh once, it installs them)" >&2; exit 1; }
done
rm -rf "$OUT"; mkdir -p "$OUT/vsa" "$OUT/ganesha/exp" "$OUT/ganesha/rec" /run/rpcbind
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -f /dev/shm/ab-src.bin /dev/shm/ab-back.bin; }
trap cleanup EXIT
if ! rpcinfo -p 127.0.0.1 >/dev/null 2>&1; then rpcbind -f >"$OUT/rpcbind.log" 2>&1 & PIDS+=($!); sleep 1; fi

cat >"$OUT/vsa.yaml" <<Y
node: {dataDir: $OUT/vsa}
iscsi: {port: 0}
nfs: {port: 12049, mountPort: 12048, portmap: none}
management: {enabled: false}
Y
java -jar "$JAR" serve --config "$OUT/vsa.yaml" >"$OUT/vsa.log" 2>&1 & PIDS+=($!)
cat >"$OUT/ganesha.conf" <<C
NFS_CORE_PARAM { Bind_addr = 127.0.0.1; NFS_Port = 22049; Protocols = 3; Enable_NLM = false; Enable_RQUOTA = false; Mount_Path_Pseudo = true; }
NFSV4 { Graceless = true; RecoveryRoot = "$OUT/ganesha/rec"; }
NFS_KRB5 { Active_krb5 = false; }
LOG { Default_Log_Level = EVENT; }
EXPORT { Export_Id = 1; Path = "$OUT/ganesha/exp"; Pseudo = "/disk"; Protocols = 3; Transports = TCP; SecType = sys;
  Squash = No_Root_Squash; Access_Type = NONE; CLIENT { Clients = 127.0.0.1; Access_Type = RW; } FSAL { Name = VFS; } }
C
ganesha.nfsd -F -L "$OUT/ganesha.log" -f "$OUT/ganesha.conf" -p "$OUT/ganesha.pid" -N NIV_EVENT >"$OUT/ganesha.out" 2>&1 & PIDS+=($!)

declare -A URL=([vsa]="nfs://127.0.0.1/default" [ganesha]="nfs://127.0.0.1/disk")
declare -A Q=([vsa]="?version=3&nfsport=12049&mountport=12048" [ganesha]="?version=3&nfsport=22049")
for s in vsa ganesha; do
	for i in $(seq 120); do nfs-ls "${URL[$s]}${Q[$s]}" >/dev/null 2>&1 && break; sleep 0.5; done
	nfs-ls "${URL[$s]}${Q[$s]}" >/dev/null 2>&1 || { echo "$s did not come up (see $OUT)" >&2; exit 1; }
done
head -c 1G /dev/urandom >/dev/shm/ab-src.bin

copy() { # SYSTEM NAME -> "up_seconds down_seconds same|DIFFERENT"
	local s=$1 n=$2 t0 t1 t2 same
	sync
	t0=$(date +%s.%N)
	nfs-cp /dev/shm/ab-src.bin "${URL[$s]}/$n${Q[$s]}" >/dev/null
	t1=$(date +%s.%N)
	rm -f /dev/shm/ab-back.bin
	nfs-cp "${URL[$s]}/$n${Q[$s]}" /dev/shm/ab-back.bin >/dev/null
	t2=$(date +%s.%N)
	if cmp -s /dev/shm/ab-src.bin /dev/shm/ab-back.bin; then same=same; else same=DIFFERENT; fi
	awk -v a="$t0" -v b="$t1" -v c="$t2" -v x="$same" 'BEGIN{printf "%.2f %.2f %s\n", b-a, c-b, x}'
}
for s in vsa ganesha; do copy "$s" warm.bin >/dev/null; done
declare -A UP DOWN
for r in $(seq "$ROUNDS"); do
	order="vsa ganesha"; [ $((r % 2)) = 0 ] && order="ganesha vsa"
	for s in $order; do
		read -r up down same < <(copy "$s" "ab-$r.bin")
		echo "round $r $s: upload ${up} s, download ${down} s, read back $same"
		[ "$same" = same ] || { echo "download differs from the source" >&2; exit 1; }
		UP[$s]+="$up "; DOWN[$s]+="$down "
	done
done
med() { tr ' ' '\n' | grep . | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
for d in upload download; do
	if [ $d = upload ]; then v=$(echo "${UP[vsa]}" | med); g=$(echo "${UP[ganesha]}" | med)
	else v=$(echo "${DOWN[vsa]}" | med); g=$(echo "${DOWN[ganesha]}" | med); fi
	awk -v d=$d -v v="$v" -v g="$g" 'BEGIN{printf "median %s: vsa %.2f s, ganesha %.2f s, vsa/ganesha (speed) %.2f\n", d, v, g, g/v}'
done
grep -c -E " (WARN|ERROR) " "$OUT/vsa.log" | sed 's/^/vsa WARN+ERROR lines: /' || true
