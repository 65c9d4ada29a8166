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
  /**
   * Prefix of the per-vDisk target names ({@link #vdiskTargetName}): vDisk {@code demo} is
   * exported alone as {@code iqn.2026-11.org.vsa:vdisk:demo}, LUN 0. A cluster exports each vDisk so,
   * because a target is redirected as a whole and each vDisk may have its own owner.
   */
  public static final String VDISK_TARGET_PREFIX = "iqn.2026-11.org.vsa:vdisk";

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

  /** The same configuration with {@code t} added (IllegalArgumentException if its name is taken). */
  public IscsiConfig plusTarget(Target t) {
    if (target(t.iqn()).isPresent()) {
      throw new IllegalArgumentException("iSCSI target " + t.iqn() + " exists already");
    }
    List<Target> next = new java.util.ArrayList<>(targets);
    next.add(t);
    return new IscsiConfig(bindAddress, port, next, loginTimeout, workerThreads, queueDepth, reservationsDir);
  }

  /** The same configuration without target {@code iqn} (unchanged if there is none). */
  public IscsiConfig minusTarget(String iqn) {
    List<Target> next = targets.stream().filter(t -> !t.iqn().equalsIgnoreCase(iqn)).toList();
    return new IscsiConfig(bindAddress, port, next, loginTimeout, workerThreads, queueDepth, reservationsDir);
  }

  /** The same configuration plus one target per vDisk ({@link Target#forVdisk}), in the given order. */
  public IscsiConfig withVdiskTargets(String prefix, List<String> vdisks) {
    IscsiConfig c = this;
    for (String v : vdisks) {
      c = c.plusTarget(Target.forVdisk(prefix, v));
    }
    return c;
  }

  /**
   * The name of the target that exports vDisk {@code vdisk} alone: {@code prefix + ":" +} the vDisk
   * name, which is kept as it is when it has only {@code a-z 0-9 . -}; otherwise an upper-case
   * letter X becomes {@code :x} and {@code _} becomes {@code ::} (iSCSI names are lower case and
   * have no {@code _}; RFC 3722). The mapping is one to one, so {@link #vdiskOfTargetName} undoes it.
   */
  public static String vdiskTargetName(String prefix, String vdisk) {
    if (vdisk == null || vdisk.isEmpty() || vdisk.length() > 64) {
      throw new IllegalArgumentException("not a vDisk name: '" + vdisk + "'");
    }
    StringBuilder b = new StringBuilder(prefix.length() + 1 + vdisk.length() * 2).append(prefix).append(':');
    for (int i = 0; i < vdisk.length(); i++) {
      char ch = vdisk.charAt(i);
      if ((ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9') || ch == '.' || ch == '-') {
        b.append(ch);
      } else if (ch >= 'A' && ch <= 'Z') {
        b.append(':').append((char) (ch + ('a' - 'A')));
      } else if (ch == '_') {
        b.append("::");
      } else {
        throw new IllegalArgumentException("not a vDisk name: '" + vdisk + "' (character '" + ch + "')");
      }
    }
    return b.toString();
  }

  /** The vDisk whose own target {@code iqn} is ({@link #vdiskTargetName}), if it is one under {@code prefix}. */
  public static Optional<String> vdiskOfTargetName(String prefix, String iqn) {
    if (iqn == null || iqn.length() <= prefix.length() + 1 || !iqn.regionMatches(true, 0, prefix + ":", 0,
        prefix.length() + 1)) {
      return Optional.empty();
    }
    String s = iqn.substring(prefix.length() + 1).toLowerCase(java.util.Locale.ROOT);
    StringBuilder b = new StringBuilder(s.length());
    for (int i = 0; i < s.length(); i++) {
      char ch = s.charAt(i);
      if (ch != ':') {
        b.append(ch);
      } else if (i + 1 < s.length() && s.charAt(i + 1) == ':') {
        b.append('_');
        i++;
      } else if (i + 1 < s.length() && s.charAt(i + 1) >= 'a' && s.charAt(i + 1) <= 'z') {
        b.append((char) (s.charAt(i + 1) - ('a' - 'A')));
        i++;
      } else {
        return Optional.empty();
      }
    }
    String vdisk = b.toString();
    try {
      return vdiskTargetName(prefix, vdisk).equalsIgnoreCase(iqn) ? Optional.of(vdisk) : Optional.empty();
    } catch (IllegalArgumentException e) {
      return Optional.empty();
    }
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

    /** The target that exports vDisk {@code vdisk} alone, as LUN 0, named {@link #vdiskTargetName}. */
    public static Target forVdisk(String prefix, String vdisk) {
      return of(vdiskTargetName(prefix, vdisk), Map.of(0, vdisk));
    }
  }
}
