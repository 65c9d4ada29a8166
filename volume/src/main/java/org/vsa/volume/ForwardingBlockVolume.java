package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.UUID;

/**
 * A {@link BlockVolume} that passes every call, the default methods included, to {@link #delegate}:
 * the base of decorators (metering, use tracking, test gates), which override only what they
 * change. Forwarding the defaults matters: a decorator that inherited {@code writesAtOnce} or
 * {@code contentStamp} from the interface would silently turn off the delegate's fast paths.
 */
public abstract class ForwardingBlockVolume implements BlockVolume {

  /** The volume every call goes to. */
  protected abstract BlockVolume delegate();

  @Override
  public String name() {
    return delegate().name();
  }

  @Override
  public UUID id() {
    return delegate().id();
  }

  @Override
  public long sizeBytes() {
    return delegate().sizeBytes();
  }

  @Override
  public int blockSize() {
    return delegate().blockSize();
  }

  @Override
  public void read(long offset, ByteBuffer dst) throws IOException {
    delegate().read(offset, dst);
  }

  @Override
  public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
    delegate().write(offset, src, durability);
  }

  @Override
  public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
    return delegate().writeDeferred(offset, src, durability);
  }

  @Override
  public boolean writesAtOnce(long bytes) {
    return delegate().writesAtOnce(bytes);
  }

  @Override
  public long contentStamp() {
    return delegate().contentStamp();
  }

  @Override
  public void flush() throws IOException {
    delegate().flush();
  }

  @Override
  public void unmap(long offset, long length) throws IOException {
    delegate().unmap(offset, length);
  }

  @Override
  public boolean ready() {
    return delegate().ready();
  }

  @Override
  public boolean readOnly() {
    return delegate().readOnly();
  }
}
