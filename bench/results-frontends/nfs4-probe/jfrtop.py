#!/usr/bin/env python3
"""Aggregate a JFR file's events in a time window: top frames / threads.
usage: jfrtop.py FILE.jfr EVENT HH:MM:SS HH:MM:SS [depth]"""
import json, subprocess, sys, collections
f, ev, t0, t1 = sys.argv[1:5]
depth = int(sys.argv[5]) if len(sys.argv) > 5 else 6
out = subprocess.run(["jfr", "print", "--json", "--events", ev, f], capture_output=True, text=True).stdout
data = json.loads(out)
evs = data["recording"]["events"]
thr = collections.Counter(); stk = collections.Counter(); dur = collections.Counter(); n = 0
for e in evs:
    v = e["values"]; st = v.get("startTime", "")
    hms = st[11:19]
    if not (t0 <= hms <= t1): continue
    n += 1
    th = (v.get("sampledThread") or v.get("eventThread") or {}).get("javaName", "?")
    thr[th] += 1
    frames = (v.get("stackTrace") or {}).get("frames", []) or []
    key = " < ".join(f'{fr["method"]["type"]["name"].split(".")[-1]}.{fr["method"]["name"]}:{fr.get("lineNumber")}' for fr in frames[:depth])
    stk[th.split(" ")[0].rstrip("0123456789-") + " | " + key] += 1
    d = v.get("duration")
    if d: dur[th] += 1
print("events", n)
for t, c in thr.most_common(25): print(f"{c:6d} {t}")
print("--- stacks")
for s, c in stk.most_common(40): print(f"{c:6d} {s}")
