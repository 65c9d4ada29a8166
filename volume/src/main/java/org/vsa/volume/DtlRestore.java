package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeMap;
import java.util.TreeSet;
import java.util.UUID;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.dtl.DtlConnector;
import org.vsa.dtl.DtlMode;
import org.vsa.dtl.Entry;

/**
 * Restores a vDisk whose write buffer is gone (its flash died, or it moved to another node) from
 * the backend and its DTL, by rebuilding the write buffer and letting the ordinary recovery replay
 * it. B is the last TLog of the vDisk's history (its snapshot table's head: a rollback cuts TLogs out
 * of it) such that the backend holds every TLog of the history up to it. The mapping of that
 * history through B, inherited clusters of a clone included, is rebuilt from the backend's TLogs and
 * installed as the checkpoint; from the DTL come the SCOs and TLogs after B exactly as the owner had
 * written them (each DTL entry carries its TLog record and data), which recovery replays. The
 * metadata is rebuilt from scratch, so no page can name a write the restored history lacks; the
 * vDisk's record and snapshot table are kept.
 *
 * <p>The fetch claims a higher epoch first, fencing the previous owner out of the DTL. Backend
 * SCOs and TLogs of the history past B belong to the lost owner's history, which the restored one need not follow: they
 * are deleted before anything new is uploaded. Nothing here changes the DTL, and every step
 * starts over from scratch, so a crash during a restore followed by another restore gives the
 * same result; the write-buffer marker that ends the restore is written only after the vDisk
 * opened.
 */
final class DtlRestore {
  private static final Logger log = LoggerFactory.getLogger(DtlRestore.class);
  /** Present in a vDisk's write-buffer directory once it has been opened there. */
  static final String MARKER = "write-buffer.present";
  /**
   * Present in a vDisk's metadata directory from the moment a restore starts deleting its metadata
   * until the restored vDisk opened: a restore that failed or crashed half-way (its checkpoint
   * already gone) is run again, never taken for a vDisk without a history.
   */
  static final String RESTORING = "restore.pending";

  private DtlRestore() {}

  /** A vDisk with a DTL and a history (a checkpoint) whose write buffer has no marker: it was lost. */
  static boolean needed(VolumeSpec spec, Path metadataDir, Path wbDir, EngineContext ctx) {
    boolean lost = spec.dtlMode() != DtlMode.NONE && !Files.exists(wbDir.resolve(MARKER))
        && (Files.exists(metadataDir.resolve("checkpoint")) || Files.exists(metadataDir.resolve(RESTORING)));
    if (lost && (ctx.dtl() == null || ctx.dtl().peerOf(spec.name()).isEmpty())) {
      log.error("vDisk {}: its write buffer is gone but no DTL peer is configured to restore it from; writes that"
          + " had not reached the backend are lost", spec.name());
      return false;
    }
    return lost;
  }

  static void markWriteBuffer(Path wbDir) throws IOException {
    Path m = wbDir.resolve(MARKER);
    if (!Files.exists(m)) {
      Files.write(m, "this vDisk's write buffer; its absence means it was lost\n".getBytes(
          java.nio.charset.StandardCharsets.UTF_8));
      Fs.fsyncDirectory(wbDir);
    }
  }

  static void restore(VolumeSpec spec, UUID id, Path metadataDir, Path wbDir, EngineContext ctx, long ownerEpoch)
      throws IOException {
    String name = spec.name();
    log.warn("vDisk {}: its write buffer is gone; restoring it from the backend and its DTL", name);
    DtlConnector.Fetched fetched;
    try {
      fetched = fetch(ctx, id, name, ownerEpoch);
    } catch (IOException e) {
      // nothing changed yet: the vDisk stays offline and is retried once the DTL may be back
      String msg = "vDisk " + name + ": its write buffer is gone and its DTL " + ctx.dtl().peerOf(name).orElse(null)
          + " is unreachable (" + e.getMessage() + "), so writes that had not reached the backend cannot be restored."
          + " Not opening it: bring the DTL back; the open is retried every 30 s, or at once with `vsa vdisk open "
          + name + "`";
      log.error(msg);
      throw new RefusedException(msg, e);
    }
    restoreFrom(spec, id, metadataDir, wbDir, ctx, fetched, (b, backendLastSeq) -> true, 0);
  }

