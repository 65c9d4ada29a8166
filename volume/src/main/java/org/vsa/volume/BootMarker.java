package org.vsa.volume;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.function.Supplier;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * What a vDisk's write buffer says about the acknowledged writes it may not have forced: the file
 * {@code boot.state} in its write-buffer directory, written when the vDisk opens, when its
 * acknowledgements start resting on the DTL, and when it closes.
 *
 * <p>In DTL mode {@code sync}, while the stream is OK_SYNC, a DURABLE write or a flush is
 * acknowledged once the DTL has forced it, and the local write buffer is forced later. A
 * {@code kill -9} keeps the page cache, so the local files are complete at the next open; an OS
 * crash or a power loss may cut their unforced tail, and then the next open must take that tail
 * from the DTL. This marker tells the two apart: it holds the kernel's boot id at the time the
 * marker was written and the DTL epoch whose forces acknowledgements may rest on (0: none, every
 * acknowledged write is forced locally). A different boot id (or an unknown one) with a non-zero
 * epoch means the DTL must be consulted before the vDisk serves I/O.
 *
 * <p>Format, version 1: u32 magic 'VBOT', u16 version, u16 flags (0), u64 DTL epoch, u16 length
 * of the boot id, the boot id (UTF-8), u32 CRC32C of every byte before it. Written to a temp file,
 * forced, renamed, directory forced.
 */
final class BootMarker {
  private static final Logger log = LoggerFactory.getLogger(BootMarker.class);
  static final String FILE = "boot.state";
  static final int MAGIC = 0x56424F54; // 'VBOT'
  static final short VERSION = 1;
  static final String UNKNOWN = "unknown";
  /** The epoch of a marker that could not be read: the DTL's stream cannot be matched to it. */
  static final long EPOCH_UNKNOWN = -1;

  private BootMarker() {}

  /**
   * @param bootId the kernel's boot id when written ({@link #UNKNOWN} if it could not be read)
   * @param dtlEpoch the DTL stream epoch acknowledgements may rest on; 0: none
   */
  record State(String bootId, long dtlEpoch) {}

  /** The boot id of the running kernel, or {@link #UNKNOWN} (then every restart counts as a reboot). */
  static String systemBootId() {
    try {
      String s = Files.readString(Path.of("/proc/sys/kernel/random/boot_id"), StandardCharsets.US_ASCII).trim();
      return s.isEmpty() ? UNKNOWN : s;
    } catch (IOException | RuntimeException e) {
      return UNKNOWN;
    }
  }

  static final Supplier<String> SYSTEM = BootMarker::systemBootId;

  /** Whether acknowledged writes may be missing locally: a marker with an epoch, and another (or an unknown) boot. */
  static boolean mayLackAcknowledgedWrites(State prev, String bootNow) {
    return prev != null && prev.dtlEpoch() != 0
        && (UNKNOWN.equals(bootNow) || UNKNOWN.equals(prev.bootId()) || !bootNow.equals(prev.bootId()));
  }

  /** The marker, or null if there is none (a vDisk first opened by a version without it: no DTL-only acknowledgements). */
  static State read(Path wbDir) throws IOException {
    Path p = wbDir.resolve(FILE);
    if (!Files.exists(p)) {
      return null;
    }
    ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(p));
    try {
      int magic = b.getInt();
      short version = b.getShort();
      b.getShort();
      long epoch = b.getLong();
      int len = b.getShort() & 0xffff;
      byte[] id = new byte[len];
      b.get(id);
      int end = b.position();
      int crc = b.getInt();
      CRC32C c = new CRC32C();
      c.update(b.array(), 0, end);
      if (magic != MAGIC || version != VERSION || crc != (int) c.getValue() || b.hasRemaining()) {
        throw new java.nio.BufferUnderflowException();
      }
      return new State(new String(id, StandardCharsets.UTF_8), epoch);
    } catch (java.nio.BufferUnderflowException e) {
      log.error("{} is not a valid boot marker; treating the last run as interrupted by a reboot with an unknown DTL"
          + " epoch", p);
      return new State(UNKNOWN, EPOCH_UNKNOWN);
    }
  }

  static void write(Path wbDir, State s) throws IOException {
    byte[] id = s.bootId().getBytes(StandardCharsets.UTF_8);
    ByteBuffer b = ByteBuffer.allocate(4 + 2 + 2 + 8 + 2 + id.length + 4);
    b.putInt(MAGIC).putShort(VERSION).putShort((short) 0).putLong(s.dtlEpoch()).putShort((short) id.length).put(id);
    CRC32C c = new CRC32C();
    c.update(b.array(), 0, b.position());
    b.putInt((int) c.getValue()).flip();
    Path tmp = wbDir.resolve(FILE + ".tmp");
    try (FileChannel ch = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.TRUNCATE_EXISTING,
        StandardOpenOption.WRITE)) {
      TLog.writeFully(ch, b, 0);
      ch.force(true);
    }
    Files.move(tmp, wbDir.resolve(FILE), StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    Fs.fsyncDirectory(wbDir);
  }
}
