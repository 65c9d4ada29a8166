package org.vsa.iscsi.scsi;

import java.util.concurrent.locks.ReentrantReadWriteLock;
import org.vsa.volume.BlockVolume;

/**
 * A LUN of a target: its volume and the SCSI state kept per logical unit.
 *
 * <p>{@link #writeLock} makes COMPARE AND WRITE atomic against every other write: ordinary
 * writes hold its read side (they still run concurrently with each other), COMPARE AND WRITE
 * holds the write side.
 */
public final class LogicalUnit {
  private final int lun;
  private final BlockVolume volume;
  private final String targetIqn;
  final ReentrantReadWriteLock writeLock = new ReentrantReadWriteLock();
  final Reservations reservations;
  /** Results of the EXTENDED COPY commands sent to this LU, for RECEIVE COPY RESULTS. */
  final CopyResults copyResults = new CopyResults();
  volatile boolean writeCacheEnabled = true;
  /** Aborts other sessions' tasks (PREEMPT AND ABORT); set by the target that owns the LU. */
  public interface TaskAborter {
    /**
     * Aborts every task of the nexuses on the LUN and waits, bounded, until those that were
     * running have finished. False if they did not finish in time.
     */
    boolean abortTasksOf(java.util.Collection<String> nexuses, int lun);
  }

  private volatile TaskAborter aborter = (nexuses, lun) -> true;

  public void aborter(TaskAborter a) {
    this.aborter = a;
  }

  boolean abortTasksOf(java.util.Collection<String> nexuses) {
    return aborter.abortTasksOf(nexuses, lun);
  }

  /** Unit attention conditions by I_T nexus: one pending condition each, the newest wins. */
  private final java.util.concurrent.ConcurrentHashMap<String, Integer> unitAttentions =
      new java.util.concurrent.ConcurrentHashMap<>();

  /** @param reservationsFile where persistent reservations are kept; null: in memory only */
  public LogicalUnit(String targetIqn, int lun, BlockVolume volume, java.nio.file.Path reservationsFile) {
    this.reservations = new Reservations(reservationsFile);
    this.targetIqn = targetIqn;
    this.lun = lun;
    this.volume = volume;
  }

  public int lun() {
    return lun;
  }

  public BlockVolume volume() {
    return volume;
  }

  public String targetIqn() {
    return targetIqn;
  }

  public Reservations reservations() {
    return reservations;
  }

  /** Establishes a unit attention condition (ASC/ASCQ as in {@link Sense}) for the nexus. */
  public void unitAttention(String nexus, int ascq) {
    unitAttentions.put(nexus, ascq);
  }

  /** Takes the nexus's pending unit attention condition, or -1 if it has none. */
  int takeUnitAttention(String nexus) {
    Integer ua = unitAttentions.remove(nexus);
    return ua == null ? -1 : ua;
  }

  /** The nexus is gone (logout, dropped connection): a new one starts without its conditions. */
  public void nexusLost(String nexus) {
    unitAttentions.remove(nexus);
    reservations.nexusLost(nexus);
  }
}
