package org.vsa.iscsi.scsi;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reservations of one logical unit: SPC-2 RESERVE/RELEASE and SPC-4 persistent reservations
 * (registrations keyed by I_T nexus, one reservation of one type). Every change to the
 * persistent state is written (temp file, fsync, rename, fsync of the directory) before the
 * command completes, so registrations and the reservation survive a restart.
 */
public final class Reservations {
  private static final Logger log = LoggerFactory.getLogger(Reservations.class);

  public static final int WRITE_EXCLUSIVE = 1;
  public static final int EXCLUSIVE_ACCESS = 3;
  public static final int WRITE_EXCLUSIVE_REGISTRANTS_ONLY = 5;
  public static final int EXCLUSIVE_ACCESS_REGISTRANTS_ONLY = 6;
  public static final int WRITE_EXCLUSIVE_ALL_REGISTRANTS = 7;
  public static final int EXCLUSIVE_ACCESS_ALL_REGISTRANTS = 8;

  /** How a command touches the medium, for the reservation check. */
  public enum Access { ALWAYS, READ, WRITE }

  private final Path file;
  private String spc2Holder;
  private final Map<String, Long> registrations = new LinkedHashMap<>();
  private String holder;
  private int type;
  private int generation;

  /** @param file where the persistent state lives; null keeps it in memory only */
  public Reservations(Path file) {
    this.file = file;
    if (file != null) {
      load();
    }
  }

  // ---- access check ----

  /** Whether a command of this access kind from {@code nexus} conflicts with a reservation. */
  public synchronized boolean conflicts(String nexus, Access access) {
    if (access == Access.ALWAYS) {
      return false;
    }
    if (spc2Holder != null && !spc2Holder.equals(nexus)) {
      return true;
    }
    if (holder == null) {
      return false;
    }
    if (holds(nexus) || (registrantsHaveAccess() && registrations.containsKey(nexus))) {
      return false;
    }
    boolean exclusiveAccess = type == EXCLUSIVE_ACCESS || type == EXCLUSIVE_ACCESS_REGISTRANTS_ONLY
        || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
    return access == Access.WRITE || exclusiveAccess;
  }

  private boolean allRegistrants() {
    return type == WRITE_EXCLUSIVE_ALL_REGISTRANTS || type == EXCLUSIVE_ACCESS_ALL_REGISTRANTS;
  }

  private boolean registrantsHaveAccess() {
    return type >= WRITE_EXCLUSIVE_REGISTRANTS_ONLY;
  }

  private boolean holds(String nexus) {
    return holder != null && (allRegistrants() ? registrations.containsKey(nexus) : holder.equals(nexus));
  }

  // ---- SPC-2 ----

  synchronized boolean reserve(String nexus) {
    if ((spc2Holder != null && !spc2Holder.equals(nexus)) || holder != null) {
      return false;
    }
    spc2Holder = nexus;
    return true;
  }

  /** @return false if a persistent reservation forbids it */
  synchronized boolean release(String nexus) {
    if (holder != null) {
      return false;
    }
    if (nexus.equals(spc2Holder)) {
      spc2Holder = null;
    }
    return true;
  }

  /** LUN reset, target reset: SPC-2 reservations go; persistent ones stay (SPC-4 5.13.11). */
  public synchronized void clear() {
    spc2Holder = null;
  }

  /** I_T nexus loss (logout, dropped connection, reinstatement): its SPC-2 reservation goes. */
  public synchronized void nexusLost(String nexus) {
    if (nexus.equals(spc2Holder)) {
      spc2Holder = null;
    }
  }

  public synchronized boolean spc2ReservedByOther(String nexus) {
    return spc2Holder != null && !spc2Holder.equals(nexus);
  }

  // ---- PERSISTENT RESERVE IN ----

