package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Random;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.Durability;
import org.vsa.volume.Volume;

/**
 * Sequential READs of a vDisk file are answered from ranges read ahead, and never with stale
 * bytes: a write through the engine (as iSCSI writes the same vDisk), an NFS WRITE or an unmap
 * between the read-ahead and the READ that asks for that range is seen by that READ.
 */
class ReadAheadTest {
  static final int C = 256 << 10;

  @TempDir
  Path dir;
  Fixture fx;
  Nfs3Client c;
  byte[] fh;
  Volume vol;
  byte[] model = new byte[16 << 20];
  Random rnd = new Random(11);

  @BeforeEach
  void start() throws Exception {
    fx = new Fixture(dir);
    c = new Nfs3Client(fx, 0, 0);
    byte[] root = c.mnt("/default");
    fh = c.lookup(root, "demo.raw").fh();
    vol = fx.engine.volume("demo").orElseThrow();
    byte[] a = new byte[8 * C];
    rnd.nextBytes(a);
    vol.write(0, ByteBuffer.wrap(a), Durability.BUFFERED);
    System.arraycopy(a, 0, model, 0, a.length);
  }

  @AfterEach
  void stop() throws Exception {
    c.close();
    fx.close();
  }

  private void readAndCheck(int at) throws Exception {
    assertArrayEquals(Arrays.copyOfRange(model, at, at + C), c.read(fh, at, C), "READ at " + at);
    assertTrue(fx.server.awaitReadAhead(10_000), "read-ahead finished");
  }

  private long served() {
    return fx.server.readAheadCounts()[0];
  }

  private long wasted() {
    return fx.server.readAheadCounts()[1];
  }

  @Test
  void sequentialReadsAreServedAheadAndWritesBetweenAreSeen() throws Exception {
    readAndCheck(0);
    readAndCheck(C); // continues the stream: [2C, 3C) is read ahead now
    assertEquals(0, served());

    // a write through the engine, not NFS (as an iSCSI initiator writes the same vDisk)
    byte[] b = new byte[8192];
    rnd.nextBytes(b);
    vol.write(2L * C + 4096, ByteBuffer.wrap(b), Durability.BUFFERED);
    System.arraycopy(b, 0, model, 2 * C + 4096, b.length);
    readAndCheck(2 * C);
    assertEquals(0, served());
    assertEquals(1, wasted());

    readAndCheck(3 * C); // nothing changed since [3C, 4C) was read ahead: served from it
    assertEquals(1, served());

    // an NFS WRITE (unstable, unaligned) into the range read ahead
    byte[] d = new byte[1000];
    rnd.nextBytes(d);
    assertEquals(0, c.write(fh, 4L * C + 100, d, 0).status());
    System.arraycopy(d, 0, model, 4 * C + 100, d.length);
    readAndCheck(4 * C);
    assertEquals(1, served());
    assertEquals(2, wasted());

    // an unmap: the range reads as zeros
    vol.unmap(5L * C, C);
    Arrays.fill(model, 5 * C, 6 * C, (byte) 0);
    readAndCheck(5 * C);
    assertEquals(3, wasted());

    readAndCheck(6 * C);
    readAndCheck(7 * C);
    assertEquals(3, served());
    assertEquals(3, wasted());
  }

  @Test
  void aReadElsewhereLetsTheRangeGoAndReadsTheRightBytes() throws Exception {
    readAndCheck(0);
    readAndCheck(C); // [2C, 3C) read ahead
    readAndCheck(5 * C); // not the range read ahead: read as usual, the range let go
    assertEquals(0, served());
    assertEquals(1, wasted());
    readAndCheck(6 * C); // a new stream: [7C, 8C) read ahead
    readAndCheck(7 * C);
    assertEquals(1, served());
  }

  /**
   * A client that keeps several READs in flight (fio at iodepth 32, a kernel client's read-ahead)
   * asks for the next range itself: hardly anything is read ahead for it (only when one of its
   * READs happens to be alone at the server), so next to nothing is read twice. Without the
   * in-flight check nearly every one of these READs would start a range read for nothing.
   */
  @Test
  void readsKeptInFlightTogetherAreHardlyReadAhead() throws Exception {
    int window = 8;
    int reads = 64;
    int len = C;
    java.util.Map<Integer, Integer> offsetOfXid = new java.util.HashMap<>();
    int sent = 0;
    int got = 0;
    while (got < reads) {
      java.io.ByteArrayOutputStream burst = new java.io.ByteArrayOutputStream();
      while (sent < reads && sent - got < window) {
        int at = sent * len;
        burst.write(c.nfs.callRecord(RpcClient.NFS, 3, 6, o -> o.opaque(fh).l(at).i(len)));
        offsetOfXid.put(c.nfs.lastXid(), at);
        sent++;
      }
      if (burst.size() > 0) {
        c.nfs.sendRaw(burst.toByteArray());
      }
      java.util.Map.Entry<Integer, RpcClient.XdrIn> r = c.nfs.anyReply();
      int at = offsetOfXid.remove(r.getKey());
      RpcClient.XdrIn in = r.getValue();
      assertEquals(0, in.i());
      in.postOpAttr();
      in.i();
      in.bool();
      assertArrayEquals(Arrays.copyOfRange(model, at, at + len), in.opaque(), "READ at " + at);
      got++;
    }
    assertTrue(fx.server.awaitReadAhead(10_000));
    long started = served() + wasted();
    assertTrue(wasted() <= reads / 16, "ranges read for nothing with " + window + " READs in flight: " + wasted() + " (served " + served() + ")");
  }
}
