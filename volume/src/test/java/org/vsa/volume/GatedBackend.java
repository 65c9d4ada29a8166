package org.vsa.volume;

import java.io.IOException;
import java.nio.file.Path;
import org.vsa.backends.ForwardingObjectStore;
import org.vsa.backends.ObjectStore;

/**
 * A backend whose puts can be held (a slow store) or failed (a dead store) until the test opens
 * the gate.
 */
final class GatedBackend extends ForwardingObjectStore {
  enum Mode { OPEN, HOLD, FAIL }

  private final ObjectStore delegate;
  private Mode mode = Mode.OPEN;
  private int putsRefused;

  GatedBackend(ObjectStore delegate) {
    this.delegate = delegate;
  }

  @Override
  protected ObjectStore delegate() {
    return delegate;
  }

  synchronized void set(Mode m) {
    mode = m;
    notifyAll();
  }

  synchronized int putsRefused() {
    return putsRefused;
  }

  private synchronized void gate() throws IOException {
    while (mode == Mode.HOLD) {
      try {
        wait();
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new java.io.InterruptedIOException("put interrupted while the backend was held");
      }
    }
    if (mode == Mode.FAIL) {
      putsRefused++;
      throw new IOException("backend unavailable (test)");
    }
  }

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    if (!name.equals("volume")) {
      gate();
    }
    super.put(namespace, name, source);
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    if (!name.equals("volume")) {
      gate();
    }
    super.put(namespace, name, data);
  }
}
