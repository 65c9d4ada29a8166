package org.vsa.volume.remote;

import io.netty.buffer.ByteBuf;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.VolumeOfflineException;

/**
 * A vDisk owned by another node, reached through its {@link RemoteVolumeServer}: every
 * {@link BlockVolume} call is forwarded to the owner over the {@link PeerClient}'s connection, and
 * returns with the owner's answer.
 *
 * <ul>
 *   <li>A {@code DURABLE} write and a {@link #flush} return only once the owner has made them
 *       durable (its final reply); {@link #writeDeferred} returns once the owner has made the write
 *       visible to reads, and its {@link Pending} waits for that final reply.
 *   <li>Reads and writes larger than 1 MiB go as several requests, in flight together.
 *   <li>{@link NotOwnerException}: the peer no longer serves the vDisk; resolve its owner again.
 *       {@link VolumeOfflineException}: it is offline on its owner. Arguments the owner refuses
 *       (unaligned, past the end) throw {@link IllegalArgumentException}, as a local volume does.
 *       {@link PeerUnavailableException}: the owner could not be reached or stopped answering
 *       (bounded by the connect and request timeouts); the outcome is unknown.
 *   <li>Size, block size, identity, read-only and ready are those the owner reported with its last
 *       answer (each answer carries them): {@link #refresh} asks anew.
 *   <li>{@link #contentStamp()} is 0 (unknown): another node's writes are not seen here, so a
 *       front end never reads ahead on a forwarded vDisk. {@link #writesAtOnce} is false: a
 *       forwarded write always waits for the network.
 *   <li>{@code BUFFERED} writes live in the owner's memory until its next flush. If the answers
 *       since the last flush came from another owner session than the flush's (the owner
 *       restarted, or another incarnation of the vDisk answered), {@link #flush} throws
 *       {@link WritesLostException}: they may be gone.
 * </ul>
 */
public final class RemoteVolume implements BlockVolume {
  private final PeerClient peer;
  private final String name;
  private volatile PeerClient.State state;
  /** Sessions that acknowledged BUFFERED writes since the last flush: 0 none, -1 more than one. */
  private long unflushedSession;

  RemoteVolume(PeerClient peer, String name) {
    this.peer = peer;
    this.name = name;
  }

  /** Asks the owner for the vDisk's current size, block size and identity. */
  public void refresh() throws IOException {
    call(Wire.INFO, payload(0), 0, false);
  }

  /** Asks the owner whether the vDisk is in use there (an initiator logged in to it, see {@link RemoteVolumeServer.Exports#inUse}). */
  public boolean inUse() throws IOException {
    refresh();
    return state().inUse();
  }

  /** The peer this vDisk is forwarded to. */
  public PeerClient peer() {
    return peer;
  }

  @Override
  public String name() {
    return name;
  }

  @Override
  public UUID id() {
    return state().id();
  }

  @Override
  public long sizeBytes() {
    return state().sizeBytes();
  }

  @Override
  public int blockSize() {
    return state().blockSize();
  }

  @Override
  public boolean ready() {
    return state().ready();
  }

  @Override
  public boolean readOnly() {
    return state().readOnly();
  }

  @Override
  public long contentStamp() {
    return 0;
  }

  @Override
  public boolean writesAtOnce(long bytes) {
    return false;
  }

