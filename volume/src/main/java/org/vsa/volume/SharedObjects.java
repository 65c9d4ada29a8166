package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;

/**
 * What a front end may keep in the shared object backend besides vDisks (the NFS namespace's
 * mirror): objects in named namespaces, put whole, read whole or by range, listed by prefix,
 * deleted. {@link #over} gives this view of an {@link ObjectStore}, so that a front end reaches the
 * backend only through the volume layer.
 * Names are {@code [A-Za-z0-9._-]{1,200}}. Implementations are thread-safe; errors are
 * {@link IOException}s, {@link Missing} when an object is not there.
 */
public interface SharedObjects {

  /** Creates the namespace if it does not exist yet. */
  void createNamespace(String namespace) throws IOException;

  boolean namespaceExists(String namespace) throws IOException;

  /** Names in the namespace that start with {@code prefix}, sorted. */
  List<String> list(String namespace, String prefix) throws IOException;

  /**
   * Stores {@code data} as {@code name}, atomically (a reader sees the old object or the new one,
   * never a mix) and durably: it returns once the object is durable in the store.
   */
  void put(String namespace, String name, byte[] data) throws IOException;

  /** Reads a whole object; {@link Missing} if there is none of that name. */
  byte[] get(String namespace, String name) throws IOException;

  /**
   * Fills {@code dst} from its position to its limit with the object's bytes from {@code offset}
   * on; {@link Missing} if there is no such object, {@link java.io.EOFException} if it ends before.
   */
  void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException;

  /** Deletes the object; no error when it does not exist. */
  void delete(String namespace, String name) throws IOException;

  /** This view of {@code store} (the caller's to close): the same calls, a missing object as {@link Missing}. */
  static SharedObjects over(ObjectStore store) {
    return new SharedObjects() {
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
    };
  }

  /** The object (or its namespace) does not exist. */
  final class Missing extends IOException {
    public Missing(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
