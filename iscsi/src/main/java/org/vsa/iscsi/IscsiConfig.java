package org.vsa.iscsi;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * What the iSCSI target serves and how.
 *
 * @param bindAddress IP literal or host name to listen on
 * @param port TCP port; 0 picks an ephemeral one (tests)
 * @param targets the targets, each with its LUNs
 * @param loginTimeout a connection that is not in full feature phase by then is dropped
 * @param workerThreads threads that run SCSI commands (BlockVolume calls block)
 * @param queueDepth commands one session may have outstanding (CmdSN window)
 * @param reservationsDir where persistent reservations are kept (one small file per LUN); empty:
 *     in memory only, lost at restart
 */
public record IscsiConfig(
    String bindAddress, int port, List<Target> targets, Duration loginTimeout, int workerThreads, int queueDepth,
    Optional<Path> reservationsDir) {

  public static final String DEFAULT_IQN = "iqn.2026-11.org.vsa:default";
  public static final int DEFAULT_PORT = 3260;

  public IscsiConfig {
    if (port < 0 || port > 65535) {
      throw new IllegalArgumentException("iSCSI port must be in [0, 65535]; got " + port);
    }
    targets = List.copyOf(targets);
    if (reservationsDir == null) {
      throw new IllegalArgumentException("reservationsDir must be an Optional, not null");
    }
    if (targets.stream().map(Target::iqn).distinct().count() != targets.size()) {
      throw new IllegalArgumentException("iSCSI target names must be unique");
    }
    if (loginTimeout.isNegative() || loginTimeout.isZero()) {
      throw new IllegalArgumentException("login timeout must be positive; got " + loginTimeout);
    }
    if (workerThreads < 1 || workerThreads > 256) {
      throw new IllegalArgumentException("iSCSI worker threads must be in [1, 256]; got " + workerThreads);
    }
    if (queueDepth < 1 || queueDepth > 1024) {
      throw new IllegalArgumentException("iSCSI queue depth must be in [1, 1024]; got " + queueDepth);
    }
  }

  /** The embedded default: target {@value #DEFAULT_IQN}, LUN 0 = vDisk {@code demo}, 127.0.0.1:3260, no CHAP. */
  public static IscsiConfig embeddedDefault() {
    return of("127.0.0.1", DEFAULT_PORT, List.of(Target.of(DEFAULT_IQN, Map.of(0, "demo"))));
  }

  /** Default login timeout (15 s), 8 worker threads, queue depth 64. */
  public static IscsiConfig of(String bindAddress, int port, List<Target> targets) {
    return new IscsiConfig(bindAddress, port, targets, Duration.ofSeconds(15), 8, 64, Optional.empty());
  }

  public IscsiConfig withLoginTimeout(Duration timeout) {
    return new IscsiConfig(bindAddress, port, targets, timeout, workerThreads, queueDepth, reservationsDir);
  }

  /** Keeps persistent reservations under {@code dir} (e.g. {@code <dataDir>/iscsi}) so that they survive restarts. */
  public IscsiConfig withReservationsDir(Path dir) {
    return new IscsiConfig(bindAddress, port, targets, loginTimeout, workerThreads, queueDepth, Optional.of(dir));
  }

  /** The same configuration with {@code t} in place of the target of the same name. */
  public IscsiConfig withTarget(Target t) {
    List<Target> next = new java.util.ArrayList<>();
    for (Target old : targets) {
      next.add(old.iqn().equalsIgnoreCase(t.iqn()) ? t : old);
    }
    return new IscsiConfig(bindAddress, port, next, loginTimeout, workerThreads, queueDepth, reservationsDir);
  }

  public Optional<Target> target(String iqn) {
    return targets.stream().filter(t -> t.iqn().equalsIgnoreCase(iqn)).findFirst();
  }

  /** A CHAP name and secret (RFC 1994 MD5); secrets of at least 12 bytes, as RFC 7143 asks. */
  public record Chap(String user, String secret) {
    public Chap {
      if (user == null || user.isEmpty()) {
        throw new IllegalArgumentException("CHAP user must not be empty");
      }
      if (secret == null || secret.length() < 12 || secret.length() > 255) {
        throw new IllegalArgumentException("CHAP secret must be 12 to 255 characters");
      }
    }
  }

  /**
   * One iSCSI target.
   *
   * @param iqn target name, e.g. iqn.2026-11.org.vsa:default
   * @param luns LUN number (0..16383) -> vDisk name
   * @param chap if present, initiators must authenticate with it
   * @param mutualChap if present (requires chap), the target authenticates to the initiator with it
   */
  public record Target(String iqn, Map<Integer, String> luns, Optional<Chap> chap, Optional<Chap> mutualChap) {
    public Target {
      if (iqn == null || !iqn.matches("(iqn\\.\\d{4}-\\d{2}\\.[^\\s]+|eui\\.[0-9A-Fa-f]{16}|naa\\.[0-9A-Fa-f]{16,32})")) {
        throw new IllegalArgumentException("not an iSCSI name: '" + iqn + "'");
      }
      luns = new TreeMap<>(luns);
      for (int lun : luns.keySet()) {
        if (lun < 0 || lun > 16383) {
          throw new IllegalArgumentException("LUN must be in [0, 16383]; got " + lun);
        }
      }
      luns = Map.copyOf(luns);
      if (mutualChap.isPresent() && chap.isEmpty()) {
        throw new IllegalArgumentException("mutual CHAP needs CHAP: target " + iqn);
      }
    }

    public static Target of(String iqn, Map<Integer, String> luns) {
      return new Target(iqn, luns, Optional.empty(), Optional.empty());
    }
  }
}
