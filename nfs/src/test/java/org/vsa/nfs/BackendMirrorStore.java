package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;
import org.vsa.nfs.MirrorStore;

/**
 * The NFS namespace mirror's view of an {@link ObjectStore}: the same calls, a missing object as
 * {@link MirrorStore.Missing}. The store is the caller's to close.
 */
final class BackendMirrorStore implements MirrorStore {
  private final ObjectStore store;

  BackendMirrorStore(ObjectStore store) {
    this.store = store;
  }

  @Override
  public void createNamespace(String namespace) throws IOException {
    store.createNamespace(namespace);
  }

  @Override
  public boolean namespaceExists(String namespace) throws IOException {
    return store.namespaceExists(namespace);
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    return store.list(namespace, prefix);
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    store.put(namespace, name, data);
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    try {
      return store.get(namespace, name);
    } catch (NoSuchObjectException e) {
      throw new Missing(e.getMessage(), e);
    }
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    try {
      store.read(namespace, name, offset, dst);
    } catch (NoSuchObjectException e) {
      throw new Missing(e.getMessage(), e);
    }
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    store.delete(namespace, name);
  }
}
