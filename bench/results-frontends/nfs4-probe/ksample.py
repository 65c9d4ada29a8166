#!/usr/bin/env python3
# ksample.py PID OUT: every 20 ms, for vsa's worker/commit/checkpoint/upload threads: state + top kernel frames
import os, sys, time
pid, out = sys.argv[1], open(sys.argv[2], "w")
keep = ("vsa-nfs", "commit", "checkp", "upload", "read-")
while os.path.exists(f"/proc/{pid}"):
    try:
        for t in os.listdir(f"/proc/{pid}/task"):
            b = f"/proc/{pid}/task/{t}"
            try:
                n = open(b + "/comm").read().strip().replace(" ", "_")
                if not n.startswith(keep): continue
                st = open(b + "/stat").read().rsplit(")", 1)[1].split()[0]
                if st == "S": 
                    out.write(f"{n} S\n"); continue
                k = [l.split()[1].split("+")[0] for l in open(b + "/stack").read().splitlines()[:5]]
                out.write(f"{n} {st} {' '.join(k)}\n")
            except OSError:
                pass
    except OSError:
        break
    time.sleep(0.02)
