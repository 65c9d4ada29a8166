#!/usr/bin/env bash
# A/B: vsa built from main (base) against this branch (new), same machine, same minute:
# both servers up at once, each workload run on one then the other, alternating, $PASSES passes.
set -u
cd /tmp/nfsperf
RT=${RT:-10} PASSES=${PASSES:-2}
start() { # name jar port-base
	rm -rf data-$1
	java -Xmx2g -jar $2 serve --data-dir /tmp/nfsperf/data-$1 --iscsi-port $(($3+1)) --nfs-port $(($3+2)) --mount-port $(($3+3)) --portmap none >ab-$1.log 2>&1 &
	echo $! >ab-$1.pid
	for i in $(seq 120); do grep -q "vsa running" ab-$1.log && return; sleep 0.5; done
	echo "$1 did not start"; exit 1
}
start base vsa-base.jar 13300
start new vsa-new.jar 13400
url() { [ $1 = base ] && p=13300 || p=13400; echo "nfs://127.0.0.1/default?version=3&nfsport=$(($p+2))&mountport=$(($p+3))"; }
for s in base new; do
	echo "prefill $s: $(fio-net --name=prefill --ioengine=nfs --nfs_url="$(url $s)" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m --output-format=json | jq -r '.jobs[0].write.bw_bytes/1048576|floor') MiB/s"
done
for pass in $(seq $PASSES); do
	for w in "randread 4k" "randwrite 4k" "read 64k" "write 64k"; do
		set -- $w
		for s in $( [ $((pass % 2)) = 1 ] && echo "base new" || echo "new base"); do
			r=$(timeout $((RT + 60)) fio-net --name=$1$2 --ioengine=nfs --nfs_url="$(url $s)" --filename=fio-1g.dat --rw=$1 --bs=$2 --iodepth=32 --size=1024m --runtime=$RT --time_based --ramp_time=2 --output-format=json 2>/dev/null | jq -r '.jobs[0] | (.read.iops + .write.iops | floor)')
			echo "pass $pass $1$2 $s iops=${r:-FAIL} load=$(cut -d' ' -f1 /proc/loadavg)"
		done
	done
done
for s in base new; do
	rm -f /dev/shm/ab-cp.bin /dev/shm/ab-back.bin; head -c 1073741824 /dev/urandom >/dev/shm/ab-cp.bin
	u="nfs://127.0.0.1/default/cp-$s.bin?version=3&nfsport=$([ $s = base ] && echo 13302 || echo 13402)&mountport=$([ $s = base ] && echo 13303 || echo 13403)"
	t0=$(date +%s.%N); nfs-cp /dev/shm/ab-cp.bin "$u" >/dev/null; t1=$(date +%s.%N); nfs-cp "$u" /dev/shm/ab-back.bin >/dev/null; t2=$(date +%s.%N)
	cmp -s /dev/shm/ab-cp.bin /dev/shm/ab-back.bin && ok=same || ok=DIFFERENT
	echo "nfs-cp $s: up $(echo "$t1 - $t0" | bc) s, down $(echo "$t2 - $t1" | bc) s, $ok load=$(cut -d' ' -f1 /proc/loadavg)"
done
rm -f /dev/shm/ab-cp.bin /dev/shm/ab-back.bin
for s in base new; do kill $(cat ab-$s.pid); done
sleep 3; rm -rf data-base data-new