  /**
   * An adopting node numbers its SCOs and TLogs from this far beyond every number the previous
   * owner used, so that whatever that owner still uploads after the takeover (it was paused inside
   * a put, say, past its lease) lands outside the new history: ignored by reads and restores (the
   * history's TLog ranges skip it) and collected by the next scrub. A previous owner past its lease
   * rolls at most a few SCOs (it acknowledges nothing); 65536 SCOs are 4 TiB of writes at 64 MiB.
   */
  static final long ADOPTION_NUMBER_GAP = 1 << 16;

  /**
   * Decides, once the backend's prefix is known and before anything in the backend changes,
   * whether the DTL's entries continue it: true to replay them, false to restore the backend's
   * prefix alone (the caller accepted the loss); or throws {@link RefusedException}.
   */
  interface Coverage {
    /**
     * @param b the last TLog of the history such that the backend holds every TLog of it up to b
     * @param backendLastSeq the last sequence number of the history through b
     */
    boolean useDtl(long b, long backendLastSeq) throws IOException;
  }

  /**
   * The restore itself, from {@code fetched} (may be null: the backend alone, if {@code coverage}
   * agrees): see the class comment. Idempotent; the record and the snapshot table must be in
   * {@code metadataDir}.
   */
  static void restoreFrom(VolumeSpec spec, UUID id, Path metadataDir, Path wbDir, EngineContext ctx,
      DtlConnector.Fetched fetched, Coverage coverage, long adoptionEpoch) throws IOException {
    boolean renumber = adoptionEpoch > 0;
    String name = spec.name();
    String ns = LocalVolume.namespaceOf(id);
    long t0 = System.nanoTime();

    // which TLogs make up the vDisk's history (a rollback cuts some out), and what it inherits
    Path recordFile = metadataDir.resolve(Engine.RECORD_FILE);
    VolumeRecord record = VolumeRecord.decode(Files.readAllBytes(recordFile), recordFile);
    SnapshotTable table = SnapshotTable.load(metadataDir);
    TlogRanges head = table.head();

    // metadata (but the record and the snapshot table) and write buffer start over; until the
    // restored vDisk opened, the pending marker says that this history is still to be restored
    if (!Files.exists(metadataDir.resolve(RESTORING))) {
      Files.write(metadataDir.resolve(RESTORING), ("restore of vDisk " + name + " from the backend and its DTL"
          + " pending\n").getBytes(java.nio.charset.StandardCharsets.UTF_8));
      Fs.fsyncDirectory(metadataDir);
    }
    try (var s = Files.newDirectoryStream(metadataDir)) {
      for (Path p : s) {
        String f = p.getFileName().toString();
        if (!f.equals(Engine.RECORD_FILE) && !f.equals(SnapshotTable.FILE) && !f.equals(RESTORING)
            && !f.equals(Adoption.PENDING)) {
          LocalVolume.deleteTree(p);
        }
      }
    }
    Fs.fsyncDirectory(metadataDir);
    LocalVolume.deleteTree(wbDir);
    Files.createDirectories(wbDir);

    // the backend's contiguous prefix of TLogs, and what lies past it
    TreeSet<Long> tlogs = new TreeSet<>();
    for (String o : ctx.backend().list(ns, "tlog_")) {
      long n = Layout.numberOf(o, "tlog_");
      if (n > 0) {
        tlogs.add(n);
      }
    }
    // B: the last TLog of the history such that the backend holds every TLog of the history up to it.
    // TLogs outside the history (cut out by a rollback, perhaps already scrubbed away) do not count.
    long b = 0;
    long max = tlogs.isEmpty() ? 0 : tlogs.last();
    for (long n = 1; n <= max; n++) {
      if (head.contains(n)) {
        if (!tlogs.contains(n)) {
          break;
        }
        b = n;
      }
    }
    long next = b + 1; // the history's first TLog after B: recovery replays the DTL's from there
    while (!head.contains(next)) {
      next++;
    }
    // the mapping of the history through B (inherited clusters of a clone included) is installed as
    // the checkpoint, so that recovery replays only what the DTL adds after it
    Mapping m = Mapping.materialize((tns, n) -> ctx.backend().get(tns, Layout.tlogName(n)), id, record.lineage(),
        head.upTo(b));
    if (!coverage.useDtl(b, m.lastSeq)) {
      fetched = null;
    }
    for (String o : ctx.backend().list(ns, "sco_")) {
      long n = Layout.numberOf(o, "sco_");
      if (n > b && head.contains(n)) {
        log.warn("vDisk {}: deleting SCO {} from the backend: it lies past the history's prefix in the backend"
            + " (through TLog {})", name, n, b);
        ctx.backend().delete(ns, o);
      }
    }
    for (long n : tlogs.tailSet(b, false)) {
      if (head.contains(n)) {
        ctx.backend().delete(ns, Layout.tlogName(n));
      }
    }
    // the DTL's SCOs after the prefix, by SCO; an adoption interrupted after it cut the head (same
    // prefix, the DTL still holding the stream of an owner before it) left the previous owner's tail
    // outside the head: it is still the history's
    Adoption.Cut cut = renumber ? Adoption.Cut.read(ctx.backend(), ns) : null;
    long gapEnd = cut != null && cut.b() == b && fetched != null && fetched.streamEpoch() < cut.epoch()
        && !head.contains(b + 1) ? cut.first() : b + 1;
    TreeMap<Long, List<Entry>> bySco = new TreeMap<>();
    for (Entry e : fetched == null ? List.<Entry>of() : fetched.entries()) {
      if (e.sco() > b && (head.contains(e.sco()) || e.sco() < gapEnd)) {
        bySco.computeIfAbsent(e.sco(), k -> new ArrayList<>()).add(e);
      }
    }
    long first = next; // the number of the first SCO/TLog after the prefix
    if (renumber) {
      long f = renumbered(name, ns, ctx, table, b, bySco, metadataDir, adoptionEpoch);
      if (f > 0) {
        first = f;
      } else {
        renumber = false;
      }
    }
    MetadataStore.install(metadataDir, id, m, first, m.lastSeq);

    // the DTL's SCOs after the prefix, rebuilt as the owner wrote them (under their new numbers)
    long restored = 0;
    long rank = 0;
    for (var sco : bySco.entrySet()) {
      long n = renumber ? first + rank++ : sco.getKey();
      List<ByteBuffer> tlog = new ArrayList<>();
      List<Long> tlogAt = new ArrayList<>();
      List<ByteBuffer> data = new ArrayList<>();
      List<Long> dataAt = new ArrayList<>();
      tlog.add(TLog.header(id, n));
      tlogAt.add(0L);
      data.add(Sco.header(id, n));
      dataAt.add(0L);
      long at = TLog.HEADER_BYTES;
      for (Entry e : sco.getValue()) {
        TLog.Record r = e.record().length == TLog.RECORD_BYTES ? TLog.decode(ByteBuffer.wrap(e.record())) : null;
        if (r == null || r.seq() != e.seq()) {
          throw new IOException("vDisk " + name + ": DTL entry " + e.seq() + " does not hold a valid TLog record");
        }
        tlog.add(ByteBuffer.wrap(e.record()));
        tlogAt.add(at);
        at += TLog.RECORD_BYTES;
        if (r.type() == TLog.WRITE) {
          if (e.data().length != Layout.CLUSTER_BYTES) {
            throw new IOException("vDisk " + name + ": DTL entry " + e.seq() + " holds " + e.data().length
                + " bytes of data, not a cluster");
          }
          data.add(ByteBuffer.wrap(e.data()));
          dataAt.add(Layout.slotOffset(r.a()));
        }
        restored++;
      }
      writeFile(wbDir.resolve(Layout.scoName(n)), data, dataAt);
      writeFile(wbDir.resolve(Layout.tlogName(n)), tlog, tlogAt);
    }
    Fs.fsyncDirectory(wbDir);
    log.warn("vDisk {}: restore prepared in {} ms: {} TLogs from the backend, {} records in {} SCOs from the DTL"
            + " (stream epoch {}, entries after {}); recovery replays them now", name,
        (System.nanoTime() - t0) / 1_000_000, b, restored, bySco.size(), fetched == null ? "none" : fetched.streamEpoch(),
        fetched == null ? "none" : fetched.baseSeq());
  }

