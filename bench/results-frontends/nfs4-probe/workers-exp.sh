#!/usr/bin/env bash
# write64k over NFS against vsa with W NFS worker threads (bench/README-frontends.md, "NFS 64 KiB writes and
# the number of NFS worker threads"). Usage: JAR=path/to/vsa.jar bash workers-exp.sh W; needs fio-net.
set -u
mkdir -p /tmp/wexp
W=$1; JAR=${JAR:-/tmp/vsa-final.jar}
D=/tmp/wexp/data-$W; rm -rf "$D"; mkdir -p "$D"
cat > /tmp/wexp/cfg-$W.yaml <<Y
node: {dataDir: $D}
iscsi: {port: 13260}
nfs: {port: 12049, mountPort: 12048, portmap: none, workerThreads: $W}
dtl: {port: 0}
management: {enabled: false}
Y
java -Xmx4g -jar "$JAR" serve --config /tmp/wexp/cfg-$W.yaml > /tmp/wexp/vsa-$W.log 2>&1 &
PID=$!
for i in $(seq 1 120); do grep -q "vsa running" /tmp/wexp/vsa-$W.log && break; sleep 0.5; done
URL="nfs://127.0.0.1/default?version=3&nfsport=12049&mountport=12048"
/usr/local/bin/fio-net --name=prefill --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m > /tmp/wexp/prefill-$W.log 2>&1
for rep in 1 2; do
timeout 60 /usr/local/bin/fio-net --name=w --rw=write --bs=64k --iodepth=32 --numjobs=1 --time_based --runtime=15 --ramp_time=2 --size=1024m \
  --output-format=json --output=/tmp/wexp/w-$W-$rep.json --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat > /tmp/wexp/w-$W-$rep.log 2>&1 &
F=$!; for i in $(seq 1 40); do kill -0 $F 2>/dev/null || break; sleep 1; done; kill -9 $F 2>/dev/null
python3 -c "
import json,sys
t=open('/tmp/wexp/w-$W-$rep.json').read(); t=t[t.index('{'):]
j=json.loads(t); w=j['jobs'][0]['write']; print('workers=$W rep=$rep MB/s=%.1f iops=%.0f'%(w['bw_bytes']/1e6,w['iops']))"
done
kill $PID; wait $PID
