package org.vsa.backends;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * An object store that holds a vDisk's SCOs and TLogs, one namespace per vDisk.
 *
 * <p>Objects are immutable once put: a put of an existing name replaces it atomically (a reader
 * sees the old object or the new one, never a mix). A put returns only once the object is
 * durable in the store. Names are {@code [A-Za-z0-9._-]{1,200}}; namespaces likewise.
 *
 * <p>Implementations are thread-safe. Errors are {@link IOException}s:
 * {@link NoSuchObjectException} when the object or namespace is missing, plain IOException when
 * the store itself is in trouble (a caller may retry those).
 */
public interface ObjectStore extends AutoCloseable {

  /** Creates the namespace if it does not exist yet. */
  void createNamespace(String namespace) throws IOException;

  /** Deletes the namespace and every object in it; no error when it does not exist. */
  void deleteNamespace(String namespace) throws IOException;

  boolean namespaceExists(String namespace) throws IOException;

  List<String> listNamespaces() throws IOException;

  /** Stores the whole content of {@code source} as {@code name}, atomically and durably. */
  void put(String namespace, String name, Path source) throws IOException;

  /**
   * Stores a file that will never change again as {@code name}, atomically and durably, like
   * {@link #put(String, String, Path)}. The caller promises that nothing writes to, truncates or
   * replaces the file in place from now on (deleting or renaming it is fine), so a store on the same
   * file system may take the file itself (a hard link) instead of copying its bytes. The engine
   * uses it for sealed SCOs; by default it is a plain put.
   */
  default void putSealed(String namespace, String name, Path source) throws IOException {
    put(namespace, name, source);
  }

  /** Stores {@code data} as {@code name}, atomically and durably. */
  void put(String namespace, String name, byte[] data) throws IOException;

  /**
   * Creates {@code name} with {@code data} only if no object of that name exists: an atomic
   * create. Of several callers racing on one name (threads, processes, nodes sharing the store)
   * exactly one gets true; the others get false, now and ever after while the object exists. True
   * is returned only once the object is durable, like a put. An IOException leaves the outcome
   * unknown (the object may or may not have been created by this call): a caller that must know
   * puts bytes of its own (its node id, a nonce) and reads the object back. The cluster's
   * ownership arbiter is built on this (a claim of epoch e is the creation of its claim object).
   *
   * <p>A store that cannot create atomically throws {@link UnsupportedOperationException}; it
   * never falls back to a check-then-put.
   */
  default boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    throw new UnsupportedOperationException(getClass().getSimpleName() + " cannot create objects atomically");
  }

  /**
   * A hint that the object's bytes need not stay in this node's page cache: a store on the local
   * file system lets the kernel free those pages now (the engine says so for SCOs its writes have
   * mostly overwritten, so that new writes reuse memory instead of taking fresh pages). Never
   * fails; does nothing where there is nothing to free.
   */
  default void dropCached(String namespace, String name) {}

  /**
   * Ranged read: fills {@code dst} from its position to its limit with the object's bytes from
   * {@code offset} on. Throws {@link java.io.EOFException} if the object ends before.
   */
  void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException;

  /** Reads a whole object. */
  byte[] get(String namespace, String name) throws IOException;

  /** The object's size in bytes. */
  long size(String namespace, String name) throws IOException;

  boolean exists(String namespace, String name) throws IOException;

  /** Deletes the object; no error when it does not exist. */
  void delete(String namespace, String name) throws IOException;

  /** Names in the namespace that start with {@code prefix}, sorted. */
  List<String> list(String namespace, String prefix) throws IOException;

  @Override
  void close() throws IOException;
}
