package org.vsa.appliance.metrics;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.concurrent.atomic.LongAdder;
import org.vsa.backends.ForwardingObjectStore;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;

/**
 * The backend as the engine gets it, counting puts, gets (whole and ranged) and failures. A
 * missing object is an answer, not a failure (the engine asks for objects that may be gone).
 * "Healthy" means the last call that reached the backend did not fail.
 */
public final class CountingObjectStore extends ForwardingObjectStore {
  private final ObjectStore delegate;
  private final String kind;
  private final LongAdder puts = new LongAdder();
  private final LongAdder gets = new LongAdder();
  private final LongAdder errors = new LongAdder();
  private volatile boolean lastFailed;

  public CountingObjectStore(ObjectStore delegate, String kind) {
    this.delegate = delegate;
    this.kind = kind;
  }

  @Override
  protected ObjectStore delegate() {
    return delegate;
  }

  /** local, s3 or fragment. */
  public String kind() {
    return kind;
  }

  public long puts() {
    return puts.sum();
  }

  public long gets() {
    return gets.sum();
  }

  public long errors() {
    return errors.sum();
  }

  public boolean healthy() {
    return !lastFailed;
  }

  @FunctionalInterface
  private interface Call<T> {
    T run() throws IOException;
  }

  private <T> T counted(Call<T> call) throws IOException {
    try {
      T t = call.run();
      lastFailed = false;
      return t;
    } catch (NoSuchObjectException e) {
      lastFailed = false;
      throw e;
    } catch (IOException | RuntimeException e) {
      errors.increment();
      lastFailed = true;
      throw e;
    }
  }

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    puts.increment();
    counted(() -> {
      delegate.put(namespace, name, source);
      return null;
    });
  }

  @Override
  public void putSealed(String namespace, String name, Path source) throws IOException {
    puts.increment();
    counted(() -> {
      delegate.putSealed(namespace, name, source);
      return null;
    });
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    puts.increment();
    counted(() -> {
      delegate.put(namespace, name, data);
      return null;
    });
  }

  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    puts.increment();
    return counted(() -> delegate.putIfAbsent(namespace, name, data));
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    gets.increment();
    counted(() -> {
      delegate.read(namespace, name, offset, dst);
      return null;
    });
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    gets.increment();
    return counted(() -> delegate.get(namespace, name));
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    return counted(() -> delegate.size(namespace, name));
  }

  @Override
  public boolean exists(String namespace, String name) throws IOException {
    return counted(() -> delegate.exists(namespace, name));
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    counted(() -> {
      delegate.delete(namespace, name);
      return null;
    });
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    return counted(() -> delegate.list(namespace, prefix));
  }

  @Override
  public String toString() {
    return delegate.toString();
  }
}
