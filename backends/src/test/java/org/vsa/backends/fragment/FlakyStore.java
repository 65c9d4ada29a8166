package org.vsa.backends.fragment;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import org.vsa.backends.ForwardingObjectStore;
import org.vsa.backends.ObjectStore;

/** A store that can be switched off: every call then fails as a dead disk or node would. */
public final class FlakyStore extends ForwardingObjectStore {
  /** The state of one simulated disk, shared by every store opened over it. */
  public static final class Switch {
    public volatile boolean down;
    /** Only puts fail (a full disk). */
    public volatile boolean putsFail;
    /** Run (once) before the next ranged read reaches the disk: lets a test replace an object under a reader. */
    public volatile IORunnable beforeRead;
    /** Runs before every put reaches the disk, with the object's name. */
    public volatile NameHook beforePut;
    /** Runs after every put has reached the disk (it may throw: a failure reported after the fact). */
    public volatile NameHook afterPut;
    /** Runs before every whole-object get reaches the disk, with the object's name. */
    public volatile NameHook beforeGet;
    /** Runs before every ranged read reaches the disk, with the object's name. */
    public volatile NameHook beforeEachRead;
  }

  /** A test action on one object name. */
  @FunctionalInterface
  public interface NameHook {
    void run(String name) throws IOException;
  }

  /** A test action that may fail as store calls do. */
  @FunctionalInterface
  public interface IORunnable {
    void run() throws IOException;
  }

  private final ObjectStore delegate;
  private final Switch sw;

  public FlakyStore(ObjectStore delegate, Switch sw) {
    this.delegate = delegate;
    this.sw = sw;
  }

  @Override
  protected ObjectStore delegate() {
    return delegate;
  }

  private void check() throws IOException {
    if (sw.down) {
      throw new IOException("store is down (test)");
    }
  }

  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    check();
    if (sw.putsFail) {
      throw new IOException("disk full (test)");
    }
    return super.putIfAbsent(namespace, name, data);
  }

  @Override
  public void createNamespace(String namespace) throws IOException {
    check();
    super.createNamespace(namespace);
  }

  @Override
  public void deleteNamespace(String namespace) throws IOException {
    check();
    super.deleteNamespace(namespace);
  }

  @Override
  public boolean namespaceExists(String namespace) throws IOException {
    check();
    return super.namespaceExists(namespace);
  }

  @Override
  public List<String> listNamespaces() throws IOException {
    check();
    return super.listNamespaces();
  }

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    check();
    if (sw.putsFail) {
      throw new IOException("no space left on device (test)");
    }
    super.put(namespace, name, source);
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    check();
    if (sw.putsFail) {
      throw new IOException("no space left on device (test)");
    }
    NameHook before = sw.beforePut;
    if (before != null) {
      before.run(name);
    }
    super.put(namespace, name, data);
    NameHook after = sw.afterPut;
    if (after != null) {
      after.run(name);
    }
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    check();
    IORunnable hook = sw.beforeRead;
    if (hook != null) {
      sw.beforeRead = null;
      hook.run();
    }
    NameHook each = sw.beforeEachRead;
    if (each != null) {
      each.run(name);
    }
    super.read(namespace, name, offset, dst);
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    check();
    NameHook before = sw.beforeGet;
    if (before != null) {
      before.run(name);
    }
    return super.get(namespace, name);
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    check();
    return super.size(namespace, name);
  }

  @Override
  public boolean exists(String namespace, String name) throws IOException {
    check();
    return super.exists(namespace, name);
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    check();
    super.delete(namespace, name);
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    check();
    return super.list(namespace, prefix);
  }
}
