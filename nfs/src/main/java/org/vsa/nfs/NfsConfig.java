package org.vsa.nfs;

import java.nio.file.Path;
import java.util.HashSet;
import java.util.List;
import java.util.Set;

/**
 * How the NFS server runs.
 *
 * @param bindAddress IP literal to listen on (NFS and MOUNT)
 * @param nfsPort NFS program port (2049 by default); 0 picks an ephemeral one
 * @param mountPort MOUNT program port (20048 by default); 0 picks an ephemeral one
 * @param portmap whether to register with a portmapper on port 111
 * @param exports one per vPool
 * @param namespaceDir directory on local flash holding each vPool's namespace journal and small
 *     files ({@code <namespaceDir>/<vpool>/})
 * @param vdiskPatterns glob patterns of file names backed by a vDisk rather than a small file
 * @param vdiskThresholdBytes a small file growing past this becomes a vDisk (0: never)
 * @param workerThreads threads running NFS procedures
 */
public record NfsConfig(
    String bindAddress,
    int nfsPort,
    int mountPort,
    Portmap portmap,
    List<Export> exports,
    Path namespaceDir,
    List<String> vdiskPatterns,
    long vdiskThresholdBytes,
    int workerThreads) {

  public static final int DEFAULT_NFS_PORT = 2049;
  public static final int DEFAULT_MOUNT_PORT = 20048;
  public static final List<String> DEFAULT_VDISK_PATTERNS = List.of("*.raw", "*-flat.vmdk", "*.img", "*.qcow2");
  public static final long DEFAULT_VDISK_THRESHOLD_BYTES = 64L << 20;

  /** Portmapper (rpcbind) handling. */
  public enum Portmap {
    /** Neither register nor embed: clients must be told the ports (libnfs {@code nfsport=}/{@code mountport=}). */
    NONE,
    /** Register with the portmapper on 111; start an embedded one there first if none answers. */
    REGISTER_OR_EMBED
  }

  public NfsConfig {
    if (bindAddress == null || !ClientRule.isIpLiteral(bindAddress)) {
      throw new IllegalArgumentException("nfs bind address must be an IP literal; got " + bindAddress);
    }
    checkPort("nfs port", nfsPort);
    checkPort("mount port", mountPort);
    if (portmap == null || namespaceDir == null) {
      throw new IllegalArgumentException("nfs portmap mode and namespace directory must be set");
    }
    exports = List.copyOf(exports);
    Set<String> vpools = new HashSet<>();
    Set<String> paths = new HashSet<>();
    for (Export e : exports) {
      if (!vpools.add(e.vpool()) || !paths.add(e.path())) {
        throw new IllegalArgumentException("one export per vPool and per path; duplicate " + e.vpool() + " " + e.path());
      }
    }
    vdiskPatterns = List.copyOf(vdiskPatterns);
    if (vdiskThresholdBytes < 0) {
      throw new IllegalArgumentException("nfs vDisk threshold must be 0 (off) or positive; got " + vdiskThresholdBytes);
    }
    if (workerThreads < 1 || workerThreads > 256) {
      throw new IllegalArgumentException("nfs worker threads must be in [1, 256]; got " + workerThreads);
    }
  }

  private static void checkPort(String what, int port) {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException(what + " must be in [0, 65535]; got " + port);
    }
  }

  /** The embedded default: 127.0.0.1:2049 and :20048, portmapper registered or embedded, {@code /default}. */
  public static NfsConfig defaults(Path namespaceDir) {
    return new NfsConfig("127.0.0.1", DEFAULT_NFS_PORT, DEFAULT_MOUNT_PORT, Portmap.REGISTER_OR_EMBED,
        List.of(Export.open("default")), namespaceDir, DEFAULT_VDISK_PATTERNS, DEFAULT_VDISK_THRESHOLD_BYTES, 8);
  }

  public NfsConfig withPorts(int nfs, int mount) {
    return new NfsConfig(bindAddress, nfs, mount, portmap, exports, namespaceDir, vdiskPatterns, vdiskThresholdBytes, workerThreads);
  }

  public NfsConfig withPortmap(Portmap p) {
    return new NfsConfig(bindAddress, nfsPort, mountPort, p, exports, namespaceDir, vdiskPatterns, vdiskThresholdBytes, workerThreads);
  }

  public NfsConfig withVdiskThreshold(long bytes) {
    return new NfsConfig(bindAddress, nfsPort, mountPort, portmap, exports, namespaceDir, vdiskPatterns, bytes,
        workerThreads);
  }

  public NfsConfig withExports(List<Export> e) {
    return new NfsConfig(bindAddress, nfsPort, mountPort, portmap, e, namespaceDir, vdiskPatterns, vdiskThresholdBytes, workerThreads);
  }
}
