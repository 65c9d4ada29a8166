#!/usr/bin/env bash
set -u
TAG=p3; JAR=$1
D=/tmp/lx/data-$TAG; rm -rf "$D"; mkdir -p "$D"
cat > /tmp/lx/cfg-$TAG.yaml <<Y
node: {dataDir: $D}
iscsi: {port: 13260}
nfs: {port: 12049, mountPort: 12048, portmap: none}
dtl: {port: 0}
management: {enabled: false}
Y
nice -n -15 java -Xmx4g -XX:+PreserveFramePointer -jar "$JAR" serve --config /tmp/lx/cfg-$TAG.yaml > /tmp/lx/vsa-$TAG.log 2>&1 &
PID=$!
for i in $(seq 1 120); do grep -q "vsa running" /tmp/lx/vsa-$TAG.log && break; sleep 0.5; done
URL="nfs://127.0.0.1/default?version=3&nfsport=12049&mountport=12048"
nice -n -15 /usr/local/bin/fio-net --name=prefill --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m > /dev/null 2>&1
for rep in 1 2 3; do
nice -n -15 timeout 60 /usr/local/bin/fio-net --name=w --rw=write --bs=64k --iodepth=32 --numjobs=1 --time_based --runtime=15 --size=1024m --output-format=json --output=/tmp/lx/w-$TAG.json --ioengine=nfs --nfs_url="$URL" --filename=fio-1g.dat > /dev/null 2>&1 &
FP=$!
sleep 5
perf record -F 499 -g -a -o /tmp/lx/perf3-$rep.data -- sleep 6 > /dev/null 2>&1
wait $FP
python3 -c "
import json
t=open('/tmp/lx/w-$TAG.json').read(); t=t[t.index('{'):]
j=json.loads(t); w=j['jobs'][0]['write']
print('rep=$rep MB/s=%.1f' % (w['bw_bytes']/1e6))"
done
kill $PID; wait $PID; rm -rf "$D"
