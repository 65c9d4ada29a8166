#!/usr/bin/env bash
set -u
TAG=$1; JAR=$2; W=$3
D=/tmp/lx/data-$TAG; rm -rf "$D"; mkdir -p "$D"
cat > /tmp/lx/cfg-$TAG.yaml <<Y
node: {dataDir: $D}
iscsi: {port: 13260}
nfs: {port: 12049, mountPort: 12048, portmap: none, workerThreads: $W}
dtl: {port: 0}
management: {enabled: false}
Y
nice -n -15 java -Xmx4g ${JOPTS:-} -jar "$JAR" serve --config /tmp/lx/cfg-$TAG.yaml > /tmp/lx/vsa-$TAG.log 2>&1 &
PID=$!
for i in $(seq 1 120); do grep -q "vsa running" /tmp/lx/vsa-$TAG.log && break; sleep 0.5; done
URL="nfs://127.0.0.1/default?version=3&nfsport=12049&mountport=12048"
nice -n -15 /usr/local/bin/fio-net --name=prefill --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m > /tmp/lx/prefill-$TAG.log 2>&1
for rep in 1 2 3; do
c0=$(awk '{print $14+$15}' /proc/$PID/stat)
nice -n -15 timeout 60 /usr/local/bin/fio-net --name=w --rw=write --bs=64k --iodepth=32 --numjobs=1 --time_based --runtime=15 --size=1024m --output-format=json --output=/tmp/lx/w-$TAG.json --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat > /tmp/lx/w-$TAG.log 2>&1 &
FP=$!
sleep 10
echo "wb/backend MB: $(du -sm $D/writebuffer $D/backend 2>/dev/null | awk '{print $1}' | tr '\n' ' ') files: $(ls $D/writebuffer/*/ | wc -l)"
for k in 1 2 3; do jcmd $PID Thread.print > /tmp/lx/js-$TAG-$rep-$k.txt 2>/dev/null; sleep 0.3; done
wait $FP
c1=$(awk '{print $14+$15}' /proc/$PID/stat)
python3 -c "
import json
t=open('/tmp/lx/w-$TAG.json').read(); t=t[t.index('{'):]
j=json.loads(t); w=j['jobs'][0]['write']; n=w['total_ios']
print('$TAG rep=$rep MB/s=%.1f  vsa CPU us/write=%.0f' % (w['bw_bytes']/1e6, ($c1-$c0)*10000.0/max(n,1)))"
done
kill $PID; wait $PID; rm -rf "$D"
