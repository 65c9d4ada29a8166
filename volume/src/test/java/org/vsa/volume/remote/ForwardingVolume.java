package org.vsa.volume.remote;

import java.io.IOException;
import java.nio.ByteBuffer;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.ForwardingBlockVolume;

/** A BlockVolume that passes every call to another; tests override what they hold back. */
class ForwardingVolume extends ForwardingBlockVolume {
  final BlockVolume v;

  ForwardingVolume(BlockVolume v) {
    this.v = v;
  }

  @Override
  protected BlockVolume delegate() {
    return v;
  }

  /** Through {@link #writeDeferred}, so that a test overriding that one holds back every write. */
  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    writeDeferred(offset, src, durability).await();
  }
}
