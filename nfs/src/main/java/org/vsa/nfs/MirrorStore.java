package org.vsa.nfs;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;

/**
 * What {@link NamespaceMirror} needs of the shared object backend: objects in named namespaces,
 * put whole, read whole or by range, listed by prefix, deleted. The appliance adapts its backend
 * to it where it builds the mirror, so that the front end does not reach the backend otherwise.
 * Names are {@code [A-Za-z0-9._-]{1,200}}. Implementations are thread-safe; errors are
 * {@link IOException}s, {@link Missing} when an object is not there.
 */
public interface MirrorStore {

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

  /** The object (or its namespace) does not exist. */
  final class Missing extends IOException {
    public Missing(String message, Throwable cause) {
      super(message, cause);
    }
  }
}
