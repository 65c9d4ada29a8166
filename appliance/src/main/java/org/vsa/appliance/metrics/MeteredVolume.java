package org.vsa.appliance.metrics;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.ForwardingBlockVolume;

/**
 * A vDisk as the front ends get it, counting its I/O into its {@link VdiskMeters}: iSCSI LUNs and
 * NFS files move the same meters. Every method of {@link BlockVolume}, the default ones too,
 * reaches the delegate ({@link ForwardingBlockVolume}: a default left to the interface would
 * silently turn off the fast path the engine implements, e.g. {@link #writeDeferred} or
 * {@code writesAtOnce}); MeteredVolumeTest checks this by reflection.
 *
 * <p>Latency is measured with {@link System#nanoTime()} around the call; a call that throws is
 * still counted (as an op, with no bytes) so that failing I/O shows in the rates.
 */
public final class MeteredVolume extends ForwardingBlockVolume {
  private final BlockVolume v;
  private final VdiskMeters m;

  MeteredVolume(BlockVolume v, VdiskMeters m) {
    this.v = v;
    this.m = m;
  }

  /** The volume this one counts for. */
  @Override
  public BlockVolume delegate() {
    return v;
  }

  VdiskMeters meters() {
    return m;
  }





  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    int bytes = dst.remaining();
    long t0 = System.nanoTime();
    boolean ok = false;
    try {
      v.read(offset, dst);
      ok = true;
    } finally {
      m.read(System.nanoTime() - t0, ok ? bytes : 0);
    }
  }

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    int bytes = src.remaining();
    long t0 = System.nanoTime();
    boolean ok = false;
    try {
      v.write(offset, src, durability);
      ok = true;
    } finally {
      m.write(System.nanoTime() - t0, ok ? bytes : 0);
    }
  }

  /**
   * Timed until this call returns (the write is visible to reads), not until its {@link Pending}
   * is awaited: the durability wait happens on the front end's other thread, after this call.
   */
  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    int bytes = src.remaining();
    long t0 = System.nanoTime();
    boolean ok = false;
    try {
      Pending p = v.writeDeferred(offset, src, durability);
      ok = true;
      return p;
    } finally {
      m.write(System.nanoTime() - t0, ok ? bytes : 0);
    }
  }



  @Override
  public void flush() throws IOException {
    m.flush();
    v.flush();
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    m.unmap();
    v.unmap(offset, length);
  }



  @Override
  public String toString() {
    return "metered " + v;
  }
}
