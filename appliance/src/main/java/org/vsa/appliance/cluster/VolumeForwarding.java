package org.vsa.appliance.cluster;

import java.io.Closeable;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.util.Optional;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.appliance.config.ApplianceConfig;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;
import org.vsa.volume.Engine;
import org.vsa.volume.ForwardingBlockVolume;
import org.vsa.volume.VolumeFencedException;
import org.vsa.volume.remote.NotOwnerException;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * This node's forward server ({@link RemoteVolumeServer}): the other nodes' front ends send the
 * I/O of the vDisks this node serves here. It exports a vDisk only while the directory names this
 * node its owner and the engine has it; it answers NOT_OWNER for any other, and also when the
 * engine fenced the vDisk (its lease ran out), so that the caller asks the cluster for the owner
 * again and its NFS client is told to retry rather than given an I/O error.
 *
 * <p>Started before the cluster's membership (its address is the member attribute
 * {@code vsa.endpoint.volume}), it exports nothing until {@link #serve} hands it the directory.
 */
public final class VolumeForwarding implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(VolumeForwarding.class);

  private final Engine engine;
  private volatile ClusterDirectory directory;
  private RemoteVolumeServer server;

  private VolumeForwarding(Engine engine) {
    this.engine = engine;
  }

  /** Listens on {@code node.bindAddress}, port {@code cluster.volumePort}. */
  public static VolumeForwarding start(ApplianceConfig config, Engine engine) throws IOException {
    return start(RemoteVolumeServer.Config.defaults()
        .withBindAddress(config.node().bindAddress().getHostAddress())
        .withPort(config.cluster().volumePort()), engine);
  }

  public static VolumeForwarding start(RemoteVolumeServer.Config config, Engine engine) throws IOException {
    VolumeForwarding f = new VolumeForwarding(engine);
    f.server = RemoteVolumeServer.start(config, f.new Exported());
    log.info("forward server for the other nodes listening on {}", f.server.localAddress());
    return f;
  }

  /** The iSCSI sessions on this node that use a vDisk (none: not in use), said in INFO replies. */
  private volatile java.util.function.Function<String, java.util.List<String>> sessions = v -> java.util.List.of();

  /** What tells whether a vDisk is in use here: the iSCSI sessions that use it. */
  public void inUseBy(java.util.function.Function<String, java.util.List<String>> sessionsOf) {
    this.sessions = sessionsOf;
  }

  /** From now on, exports the vDisks {@code directory} says this node serves. */
  public void serve(ClusterDirectory directory) {
    this.directory = directory;
  }

  public InetSocketAddress localAddress() {
    return server.localAddress();
  }

  /**
   * {@code host:port}, the value of the member attribute {@code vsa.endpoint.volume}, written as
   * the other endpoints are (the bound address, unbracketed; the port after the last colon).
   */
  public String endpoint() {
    InetSocketAddress a = server.localAddress();
    return a.getAddress().getHostAddress() + ":" + a.getPort();
  }

  @Override
  public void close() {
    server.close();
  }

  private final class Exported implements RemoteVolumeServer.Exports {
    @Override
    public Optional<BlockVolume> lookup(String vdisk) {
      ClusterDirectory d = directory;
      if (d == null || !d.owner(vdisk).map(d.self()::equals).orElse(false)) {
        return Optional.empty();
      }
      return engine.handle(vdisk).map(v -> new FencedIsNotOwner(vdisk, v));
    }

    /** An initiator is logged in to it here (a deletion asked through another node is refused). */
    @Override
    public boolean inUse(String vdisk) {
      try {
        return !sessions.apply(vdisk).isEmpty();
      } catch (RuntimeException e) {
        log.warn("vDisk {}: its iSCSI sessions cannot be listed ({}); answered as in use", vdisk, e.toString());
        return true;
      }
    }

    /** The ownership epoch: a new one means the vDisk was taken over, and its buffered writes may be gone. */
    @Override
    public long generation(String vdisk) {
      return engine.dtlEpoch(vdisk);
    }

    @Override
    public BlockVolume resize(String vdisk, long sizeBytes) throws IOException {
      engine.resize(vdisk, sizeBytes);
      BlockVolume v = engine.handle(vdisk).orElseThrow(() -> new NotOwnerException(vdisk, "vDisk " + vdisk
          + " vanished during a resize"));
      return new FencedIsNotOwner(vdisk, v);
    }
  }

  /** The engine's handle, with {@link VolumeFencedException} answered as NOT_OWNER (nothing acknowledged). */
  private static final class FencedIsNotOwner extends ForwardingBlockVolume {
    private final String vdisk;
    private final BlockVolume v;

    FencedIsNotOwner(String vdisk, BlockVolume v) {
      this.vdisk = vdisk;
      this.v = v;
    }

    @Override
    protected BlockVolume delegate() {
      return v;
    }

    private NotOwnerException notOwner(VolumeFencedException e) {
      NotOwnerException n = new NotOwnerException(vdisk, e.getMessage());
      n.initCause(e);
      return n;
    }

    @Override
    public void read(long offset, ByteBuffer dst) throws IOException {
      try {
        v.read(offset, dst);
      } catch (VolumeFencedException e) {
        throw notOwner(e);
      }
    }

    @Override
    public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
      try {
        v.write(offset, src, durability);
      } catch (VolumeFencedException e) {
        throw notOwner(e);
      }
    }

    @Override
    public Pending writeDeferred(long offset, ByteBuffer src, Durability durability) throws IOException {
      Pending p;
      try {
        p = v.writeDeferred(offset, src, durability);
      } catch (VolumeFencedException e) {
        throw notOwner(e);
      }
      if (p == Pending.NONE) {
        return p;
      }
      return () -> {
        try {
          p.await();
        } catch (VolumeFencedException e) {
          throw notOwner(e);
        }
      };
    }

    @Override
    public void flush() throws IOException {
      try {
        v.flush();
      } catch (VolumeFencedException e) {
        throw notOwner(e);
      }
    }

    @Override
    public void unmap(long offset, long length) throws IOException {
      try {
        v.unmap(offset, length);
      } catch (VolumeFencedException e) {
        throw notOwner(e);
      }
    }
  }
}
