package org.vsa.appliance.mgmt;

import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.dtl.DtlState;
import org.vsa.volume.Engine;
import org.vsa.volume.OfflineVdisk;
import org.vsa.volume.Volume;

/**
 * Turns changes of the engine's state into events, by looking at it every
 * {@value #PERIOD_MILLIS} ms (the data plane has no listener hooks and must not import the
 * appliance): a vDisk going offline or online, its DTL degraded or recovered, the write buffer
 * starting or stopping to throttle writers, SCO uploads failing or succeeding again. A change that
 * comes and goes between two looks is not seen (the log has every one).
 */
final class EngineWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(EngineWatcher.class);
  static final long PERIOD_MILLIS = 2000;

  private final Engine engine;
  private final EventLog events;
  private final ScheduledExecutorService timer;
  private final Map<String, DtlState> dtl = new HashMap<>();
  private final Set<String> offline = new HashSet<>();
  private long throttledCount;
  private boolean throttling;
  private long uploadFailures;
  private long uploaded;
  private boolean uploadsFailing;

  EngineWatcher(Engine engine, EventLog events, boolean start) {
    this.engine = engine;
    this.events = events;
    this.throttledCount = engine.writeBuffer().throttledCount();
    this.uploadFailures = engine.uploadFailures();
    this.uploaded = engine.scosUploaded();
    if (start) {
      timer = Executors.newSingleThreadScheduledExecutor(r -> {
        Thread t = new Thread(r, "mgmt-events");
        t.setDaemon(true);
        return t;
      });
      timer.scheduleWithFixedDelay(this::pollLogged, 0, PERIOD_MILLIS, TimeUnit.MILLISECONDS);
    } else {
      timer = null;
    }
  }

  private void pollLogged() {
    try {
      poll();
    } catch (RuntimeException e) {
      log.warn("event watcher: looking at the engine failed: {}", e.toString());
    }
  }

  /** One look at the engine; emits what changed since the last. */
  synchronized void poll() {
    Set<String> nowOffline = new HashSet<>();
    for (OfflineVdisk o : engine.offlineVdisks()) {
      nowOffline.add(o.name());
      if (offline.add(o.name())) {
        if (engine.waitsForLease(o.name())) {
          events.emit(EventLog.Severity.INFO, "vdisk.offline", o.name(), "vDisk " + o.name() + ": this node's copy"
              + " waits for the cluster (another node serves it, or this node has not claimed it yet)");
          continue;
        }
        events.emit(EventLog.Severity.ERROR, "vdisk.offline", o.name(), "vDisk " + o.name() + " is offline: " + o.reason());
      }
    }
    Set<String> online = new HashSet<>();
    for (Volume v : engine.volumes()) {
      online.add(v.name());
      if (offline.remove(v.name())) {
        events.emit(EventLog.Severity.INFO, "vdisk.online", v.name(), "vDisk " + v.name() + " is online again");
      }
      DtlState s = engine.dtlState(v.name()).orElse(null);
      DtlState before = dtl.put(v.name(), s);
      if (s == DtlState.DEGRADED && before != DtlState.DEGRADED) {
        events.emit(EventLog.Severity.WARNING, "dtl.degraded", v.name(), "vDisk " + v.name()
            + ": DTL degraded, writes are not protected against node loss: " + engine.dtlReason(v.name()).orElse(""));
      } else if (before == DtlState.DEGRADED && s != DtlState.DEGRADED && s != null) {
        events.emit(EventLog.Severity.INFO, "dtl.recovered", v.name(), "vDisk " + v.name() + ": DTL " + s.name());
      }
    }
    offline.retainAll(nowOffline);
    dtl.keySet().retainAll(online);

    long throttled = engine.writeBuffer().throttledCount();
    boolean now = engine.writeBuffer().isHolding() || throttled > throttledCount;
    throttledCount = throttled;
    if (now && !throttling) {
      events.emit(EventLog.Severity.WARNING, "writebuffer.throttling", "write buffer", "the write buffer slows writers down: "
          + engine.writeBuffer().usedBytes() + " of " + engine.writeBuffer().capacityBytes() + " bytes used");
    } else if (!now && throttling) {
      events.emit(EventLog.Severity.INFO, "writebuffer.throttling-stopped", "write buffer",
          "the write buffer no longer slows writers down");
    }
    throttling = now;

    long failures = engine.uploadFailures();
    long ups = engine.scosUploaded();
    if (failures > uploadFailures && !uploadsFailing) {
      uploadsFailing = true;
      events.emit(EventLog.Severity.WARNING, "backend.upload-failed", "backend", (failures - uploadFailures)
          + " SCO upload(s) to the backend failed (retried; the write buffer keeps the data)");
    } else if (uploadsFailing && failures == uploadFailures && ups > uploaded) {
      uploadsFailing = false;
      events.emit(EventLog.Severity.INFO, "backend.recovered", "backend", "SCO uploads to the backend succeed again");
    }
    uploadFailures = failures;
    uploaded = ups;
  }

  boolean uploadsFailing() {
    return uploadsFailing;
  }

  @Override
  public void close() {
    if (timer != null) {
      timer.shutdownNow();
    }
  }
}