  synchronized byte[] readKeys() {
    byte[] d = new byte[8 + 8 * registrations.size()];
    Bytes.be32(d, 0, generation);
    Bytes.be32(d, 4, 8L * registrations.size());
    int o = 8;
    for (long k : registrations.values()) {
      Bytes.be64(d, o, k);
      o += 8;
    }
    return d;
  }

  /** READ FULL STATUS: one descriptor per registration, with an iSCSI TransportID (name,i,0xISID). */
  synchronized byte[] readFullStatus() {
    java.io.ByteArrayOutputStream list = new java.io.ByteArrayOutputStream();
    registrations.forEach((n, k) -> {
      byte[] name = n.getBytes(StandardCharsets.UTF_8);
      int idLen = (name.length + 1 + 3) & ~3;
      byte[] d = new byte[24 + 4 + idLen];
      Bytes.be64(d, 0, k);
      if (holds(n)) {
        d[12] = 0x01;
        d[13] = (byte) type;
      }
      Bytes.be16(d, 18, 1);
      Bytes.be32(d, 20, 4 + idLen);
      d[24] = 0x45; // format 01 (name + ISID), protocol 5 (iSCSI)
      Bytes.be16(d, 26, idLen);
      System.arraycopy(name, 0, d, 28, name.length);
      list.writeBytes(d);
    });
    byte[] d = new byte[8 + list.size()];
    Bytes.be32(d, 0, generation);
    Bytes.be32(d, 4, list.size());
    System.arraycopy(list.toByteArray(), 0, d, 8, list.size());
    return d;
  }

  synchronized byte[] readReservation() {
    if (holder == null) {
      byte[] d = new byte[8];
      Bytes.be32(d, 0, generation);
      return d;
    }
    byte[] d = new byte[24];
    Bytes.be32(d, 0, generation);
    Bytes.be32(d, 4, 16);
    long key = allRegistrants() ? 0 : registrations.getOrDefault(holder, 0L);
    Bytes.be64(d, 8, key);
    d[21] = (byte) type;
    return d;
  }

  // ---- PERSISTENT RESERVE OUT ----

