package org.vsa.appliance;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.OptionalLong;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.ForwardingBlockVolume;

/**
 * When each vDisk was last read or written over NFS. NFSv3 has no sessions and no open or close,
 * so "in use over NFS" can only mean "used lately": the management API refuses a rollback or a
 * deletion of a vDisk whose file saw I/O within {@link #IN_USE_NANOS}, as it refuses one that is a
 * LUN with logged-in iSCSI initiators.
 */
public final class NfsUse {

  /** How recent an NFS read, write or COMMIT of a vDisk file must be for it to count as in use. */
  public static final long IN_USE_NANOS = 60_000_000_000L;

  private final ConcurrentHashMap<String, AtomicLong> last = new ConcurrentHashMap<>();

  /** Nanoseconds since the vDisk's file was last used over NFS, if ever since the start. */
  public OptionalLong sinceLastUse(String vdisk) {
    AtomicLong t = last.get(vdisk);
    return t == null ? OptionalLong.empty() : OptionalLong.of(System.nanoTime() - t.get());
  }

  /** True if the vDisk's file was used over NFS within {@link #IN_USE_NANOS}. */
  public boolean inUse(String vdisk) {
    OptionalLong since = sinceLastUse(vdisk);
    return since.isPresent() && since.getAsLong() < IN_USE_NANOS;
  }

  /** The volume the NFS server gets: every call stamps the vDisk's last use, then goes through. */
  BlockVolume track(BlockVolume v) {
    return new Tracked(v, last.computeIfAbsent(v.name(), n -> new AtomicLong(System.nanoTime() - 2 * IN_USE_NANOS)));
  }

  /** Forgets a deleted vDisk (a new one of the same name starts unused). */
  void forget(String vdisk) {
    last.remove(vdisk);
  }

  /** Stamps every I/O call's time; everything else passes through ({@link ForwardingBlockVolume}). */
  private static final class Tracked extends ForwardingBlockVolume {
    private final BlockVolume v;
    private final AtomicLong stamp;

    Tracked(BlockVolume v, AtomicLong stamp) {
      this.v = v;
      this.stamp = stamp;
    }

    @Override
    protected BlockVolume delegate() {
      return v;
    }

    private void used() {
      stamp.lazySet(System.nanoTime());
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      used();
      v.read(offset, dst);
    }

    @Override
    public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
      used();
      v.write(offset, src, durability);
    }

    @Override
    public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
      used();
      return v.writeDeferred(offset, src, durability);
    }

    @Override
    public void flush() throws IOException {
      used();
      v.flush();
    }

    @Override
    public void unmap(long offset, long length) throws IOException {
      used();
      v.unmap(offset, length);
    }

    /** Equal when tracking the same volume with the same stamp (as the record it was). */
    @Override
    public boolean equals(Object o) {
      return o instanceof Tracked t && t.v.equals(v) && t.stamp == stamp;
    }

    @Override
    public int hashCode() {
      return v.hashCode() * 31 + System.identityHashCode(stamp);
    }
  }
}