  /**
   * Adoption: the number the new history continues at, {@link #ADOPTION_NUMBER_GAP} beyond every
   * SCO/TLog number of the namespace and of the DTL; the snapshot table's head skips the numbers in
   * between (it is stored here and in the backend before anything is written under the new
   * numbers). -1 when a snapshot names TLogs after {@code b} (they would have to be renumbered
   * too): the numbers then go on, and a late upload of the previous owner is not fenced off (logged).
   */
  private static long renumbered(String name, String ns, EngineContext ctx, SnapshotTable table, long b,
      TreeMap<Long, List<Entry>> bySco, Path metadataDir, long epoch) throws IOException {
    for (SnapshotTable.Entry s : table.snapshots()) {
      if (s.ranges().last() > b) {
        log.warn("vDisk {}: snapshot {} names TLogs after the backend's prefix (TLog {}); numbering goes on after"
            + " them, so SCOs the previous owner may still upload are not fenced off by number", name, s.name(), b);
        return -1;
      }
    }
    long highest = b;
    for (String o : ctx.backend().list(ns, "")) {
      highest = Math.max(highest, Math.max(Layout.numberOf(o, "sco_"), Layout.numberOf(o, "tlog_")));
    }
    if (!bySco.isEmpty()) {
      highest = Math.max(highest, bySco.lastKey());
    }
    long first = highest + 1 + ADOPTION_NUMBER_GAP;
    Verify.that(first + bySco.size() < Layout.SCO_NUMBER_MAX, "vDisk %s ran out of SCO numbers", name);
    // the record first: an adoption interrupted from here on finds the previous owner's tail by it
    ctx.backend().put(ns, Adoption.CUT, new Adoption.Cut(epoch, b, first).encode());
    SnapshotTable cut = table.withHead(table.head().upTo(b).thenFrom(first));
    cut.store(metadataDir);
    ctx.backend().put(ns, SnapshotTable.FILE, cut.encode());
    log.info("vDisk {}: its history continues at SCO {} (the previous owner numbered up to {})", name, first, highest);
    return first;
  }

