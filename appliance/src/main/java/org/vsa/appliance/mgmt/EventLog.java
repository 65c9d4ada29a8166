package org.vsa.appliance.mgmt;

import java.time.Instant;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The appliance's recent events, in memory: a ring of the last {@value #CAPACITY} (older ones are
 * dropped; the log keeps them all). Ids grow by one from 1 within a run, so that a client asks for
 * what came after the last id it saw ({@code GET /api/v1/events?since=N}); a client whose id
 * is older than the ring's oldest sees {@code dropped} > 0. Not kept across restarts.
 */
public final class EventLog {
  private static final Logger log = LoggerFactory.getLogger(EventLog.class);
  public static final int CAPACITY = 1000;

  /** How bad: info (a change asked for or a recovery), warning (degraded, throttled), error (data at risk, offline). */
  public enum Severity { INFO, WARNING, ERROR }

  /**
   * One event.
   *
   * @param kind what happened, e.g. vdisk.created, dtl.degraded, writebuffer.throttling
   * @param subject what it happened to, e.g. the vDisk's name
   */
  public record Event(long id, Instant time, Severity severity, String kind, String subject, String message) {}

  /** Told of every event as it is recorded (e.g. the cluster, later); must not block. */
  public interface Listener {
    void onEvent(Event e);
  }

  private final ArrayDeque<Event> ring = new ArrayDeque<>();
  private final int capacity;
  private final List<Listener> listeners = new CopyOnWriteArrayList<>();
  private long nextId = 1;

  public EventLog() {
    this(CAPACITY);
  }

  EventLog(int capacity) {
    if (capacity < 1) {
      throw new IllegalArgumentException("event ring capacity must be positive; got " + capacity);
    }
    this.capacity = capacity;
  }

  public void addListener(Listener l) {
    listeners.add(l);
  }

  /** Records an event (and logs it); returns it. */
  public Event emit(Severity severity, String kind, String subject, String message) {
    Event e;
    synchronized (this) {
      e = new Event(nextId++, Instant.now(), severity, kind, subject, message);
      ring.addLast(e);
      while (ring.size() > capacity) {
        ring.removeFirst();
      }
    }
    switch (severity) {
      case ERROR -> log.error("event {} {} {}: {}", e.id(), kind, subject, message);
      case WARNING -> log.warn("event {} {} {}: {}", e.id(), kind, subject, message);
      default -> log.info("event {} {} {}: {}", e.id(), kind, subject, message);
    }
    for (Listener l : listeners) {
      try {
        l.onEvent(e);
      } catch (RuntimeException ex) {
        log.warn("event listener {} failed on event {}: {}", l, e.id(), ex.toString());
      }
    }
    return e;
  }

  /** The events after id {@code since}, oldest first, at most {@code limit}. */
  public synchronized List<Event> since(long since, int limit) {
    List<Event> out = new ArrayList<>();
    for (Event e : ring) {
      if (e.id() > since && out.size() < limit) {
        out.add(e);
      }
    }
    return out;
  }

  /** The id of the newest event, 0 if none. */
  public synchronized long lastId() {
    return nextId - 1;
  }

  /** The id of the oldest event still held, or lastId() + 1 when empty. */
  public synchronized long oldestId() {
    return ring.isEmpty() ? nextId : ring.peekFirst().id();
  }
}
