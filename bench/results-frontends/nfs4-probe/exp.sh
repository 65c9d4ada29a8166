#!/bin/bash
# exp.sh JAR TAG [RUNTIME]: vsa on a fresh data dir, 1 GiB file laid out over NFS, then fio 64k seq writes
# (iodepth 32) while sampling per-thread schedstat and kernel stacks of vsa's threads.
# Probe used for bench/README-frontends.md, section "NFS after branch nfs4" (root; fio-net; vsa.jar as $1).
# Env: PRE="randwrite:4k read:64k" (workloads before, 15 s each), CONFIG=vsa.yaml, VSA_JAVA_OPTS, WL/BS, OUTDIR.
JAR=$1; TAG=$2; RT=${3:-20}; WL=${WL:-write}; BS=${BS:-64k}
D=/work/bench-vsa-exp; O=${OUTDIR:-/tmp/nfs4}/exp-$TAG; rm -rf $D $O; mkdir -p $O
java -Xmx4g $VSA_JAVA_OPTS -jar $JAR serve ${CONFIG:+--config $CONFIG} --data-dir $D --iscsi-port 13261 --nfs-port 12051 --mount-port 12050 --portmap none > $O/vsa.log 2>&1 &
P=$!
for i in $(seq 120); do grep -q "vsa running" $O/vsa.log && break; sleep 0.5; done
URL="nfs://127.0.0.1/default?version=3&nfsport=12051&mountport=12050"
/usr/local/bin/fio-net --name=prefill --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m > $O/prefill.log 2>&1
grep -E "WRITE: bw" $O/prefill.log
snap() { for t in /proc/$P/task/*; do n=$(tr ' ' '_' < $t/comm); echo "$(basename $t) $n $(cat $t/schedstat)"; done; }
for pre in $PRE; do
  /usr/local/bin/fio-net --name=pre --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=${pre%%:*} --bs=${pre##*:} --iodepth=32 --time_based --runtime=15 --ramp_time=2 --size=1024m --output-format=json --output=$O/pre-${pre%%:*}.json > /dev/null 2>&1
  python3 -c "import json; j=json.load(open('$O/pre-${pre%%:*}.json'))['jobs'][0]; print('  pre $pre MB/s', round(j['write']['bw']/1024 + j['read']['bw']/1024))"
done
snap > $O/sched0.txt
python3 "$(dirname "$0")/ksample.py" $P $O/kstacks.txt &
S=$!
cat /proc/loadavg > $O/load.txt
/usr/local/bin/fio-net --name=w --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=$WL --bs=$BS --iodepth=32 --time_based --runtime=$RT --ramp_time=2 --size=1024m --output-format=json --output=$O/fio.json > /dev/null 2>&1
snap > $O/sched1.txt
cat /proc/loadavg >> $O/load.txt
kill $S; kill -TERM $P; wait $P
python3 -c "
import json; j=json.load(open('$O/fio.json'))['jobs'][0]; print('$TAG', '$WL', 'MB/s', round(j['write']['bw']/1024 + j['read']['bw']/1024), 'iops', round(j['write']['iops']+j['read']['iops']))"
python3 - $O <<'PY'
import sys, collections, re
o=sys.argv[1]
def rd(f):
  r={}
  for l in open(f):
    p=l.split()
    if len(p)>=5: r[p[0]]=(p[1],int(p[2]),int(p[3]))
  return r
a=rd(o+'/sched0.txt'); b=rd(o+'/sched1.txt'); agg=collections.defaultdict(lambda:[0,0])
for t,(n,c,w) in b.items():
  if t in a: 
    k=re.sub(r'[_(]*[0-9]*[)]*$','',n) ; agg[k][0]+=c-a[t][1]; agg[k][1]+=w-a[t][2]
for k,(c,w) in sorted(agg.items(), key=lambda x:-x[1][0])[:10]: print(f"  {k:24s} cpu {c/1e9:6.2f}s  runqueue-wait {w/1e9:6.2f}s")
PY
sed 's/_([0-9]*)//; s/([0-9]*)//' $O/kstacks.txt | grep -v ' S$' | sort | uniq -c | sort -rn | head -25 > $O/kstacks-top.txt
rm -rf $D