  /** Fetches under the ownership epoch when the cluster granted one, else under the next local epoch. */
  private static DtlConnector.Fetched fetch(EngineContext ctx, UUID id, String name, long ownerEpoch) throws IOException {
    if (ownerEpoch <= 0) {
      return ctx.dtl().fetch(id, name);
    }
    return ctx.dtl().fetch(id, name, ctx.dtl().peerOf(name)
        .orElseThrow(() -> new IOException("vDisk " + name + " has no DTL peer to restore from")), ownerEpoch);
  }

  /** Created by the operator in a vDisk's write-buffer directory: open it without the DTL's tail after a reboot. */
  static final String OPEN_WITHOUT_DTL = "open-without-dtl";

  /** The vDisk may lack acknowledged writes and its DTL cannot supply them: it is not opened. */
  static final class RefusedException extends IOException {
    RefusedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /**
   * After an OS crash or power loss (the boot id changed) of a sync-mode vDisk whose
   * acknowledgements rested on the DTL's force: its write buffer may have lost an unforced tail of
   * acknowledged writes, which the DTL holds. Fetches the DTL's entries and writes every one whose
   * SCO the backend does not hold into that SCO and TLog of the write buffer, at its place (the
   * TLog record at its index, the data at its slot: the bytes the owner wrote), so that the
   * ordinary recovery then replays a history that goes through the DTL's last entry. Writes that
   * the write buffer kept are rewritten with the same bytes; nothing is removed; doing it twice (a
   * crash in between) gives the same files.
   *
   * <p>Why the DTL's first entry of each SCO is that TLog's first record (so its index is known): in
   * the stream of one epoch the DTL receives every record of every TLog after its base; it drops
   * (trims) whole SCOs, and only those the backend holds; its base after a catch-up lies in a SCO
   * the backend holds. SCOs the backend holds were forced before their upload and are skipped.
   *
   * <p>Returns the sequence number the recovered history must reach, or -1 when there is nothing to
   * check. Throws {@link RefusedException} when the DTL is unreachable or does not hold this run's
   * stream, unless the operator created {@value #OPEN_WITHOUT_DTL} in the write-buffer directory.
   */
  static long afterReboot(VolumeSpec spec, UUID id, Path wbDir, EngineContext ctx, BootMarker.State prev,
      long ownerEpoch) throws IOException {
    String name = spec.name();
    String ns = LocalVolume.namespaceOf(id);
    Path override = wbDir.resolve(OPEN_WITHOUT_DTL);
    log.warn("vDisk {}: the node restarted since its last run (boot id {} then, {} now) while its DTL-mode-sync"
        + " acknowledgements rested on the DTL (epoch {}); taking the write buffer's possibly lost tail from the DTL",
        name, prev.bootId(), ctx.bootId().get(), prev.dtlEpoch());
    if (ctx.dtl() == null || ctx.dtl().peerOf(name).isEmpty()) {
      return refuse(name, override, "no DTL peer is configured to take them from", null);
    }
    if (prev.dtlEpoch() == BootMarker.EPOCH_UNKNOWN) {
      return refuse(name, override, "its boot marker is unreadable, so the DTL's stream cannot be matched to the last run", null);
    }
    DtlConnector.Fetched fetched;
    try {
      fetched = fetch(ctx, id, name, ownerEpoch);
    } catch (IOException e) {
      return refuse(name, override, "its DTL " + ctx.dtl().peerOf(name).get() + " is unreachable (" + e.getMessage() + ")", e);
    }
    if (fetched.streamEpoch() != prev.dtlEpoch()) {
      return refuse(name, override, "its DTL holds the stream of epoch " + fetched.streamEpoch() + ", not the last run's "
          + prev.dtlEpoch() + (fetched.streamEpoch() > prev.dtlEpoch() ? " (another owner wrote to it since)"
          : " (the DTL lost its log)"), null);
    }
    TreeMap<Long, List<Entry>> bySco = new TreeMap<>();
    for (Entry e : fetched.entries()) {
      bySco.computeIfAbsent(e.sco(), k -> new ArrayList<>()).add(e);
    }
    long written = 0;
    for (var sco : bySco.entrySet()) {
      long n = sco.getKey();
      if (ctx.backend().exists(ns, Layout.tlogName(n))) {
        continue; // forced before its upload: the write buffer has it, or had it and let it go
      }
      long first = sco.getValue().get(0).seq();
      Path tlogPath = wbDir.resolve(Layout.tlogName(n));
      Path scoPath = wbDir.resolve(Layout.scoName(n));
      if (Files.exists(scoPath)) {
        Fs.unshare(scoPath);
      }
      try (FileChannel tl = FileChannel.open(tlogPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE);
          FileChannel sc = FileChannel.open(scoPath, StandardOpenOption.CREATE, StandardOpenOption.WRITE)) {
        TLog.writeFully(tl, TLog.header(id, n), 0);
        TLog.writeFully(sc, Sco.header(id, n), 0);
        for (Entry e : sco.getValue()) {
          TLog.Record r = e.record().length == TLog.RECORD_BYTES ? TLog.decode(ByteBuffer.wrap(e.record())) : null;
          if (r == null || r.seq() != e.seq()) {
            throw new IOException("vDisk " + name + ": DTL entry " + e.seq() + " does not hold a valid TLog record");
          }
          TLog.writeFully(tl, ByteBuffer.wrap(e.record()), TLog.HEADER_BYTES + (e.seq() - first) * TLog.RECORD_BYTES);
          if (r.type() == TLog.WRITE) {
            if (e.data().length != Layout.CLUSTER_BYTES || Layout.crc32c(e.data(), 0, e.data().length) != r.dataCrc()) {
              throw new IOException("vDisk " + name + ": DTL entry " + e.seq() + " holds no valid cluster of data");
            }
            TLog.writeFully(sc, ByteBuffer.wrap(e.data()), Layout.slotOffset(r.a()));
          }
          written++;
        }
        sc.force(true);
        tl.force(true);
      }
    }
    Fs.fsyncDirectory(wbDir);
    long last = fetched.entries().isEmpty() ? fetched.baseSeq() : fetched.entries().get(fetched.entries().size() - 1).seq();
    log.warn("vDisk {}: wrote {} DTL entries (stream epoch {}, ({}, {}]) into the write buffer; recovery replays them",
        name, written, fetched.streamEpoch(), fetched.baseSeq(), last);
    return last;
  }

