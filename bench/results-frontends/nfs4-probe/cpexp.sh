#!/bin/bash
# cpexp.sh JAR TAG: vsa on a fresh data dir; nfs-cp 1 GiB up, then down 3 times (timed), per-thread CPU of the downloads
JAR=$1; TAG=$2
D=/work/bench-vsa-exp; O=${OUTDIR:-/tmp/nfs4}/cp-$TAG; rm -rf $D $O; mkdir -p $O
[ -f /dev/shm/nfs4-src.bin ] || head -c 1073741824 /dev/urandom > /dev/shm/nfs4-src.bin
java -Xmx4g $VSA_JAVA_OPTS -jar $JAR serve --data-dir $D --iscsi-port 13261 --nfs-port 12051 --mount-port 12050 --portmap none > $O/vsa.log 2>&1 &
P=$!
for i in $(seq 120); do grep -q "vsa running" $O/vsa.log && break; sleep 0.5; done
U="nfs://127.0.0.1/default/cp.bin?version=3&nfsport=12051&mountport=12050"
s=$(date +%s.%N); nfs-cp /dev/shm/nfs4-src.bin "$U" >/dev/null; e=$(date +%s.%N); echo "$TAG up $(echo "$e - $s" | bc) s"
snap() { for t in /proc/$P/task/*; do n=$(tr ' ' '_' < $t/comm); echo "$(basename $t) $n $(cat $t/schedstat)"; done; }
snap > $O/s0.txt
for i in 1 2 3; do rm -f /dev/shm/nfs4-back.bin; s=$(date +%s.%N); nfs-cp "$U" /dev/shm/nfs4-back.bin >/dev/null; e=$(date +%s.%N); echo "$TAG down $(echo "$e - $s" | bc) s load $(cut -d' ' -f1 /proc/loadavg)"; done
snap > $O/s1.txt
cmp /dev/shm/nfs4-src.bin /dev/shm/nfs4-back.bin && echo "$TAG identical"
kill -TERM $P; wait $P
python3 - $O <<'PY'
import sys, collections, re
o=sys.argv[1]
def rd(f):
  r={}
  for l in open(f):
    p=l.split()
    if len(p)>=5: r[p[0]]=(p[1],int(p[2]),int(p[3]))
  return r
a=rd(o+'/s0.txt'); b=rd(o+'/s1.txt'); agg=collections.defaultdict(lambda:[0,0])
for t,(n,c,w) in b.items():
  if t in a:
    k=re.sub(r'[_(]*[0-9]*[)]*$','',n); agg[k][0]+=c-a[t][1]; agg[k][1]+=w-a[t][2]
for k,(c,w) in sorted(agg.items(), key=lambda x:-x[1][0])[:8]: print(f"  {k:24s} cpu {c/1e9:6.2f}s  runqueue-wait {w/1e9:6.2f}s")
PY
rm -rf $D /dev/shm/nfs4-back.bin
