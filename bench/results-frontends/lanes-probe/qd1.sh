#!/usr/bin/env bash
set -u
TAG=$1; JAR=$2
D=/tmp/lx/data-$TAG; rm -rf "$D"; mkdir -p "$D"
cat > /tmp/lx/cfg-$TAG.yaml <<Y
node: {dataDir: $D}
iscsi: {port: 13260}
nfs: {port: 12049, mountPort: 12048, portmap: none}
dtl: {port: 0}
management: {enabled: false}
Y
nice -n -15 java -Xmx4g ${JOPTS:-} -jar "$JAR" serve --config /tmp/lx/cfg-$TAG.yaml > /tmp/lx/vsa-$TAG.log 2>&1 &
PID=$!
for i in $(seq 1 120); do grep -q "vsa running" /tmp/lx/vsa-$TAG.log && break; sleep 0.5; done
URL="nfs://127.0.0.1/default?version=3&nfsport=12049&mountport=12048"
nice -n -15 /usr/local/bin/fio-net --name=prefill --ioengine=nfs --nfs_url="$URL" --filename=f.raw --rw=write --bs=1m --iodepth=1 --size=256m > /dev/null 2>&1
for w in "randwrite 4k 1" "randwrite 4k 32" "write 64k 1"; do set -- $w
nice -n -15 timeout 60 /usr/local/bin/fio-net --name=w --rw=$1 --bs=$2 --iodepth=$3 --time_based --runtime=8 --size=256m --output-format=json --output=/tmp/lx/q-$TAG.json --ioengine=nfs --nfs_url="$URL" --filename=f.raw > /dev/null 2>&1
python3 -c "
import json
t=open('/tmp/lx/q-$TAG.json').read(); t=t[t.index('{'):]
j=json.loads(t); w=j['jobs'][0]['write']
print('$TAG $1 $2 qd$3: IOPS=%.0f lat_mean_us=%.0f p99=%.0f' % (w['iops'], w['lat_ns']['mean']/1000, w['clat_ns']['percentile']['99.000000']/1000))"
done
kill $PID; wait $PID; rm -rf "$D"