  /** Refuses to open the vDisk, or (operator override) says what may be lost and goes on. */
  static long refuse(String name, Path override, String why, Throwable cause) throws IOException {
    String risk = "vDisk " + name + ": writes acknowledged in DTL mode sync before the restart may exist only on its DTL,"
        + " and " + why;
    if (Files.exists(override)) {
      log.error("{}; opening it anyway because {} exists: those writes are LOST if the write buffer lacks them", risk,
          override);
      return -1;
    }
    String msg = risk + ". Not opening it, so as not to serve a vDisk without acknowledged writes (serving it could"
        + " return stale data for them): it stays offline. Bring the DTL back (the open is retried every 30 s), or, to"
        + " open it without them (accepting their loss), create " + override + "; then `vsa vdisk open " + name
        + "` opens it at once";
    log.error(msg);
    throw new RefusedException(msg, cause);
  }

  private static void writeFile(Path p, List<ByteBuffer> parts, List<Long> offsets) throws IOException {
    Files.deleteIfExists(p); // never rewrite in place: a sealed SCO may be linked into the backend
    try (FileChannel ch = FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      for (int i = 0; i < parts.size(); i++) {
        TLog.writeFully(ch, parts.get(i).duplicate(), offsets.get(i));
      }
      ch.force(true);
    }
  }
}
