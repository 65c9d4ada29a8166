package org.vsa.volume.remote;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.UUID;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;

/** A BlockVolume that passes every call to another; tests override what they hold back. */
class ForwardingVolume implements BlockVolume {
  final BlockVolume v;

  ForwardingVolume(BlockVolume v) {
    this.v = v;
  }

  @Override
  public String name() {
    return v.name();
  }

  @Override
  public UUID id() {
    return v.id();
  }

  @Override
  public long sizeBytes() {
    return v.sizeBytes();
  }

  @Override
  public int blockSize() {
    return v.blockSize();
  }

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    v.read(offset, dst);
  }

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    writeDeferred(offset, src, durability).await();
  }

  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    return v.writeDeferred(offset, src, durability);
  }

  @Override
  public void flush() throws IOException {
    v.flush();
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    v.unmap(offset, length);
  }
}
