package org.vsa.appliance.metrics;

import io.micrometer.core.instrument.Counter;
import io.micrometer.core.instrument.Meter;
import io.micrometer.core.instrument.MeterRegistry;
import io.micrometer.core.instrument.Tags;
import io.micrometer.core.instrument.Timer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

/**
 * One vDisk's I/O meters, tagged {@code vdisk}, {@code vpool} and {@code op}: a latency timer per
 * read and write (with a percentile histogram, so that Prometheus can compute quantiles over any
 * set of vDisks), bytes per read and write, and counts of flushes and unmaps.
 */
final class VdiskMeters {
  final String vdisk;
  final String vpool;
  private final Timer read;
  private final Timer write;
  private final Counter readBytes;
  private final Counter writeBytes;
  private final Counter flushes;
  private final Counter unmaps;
  /** Every meter registered for this vDisk (these and the engine's), removed together. */
  final List<Meter> meters = new ArrayList<>();

  VdiskMeters(MeterRegistry registry, String vdisk, String vpool) {
    this.vdisk = vdisk;
    this.vpool = vpool;
    Tags tags = Tags.of("vdisk", vdisk, "vpool", vpool);
    read = timer(registry, tags.and("op", "read"));
    write = timer(registry, tags.and("op", "write"));
    readBytes = add(Counter.builder("vsa.vdisk.io.bytes").baseUnit("bytes").description("bytes read or written")
        .tags(tags.and("op", "read")).register(registry));
    writeBytes = add(Counter.builder("vsa.vdisk.io.bytes").baseUnit("bytes").description("bytes read or written")
        .tags(tags.and("op", "write")).register(registry));
    flushes = add(Counter.builder("vsa.vdisk.ops").description("flushes and unmaps")
        .tags(tags.and("op", "flush")).register(registry));
    unmaps = add(Counter.builder("vsa.vdisk.ops").description("flushes and unmaps")
        .tags(tags.and("op", "unmap")).register(registry));
  }

  private Timer timer(MeterRegistry registry, Tags tags) {
    return add(Timer.builder("vsa.vdisk.io").description("reads and writes and their latency")
        .tags(tags)
        .publishPercentileHistogram()
        .minimumExpectedValue(Duration.ofNanos(10_000))
        .maximumExpectedValue(Duration.ofSeconds(10))
        .register(registry));
  }

  <M extends Meter> M add(M meter) {
    synchronized (meters) {
      meters.add(meter);
    }
    return meter;
  }

  void read(long nanos, long bytes) {
    read.record(nanos, TimeUnit.NANOSECONDS);
    readBytes.increment(bytes);
  }

  void write(long nanos, long bytes) {
    write.record(nanos, TimeUnit.NANOSECONDS);
    writeBytes.increment(bytes);
  }

  void flush() {
    flushes.increment();
  }

  void unmap() {
    unmaps.increment();
  }

  /** Cumulative figures for {@code /api/v1/stats}. */
  IoTotals totals() {
    return new IoTotals(read.count(), write.count(), (long) readBytes.count(), (long) writeBytes.count(),
        (long) read.totalTime(TimeUnit.MICROSECONDS), (long) write.totalTime(TimeUnit.MICROSECONDS));
  }

  /** What /api/v1/stats shows of a vDisk or a vPool. */
  record IoTotals(long readOps, long writeOps, long readBytes, long writeBytes, long readLatencyMicrosTotal,
      long writeLatencyMicrosTotal) {
    static final IoTotals ZERO = new IoTotals(0, 0, 0, 0, 0, 0);

    IoTotals plus(IoTotals o) {
      return new IoTotals(readOps + o.readOps, writeOps + o.writeOps, readBytes + o.readBytes,
          writeBytes + o.writeBytes, readLatencyMicrosTotal + o.readLatencyMicrosTotal,
          writeLatencyMicrosTotal + o.writeLatencyMicrosTotal);
    }
  }
}
