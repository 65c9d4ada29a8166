package org.vsa.backends;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;

/**
 * An {@link ObjectStore} that forwards every call to {@link #delegate()}: the base of decorators
 * (metrics, fault injection, latency in tests), so that they override only what they change.
 * Modelled on nfs4j's {@code ForwardingFileSystem}.
 */
public abstract class ForwardingObjectStore implements ObjectStore {

  protected abstract ObjectStore delegate();

  @Override
  public void dropCached(String namespace, String name) {
    delegate().dropCached(namespace, name);
  }

  @Override
  public void createNamespace(String namespace) throws IOException {
    delegate().createNamespace(namespace);
  }

  @Override
  public void deleteNamespace(String namespace) throws IOException {
    delegate().deleteNamespace(namespace);
  }

  @Override
  public boolean namespaceExists(String namespace) throws IOException {
    return delegate().namespaceExists(namespace);
  }

  @Override
  public List<String> listNamespaces() throws IOException {
    return delegate().listNamespaces();
  }

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    delegate().put(namespace, name, source);
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    delegate().put(namespace, name, data);
  }

  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    return delegate().putIfAbsent(namespace, name, data);
  }

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    delegate().read(namespace, name, offset, dst);
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    return delegate().get(namespace, name);
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    return delegate().size(namespace, name);
  }

  @Override
  public boolean exists(String namespace, String name) throws IOException {
    return delegate().exists(namespace, name);
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    delegate().delete(namespace, name);
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    return delegate().list(namespace, prefix);
  }

  @Override
  public void close() throws IOException {
    delegate().close();
  }

  @Override
  public String toString() {
    return getClass().getSimpleName() + "[" + delegate() + "]";
  }
}
