#!/usr/bin/env bash
# A/B of two vsa jars on NFS, same machine, same minute: both servers up at once, each case run
# on one then the other, the order swapped every pass. Cases: fio 64k sequential write (iodepth 32)
# and nfs-cp of 1 GiB up and down (contents compared).
#   BASE=/path/a.jar NEW=/path/b.jar PASSES=3 RT=10 bash ab-nfs2.sh
set -u
BASE=${BASE:?} NEW=${NEW:?} RT=${RT:-10} PASSES=${PASSES:-3} DIR=${DIR:-/tmp/nfs2-ab}
CASES=${CASES:-"write64k cp"}
mkdir -p $DIR && cd $DIR
port() { [ $1 = base ] && echo 13500 || echo 13600; }
start() { # name jar
	rm -rf data-$1
	local p; p=$(port $1)
	java -Xmx2g ${AB_JAVA_OPTS:-} -jar $2 serve --data-dir $DIR/data-$1 --iscsi-port $((p+1)) --nfs-port $((p+2)) --mount-port $((p+3)) --dtl-port $((p+4)) --portmap none >ab-$1.log 2>&1 &
	echo $! >ab-$1.pid
	for i in $(seq 120); do grep -q "vsa running" ab-$1.log && return; sleep 0.5; done
	echo "$1 did not start"; exit 1
}
# CPU seconds (user + system) the server has used so far
cpu() { awk -v t=$(getconf CLK_TCK) '{printf "%.2f", ($14 + $15) / t}' /proc/$(cat $DIR/ab-$1.pid)/stat; }
url() { local p; p=$(port $1); echo "nfs://127.0.0.1/default${2:+/$2}?version=3&nfsport=$((p+2))&mountport=$((p+3))"; }
trap 'for s in base new; do [ -f $DIR/ab-$s.pid ] && kill $(cat $DIR/ab-$s.pid) 2>/dev/null; done; sleep 3; rm -rf $DIR/data-base $DIR/data-new $DIR/ab-*.pid /dev/shm/ab2-cp.bin /dev/shm/ab2-back.bin' EXIT
start base $BASE
start new $NEW
head -c 1073741824 /dev/urandom >/dev/shm/ab2-cp.bin
for s in base new; do
	echo "prefill $s: $(fio-net --name=prefill --ioengine=nfs --nfs_url="$(url $s)" --filename=fio-1g.dat --rw=write --bs=1m --iodepth=1 --size=1024m --output-format=json | jq -r '.jobs[0].write.bw_bytes/1048576|floor') MiB/s"
done
for pass in $(seq $PASSES); do
	order=$([ $((pass % 2)) = 1 ] && echo "base new" || echo "new base")
	for c in $CASES; do
		for s in $order; do
			if [ $c = cp ]; then
				rm -f /dev/shm/ab2-back.bin
				u=$(url $s cp-$pass.bin)
				c0=$(cpu $s); t0=$(date +%s.%N); nfs-cp /dev/shm/ab2-cp.bin "$u" >/dev/null; t1=$(date +%s.%N); c1=$(cpu $s)
				nfs-cp "$u" /dev/shm/ab2-back.bin >/dev/null; t2=$(date +%s.%N); c2=$(cpu $s)
				cmp -s /dev/shm/ab2-cp.bin /dev/shm/ab2-back.bin && ok=same || ok=DIFFERENT
				echo "pass $pass nfs-cp $s: up $(echo "$t1 - $t0" | bc) s (server CPU $(echo "$c1 - $c0" | bc) s), down $(echo "$t2 - $t1" | bc) s (CPU $(echo "$c2 - $c1" | bc) s), $ok load=$(cut -d' ' -f1 /proc/loadavg)"
			else
				rw=${c%64k}; rw=${rw%4k}; bs=${c#$rw}
				c0=$(cpu $s)
				r=$(timeout $((RT + 60)) fio-net --name=$c --ioengine=nfs --nfs_url="$(url $s)" --filename=fio-1g.dat --rw=$rw --bs=$bs --iodepth=32 --size=1024m --runtime=$RT --time_based --ramp_time=2 --output-format=json 2>/dev/null | jq -r '.jobs[0] | (.read.iops + .write.iops | floor)')
				c1=$(cpu $s)
				# CPU per I/O over the whole run (ramp included): a rough but load-resistant figure
				echo "pass $pass $c $s iops=${r:-FAIL} server-CPU=$(echo "$c1 - $c0" | bc) s ($(awk -v c=$(echo "$c1 - $c0" | bc) -v i=${r:-0} -v t=$RT 'BEGIN{if (i > 0) printf "%.0f", c * 1e6 / (i * (t + 2)); else print "-"}') us per I/O) load=$(cut -d' ' -f1 /proc/loadavg)"
			fi
		done
	done
done
