package org.vsa.volume.remote;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * One {@link PeerClient} per peer, made on first use and kept (they reconnect by themselves), and
 * one {@link RemoteVolume} per vDisk and owner, for a catalog that hands out forwarded volumes on
 * every I/O: {@link #volume} is a map lookup once the vDisk was opened. When a volume throws
 * {@link NotOwnerException}, {@link #forget} it and ask the cluster for the owner again.
 */
public final class PeerClients implements Closeable {
  private final PeerClient.Config config;
  private final Map<InetSocketAddress, PeerClient> peers = new ConcurrentHashMap<>();
  private final Map<String, RemoteVolume> volumes = new ConcurrentHashMap<>();
  private volatile boolean closed;

  public PeerClients(PeerClient.Config config) {
    this.config = config;
  }

  /** The connection to {@code owner} (made on first use). */
  public PeerClient peer(InetSocketAddress owner) throws IOException {
    if (closed) {
      throw new IOException("forwarding clients closed");
    }
    return peers.computeIfAbsent(owner, a -> new PeerClient(a, config));
  }

  /**
   * {@code vdisk} as served by {@code owner}: the volume opened before if it was for that owner,
   * else a new one (one round trip to the owner).
   */
  public RemoteVolume volume(String vdisk, InetSocketAddress owner) throws IOException {
    RemoteVolume v = volumes.get(vdisk);
    if (v != null && v.peer().peer().equals(owner)) {
      return v;
    }
    RemoteVolume opened = peer(owner).open(vdisk);
    volumes.put(vdisk, opened);
    return opened;
  }

  /** Drops the vDisk's volume (its owner moved); the next {@link #volume} opens it again. */
  public void forget(String vdisk) {
    volumes.remove(vdisk);
  }

  @Override
  public void close() {
    closed = true;
    volumes.clear();
    peers.values().forEach(PeerClient::close);
    peers.clear();
  }
}
