// Rates from two samples of cumulative counters (GET /api/v1/stats): per second over the
// time between the samples; latency = delta of the latency total / delta of the operations.
// A counter that went backwards (the appliance restarted) gives no rate for that interval.

export function rates(prev, cur, seconds) {
  const d = (k) => {
    const v = (cur[k] || 0) - (prev[k] || 0);
    return v < 0 ? null : v;
  };
  const readOps = d('readOps'), writeOps = d('writeOps');
  const readBytes = d('readBytes'), writeBytes = d('writeBytes');
  const readLat = d('readLatencyMicrosTotal'), writeLat = d('writeLatencyMicrosTotal');
  const per = (v) => (v === null || seconds <= 0 ? null : v / seconds);
  const lat = (total, ops) => (total === null || ops === null || ops === 0 ? null : total / ops / 1000);
  return {
    readIops: per(readOps), writeIops: per(writeOps),
    readMBps: per(readBytes === null ? null : readBytes / 1e6),
    writeMBps: per(writeBytes === null ? null : writeBytes / 1e6),
    readLatencyMs: lat(readLat, readOps), writeLatencyMs: lat(writeLat, writeOps),
  };
}