  private PeerClient.State state() {
    PeerClient.State s = state;
    if (s == null) {
      throw new IllegalStateException("vDisk " + name + ": not opened");
    }
    return s;
  }

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    List<PeerClient.Call> calls = new ArrayList<>();
    try {
      for (int at = 0; at < dst.remaining(); at += Wire.MAX_IO_BYTES) {
        int len = Math.min(Wire.MAX_IO_BYTES, dst.remaining() - at);
        ByteBuf p = payload(12);
        p.writeLong(offset + at).writeInt(len);
        calls.add(peer.send(Wire.READ, p, len));
      }
      for (PeerClient.Call c : calls) {
        PeerClient.Reply r = check(peer.await(c.done));
        dst.put(r.data());
      }
    } finally {
      calls.forEach(c -> c.fail(new IOException("abandoned")));
    }
  }

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    writeDeferred(offset, src, durability).await();
  }

  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    List<PeerClient.Call> calls = new ArrayList<>();
    int total = src.remaining();
    boolean ok = false;
    try {
      for (int at = 0; at < total; at += Wire.MAX_IO_BYTES) {
        int len = Math.min(Wire.MAX_IO_BYTES, total - at);
        ByteBuf p = payload(9 + len);
        p.writeLong(offset + at).writeByte(durability == Durability.DURABLE ? 0 : 1);
        ByteBuffer chunk = src.slice(src.position() + at, len);
        p.writeBytes(chunk);
        calls.add(peer.send(Wire.WRITE, p, len));
      }
      for (PeerClient.Call c : calls) {
        check(peer.await(c.visible));
      }
      src.position(src.position() + total);
      ok = true;
    } finally {
      if (!ok) {
        calls.forEach(c -> c.fail(new IOException("abandoned")));
      }
    }
    return () -> {
      for (PeerClient.Call c : calls) {
        PeerClient.Reply r = check(peer.await(c.done));
        if (durability == Durability.BUFFERED) {
          unflushed(r.state().session());
        }
      }
    };
  }

  @Override
  public void flush() throws IOException {
    long before;
    synchronized (this) {
      before = unflushedSession;
    }
    PeerClient.Reply r = call(Wire.FLUSH, payload(0), 0, false);
    long now = r.state().session();
    synchronized (this) {
      long during = unflushedSession;
      // writes acknowledged while the flush ran may or may not be covered: they stay counted
      unflushedSession = during == before ? 0 : during;
      if (before != 0 && before != now) {
        throw new WritesLostException(name, "vDisk " + name + ": buffered writes since the last flush were "
            + "acknowledged by another session of its owner than the one that flushed (the owner restarted or the vDisk "
            + "moved): they may be lost");
      }
    }
  }

  private synchronized void unflushed(long session) {
    if (unflushedSession == 0) {
      unflushedSession = session;
    } else if (unflushedSession != session) {
      unflushedSession = -1;
    }
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    ByteBuf p = payload(16);
    p.writeLong(offset).writeLong(length);
    PeerClient.Reply r = call(Wire.UNMAP, p, 0, false);
    unflushed(r.state().session());
  }

  /**
   * Resizes the vDisk on its owner (thinly). {@code growOnly}: only if it is smaller than
   * {@code sizeBytes} there, so that a size seen here a moment ago never shrinks it.
   */
  public void resize(long sizeBytes, boolean growOnly) throws IOException {
    ByteBuf p = payload(9);
    p.writeLong(sizeBytes).writeByte(growOnly ? 1 : 0);
    call(Wire.RESIZE, p, 0, false);
  }

  private ByteBuf payload(int extra) {
    ByteBuf p = peer.alloc().buffer(2 + name.length() * 3 + extra);
    try {
      Wire.putName(p, name);
    } catch (RuntimeException e) {
      p.release();
      throw e;
    }
    return p;
  }

  private PeerClient.Reply call(int type, ByteBuf payload, int ioBytes, boolean visibleOnly) throws IOException {
    PeerClient.Call c = peer.send(type, payload, ioBytes);
    return check(peer.await(visibleOnly ? c.visible : c.done));
  }

  /** The reply if OK (its state noted); otherwise the exception its status stands for. */
  private PeerClient.Reply check(PeerClient.Reply r) throws IOException {
    switch (r.status()) {
      case OK -> {
        state = r.state();
        return r;
      }
      case NOT_OWNER -> throw new NotOwnerException(name, r.message() + " (" + peer.peer() + ")");
      case OFFLINE -> throw new VolumeOfflineException(name, r.message());
      case BAD_REQUEST -> throw new IllegalArgumentException(r.message());
      default -> throw new IOException(r.message());
    }
  }

  @Override
  public String toString() {
    return "vDisk " + name + " at " + peer.peer();
  }
}