  /** Result of a PERSISTENT RESERVE OUT: null = GOOD. */
  synchronized ScsiResult register(String nexus, long key, long newKey, boolean ignoreExisting) throws IOException {
    if (spc2ReservedByOther(nexus)) {
      return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    Long current = registrations.get(nexus);
    if (!ignoreExisting && (current == null ? key != 0 : current != key)) {
      return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    if (current == null && newKey == 0) {
      return null;
    }
    if (newKey == 0) {
      unregister(nexus);
    } else {
      registrations.put(nexus, newKey);
    }
    generation++;
    save();
    return null;
  }

  private void unregister(String nexus) {
    boolean wasHolder = holds(nexus);
    registrations.remove(nexus);
    if (wasHolder && (!allRegistrants() || registrations.isEmpty())) {
      holder = null;
      type = 0;
    }
  }

  private ScsiResult checkKey(String nexus, long key) {
    Long current = registrations.get(nexus);
    if (current == null || current != key || spc2ReservedByOther(nexus)) {
      return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    return null;
  }

  synchronized ScsiResult reserve(String nexus, long key, int newType) throws IOException {
    ScsiResult bad = checkKey(nexus, key);
    if (bad != null) {
      return bad;
    }
    if (holder != null) {
      return holds(nexus) && type == newType ? null : ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    holder = nexus;
    type = newType;
    save();
    return null;
  }

  synchronized ScsiResult release(String nexus, long key, int releaseType) throws IOException {
    ScsiResult bad = checkKey(nexus, key);
    if (bad != null) {
      return bad;
    }
    if (holder == null || !holds(nexus)) {
      return null;
    }
    if (releaseType != type) {
      return ScsiResult.illegal(Sense.INVALID_RELEASE_OF_PERSISTENT_RESERVATION);
    }
    holder = null;
    type = 0;
    save();
    return null;
  }

  synchronized ScsiResult clearAll(String nexus, long key) throws IOException {
    ScsiResult bad = checkKey(nexus, key);
    if (bad != null) {
      return bad;
    }
    registrations.clear();
    holder = null;
    type = 0;
    generation++;
    save();
    return null;
  }

  /**
   * PREEMPT and PREEMPT AND ABORT. The nexuses whose registrations were removed are added to
   * {@code preempted} (the caller aborts their tasks for PREEMPT AND ABORT).
   */
  synchronized ScsiResult preempt(String nexus, long key, long victimKey, int newType, List<String> preempted)
      throws IOException {
    ScsiResult bad = checkKey(nexus, key);
    if (bad != null) {
      return bad;
    }
    if (holder == null || !allRegistrants()) {
      boolean victimHolds = holder != null && registrations.getOrDefault(holder, -1L) == victimKey;
      if (victimKey == 0 && !victimHolds) {
        return ScsiResult.illegal(Sense.INVALID_FIELD_IN_PARAMETER_LIST);
      }
      boolean removed = removeKey(victimKey, nexus, preempted);
      if (victimHolds) {
        holder = nexus;
        type = newType;
      } else if (!removed) {
        return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
      }
    } else if (victimKey == 0) {
      registrations.keySet().stream().filter(n -> !n.equals(nexus)).forEach(preempted::add);
      registrations.keySet().removeIf(n -> !n.equals(nexus));
      holder = nexus;
      type = newType;
    } else if (!removeKey(victimKey, nexus, preempted)) {
      return ScsiResult.status(ScsiResult.RESERVATION_CONFLICT);
    }
    generation++;
    save();
    return null;
  }

  private boolean removeKey(long victimKey, String except, List<String> removed) {
    List<String> gone = new ArrayList<>();
    registrations.forEach((n, k) -> {
      if (k == victimKey && !n.equals(except)) {
        gone.add(n);
      }
    });
    gone.forEach(registrations::remove);
    removed.addAll(gone);
    if (holder != null && !allRegistrants() && gone.contains(holder)) {
      holder = null;
      type = 0;
    }
    return !gone.isEmpty();
  }

  // ---- persistence ----

  private void save() throws IOException {
    if (file == null) {
      return;
    }
    StringBuilder sb = new StringBuilder("vsa-pr 1\n");
    sb.append("generation ").append(generation).append('\n');
    registrations.forEach((n, k) -> sb.append("register ").append(Long.toHexString(k)).append(' ').append(n).append('\n'));
    if (holder != null) {
      sb.append("reserve ").append(type).append(' ').append(holder).append('\n');
    }
    Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      ch.write(java.nio.ByteBuffer.wrap(sb.toString().getBytes(StandardCharsets.UTF_8)));
      ch.force(true);
    }
    Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel dir = FileChannel.open(file.getParent(), StandardOpenOption.READ)) {
      dir.force(true);
    }
  }

  private void load() {
    if (!Files.exists(file)) {
      return;
    }
    try {
      List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
      if (lines.isEmpty() || !lines.get(0).equals("vsa-pr 1")) {
        throw new IOException("not a reservations file (version 1)");
      }
      for (String l : lines.subList(1, lines.size())) {
        String[] p = l.split(" ", 3);
        switch (p[0]) {
          case "generation" -> generation = Integer.parseInt(p[1]);
          case "register" -> registrations.put(p[2], Long.parseUnsignedLong(p[1], 16));
          case "reserve" -> {
            type = Integer.parseInt(p[1]);
            holder = p[2];
          }
          default -> throw new IOException("unknown line '" + l + "'");
        }
      }
    } catch (IOException | RuntimeException e) {
      // Stop rather than serve the LU without the fencing its owners set up.
      throw new IllegalStateException("cannot read persistent reservations from " + file + ": " + e, e);
    }
    log.info("persistent reservations of {}: {} registration(s), reservation {}", file.getFileName(),
        registrations.size(), holder == null ? "none" : "type " + type);
  }
}
