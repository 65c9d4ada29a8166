package org.vsa.dtl;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.netty.buffer.Unpooled;
import io.netty.channel.embedded.EmbeddedChannel;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The Netty DTL server: bad input, epoch fencing, trimming, bounded disk use, restarts. */
class DtlServerTest {
  @TempDir Path dir;

  static Entry entry(long seq, long sco, int dataBytes) {
    byte[] data = new byte[dataBytes];
    new Random(seq).nextBytes(data);
    return new Entry(seq, sco, new byte[] {(byte) seq, 1, 2}, data);
  }

  static List<Entry> entries(long from, long to, long sco, int dataBytes) {
    List<Entry> out = new ArrayList<>();
    for (long s = from; s <= to; s++) {
      out.add(entry(s, sco, dataBytes));
    }
    return out;
  }

  @Test
  void decoderWaitsForWholeFramesSplitAnywhere() {
    ByteBuffer f = WireCodec.encode(new Msg.Append(3, 0, true, 1, -1, entries(1, 3, 1, 100)));
    byte[] b = new byte[f.remaining()];
    f.get(b);
    for (int cut : new int[] {1, 5, WireCodec.HEADER_BYTES, b.length - 1}) {
      EmbeddedChannel ch = new EmbeddedChannel(new FrameDecoder());
      ch.writeInbound(Unpooled.wrappedBuffer(b, 0, cut));
      assertEquals(null, (Object) ch.readInbound(), "nothing decodes from " + cut + " bytes");
      ch.writeInbound(Unpooled.wrappedBuffer(b, cut, b.length - cut));
      Msg.Append a = assertInstanceOf(Msg.Append.class, ch.readInbound());
      assertEquals(3, a.entries().size());
      assertArrayEquals(entry(2, 1, 100).data(), a.entries().get(1).data());
      ch.finishAndReleaseAll();
    }
  }

  @Test
  void badInputClosesOnlyThatConnection() throws Exception {
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 20)) {
      // garbage
      try (Wire w = new Wire(s.port())) {
        byte[] junk = new byte[64];
        new Random(1).nextBytes(junk);
        w.raw(junk, 0, junk.length);
        Msg.Reject r = assertInstanceOf(Msg.Reject.class, w.read());
        assertEquals(Msg.Code.BAD, r.code());
        assertTrue(w.closedByPeer());
      }
      // a frame with a flipped bit fails its CRC
      try (Wire w = new Wire(s.port())) {
        ByteBuffer f = WireCodec.encode(new Msg.Hello(UUID.randomUUID(), 1));
        byte[] b = new byte[f.remaining()];
        f.get(b);
        b[20] ^= 4;
        w.raw(b, 0, b.length);
        Msg.Reject r = assertInstanceOf(Msg.Reject.class, w.read());
        assertTrue(r.message().contains("CRC32C"), r.message());
        assertTrue(w.closedByPeer());
      }
      // a length beyond the bound is refused before anything is buffered
      try (Wire w = new Wire(s.port())) {
        ByteBuffer h = ByteBuffer.allocate(12).putInt(WireCodec.MAGIC).put((byte) 1).put((byte) 3).putShort((short) 0)
            .putInt(Integer.MAX_VALUE);
        w.raw(h.array(), 0, 12);
        assertInstanceOf(Msg.Reject.class, w.read());
        assertTrue(w.closedByPeer());
      }
      // anything but Hello first
      try (Wire w = new Wire(s.port())) {
        Msg.Reject r = assertInstanceOf(Msg.Reject.class, w.call(new Msg.Trim(1, 1)));
        assertEquals(Msg.Code.BAD, r.code());
      }
      // a server message sent by a client
      UUID v = UUID.randomUUID();
      try (Wire w = new Wire(s.port())) {
        assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(v, 1)));
        Msg.Reject r = assertInstanceOf(Msg.Reject.class, w.call(new Msg.Ack(0, 0, 0)));
        assertEquals(Msg.Code.BAD, r.code());
        assertTrue(w.closedByPeer());
      }
      // half a frame, then the client goes away: nothing breaks
      try (Wire w = new Wire(s.port())) {
        ByteBuffer f = WireCodec.encode(new Msg.Hello(v, 1));
        w.raw(f.array(), 0, 7);
      }
      // and the server still serves
      try (Wire w = new Wire(s.port())) {
        Msg.HelloOk ok = assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(v, 1)));
        assertEquals(0, ok.lastSeq());
        Msg.Ack a = assertInstanceOf(Msg.Ack.class, w.call(new Msg.Append(1, 0, true, 1, -1, entries(1, 5, 1, 4096))));
        assertEquals(5, a.lastSeq());
        // entries that do not follow are a GAP, not an error
        Msg.Reject gap = assertInstanceOf(Msg.Reject.class, w.call(new Msg.Append(1, 7, false, 1, -1, entries(8, 8, 1, 10))));
        assertEquals(Msg.Code.GAP, gap.code());
        assertEquals(5, gap.lastSeq());
      }
    }
  }

  @Test
  void lowerEpochsAreRefusedAcrossRestarts() throws Exception {
    UUID v = UUID.randomUUID();
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 20)) {
      try (Wire w = new Wire(s.port())) {
        assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(v, 5)));
        assertInstanceOf(Msg.Ack.class, w.call(new Msg.Append(5, 0, true, 1, -1, entries(1, 3, 1, 64))));
      }
      try (Wire w = new Wire(s.port())) {
        Msg.Reject r = assertInstanceOf(Msg.Reject.class, w.call(new Msg.Hello(v, 4)));
        assertEquals(Msg.Code.STALE, r.code());
        assertEquals(5, r.highestEpoch());
      }
    }
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 20)) {
      try (Wire old = new Wire(s.port()); Wire next = new Wire(s.port())) {
        assertInstanceOf(Msg.HelloOk.class, old.call(new Msg.Hello(v, 5)));
        Msg.HelloOk ok = assertInstanceOf(Msg.HelloOk.class, next.call(new Msg.Hello(v, 6)));
        assertEquals(3, ok.lastSeq(), "the entries survived the restart");
        // the owner of epoch 5 is fenced out, even on its open connection
        Msg.Reject r = assertInstanceOf(Msg.Reject.class,
            old.call(new Msg.Append(5, 3, false, 1, -1, entries(4, 4, 1, 64))));
        assertEquals(Msg.Code.STALE, r.code());
        // the new owner must reset the stream before appending
        Msg.Reject gap = assertInstanceOf(Msg.Reject.class,
            next.call(new Msg.Append(6, 3, false, 1, -1, entries(4, 4, 1, 64))));
        assertEquals(Msg.Code.GAP, gap.code());
        Msg.Ack a = assertInstanceOf(Msg.Ack.class, next.call(new Msg.Append(6, 3, true, 1, -1, entries(4, 4, 1, 64))));
        assertEquals(4, a.lastSeq());
      }
    }
  }

  @Test
  void trimmingBoundsDiskUseAndFullRefusesAppends() throws Exception {
    UUID v = UUID.randomUUID();
    long capacity = 400_000;
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, capacity, 64 * 1024)) {
      try (Wire w = new Wire(s.port())) {
        assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(v, 1)));
        long seq = 0;
        boolean reset = true;
        for (long sco = 1; sco <= 40; sco++) {
          // 10 entries of 4 KiB per SCO; the backend takes each SCO two SCOs later
          Msg m = w.call(new Msg.Append(1, seq, reset, 1, sco - 3, entries(seq + 1, seq + 10, sco, 4096)));
          Msg.Ack a = assertInstanceOf(Msg.Ack.class, m, "SCO " + sco);
          seq += 10;
          reset = false;
          assertEquals(seq, a.lastSeq());
          assertTrue(s.usedBytes() <= capacity, "disk use " + s.usedBytes());
        }
        long live = s.stats().get(v).get("liveBytes");
        assertTrue(live <= 3 * 10 * 4200, "only the last SCOs are live: " + live);
        assertTrue(Files.size(dir.resolve(v + ".dtl")) <= 2 * live + 64 * 1024 + 4096,
            "file of " + Files.size(dir.resolve(v + ".dtl")) + " bytes for " + live + " live");
        // more than the capacity at once: refused, nothing half-written
        Msg.Reject full = assertInstanceOf(Msg.Reject.class,
            w.call(new Msg.Append(1, seq, false, 1, -1, entries(seq + 1, seq + 120, 41, 4096))));
        assertEquals(Msg.Code.FULL, full.code());
        assertEquals(seq, s.stats().get(v).get("lastSeq"));
        // fetch returns exactly what is held, data intact
        Msg.HelloOk ok = assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(v, 1)));
        Msg.Entries e = assertInstanceOf(Msg.Entries.class, w.call(new Msg.Fetch(1, ok.baseSeq(), 1 << 20)));
        assertEquals(ok.baseSeq() + 1, e.entries().get(0).seq());
        assertEquals(seq, e.entries().get(e.entries().size() - 1).seq());
        for (Entry en : e.entries()) {
          assertArrayEquals(entry(en.seq(), 0, 4096).data(), en.data(), "entry " + en.seq());
        }
      }
    }
    // a restart finds the compacted log as it was
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, capacity, 64 * 1024)) {
      assertEquals(400, s.stats().get(v).get("lastSeq"));
      assertTrue(s.stats().get(v).get("baseSeq") >= 370);
    }
  }

  @Test
  void aTornTailIsCutAtRestartAndAckedEntriesStay() throws Exception {
    UUID v = UUID.randomUUID();
    long size;
    Path f = dir.resolve(v + ".dtl");
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 24)) {
      try (Wire w = new Wire(s.port())) {
        w.call(new Msg.Hello(v, 1));
        assertInstanceOf(Msg.Ack.class, w.call(new Msg.Append(1, 0, true, 1, -1, entries(1, 20, 1, 4096))));
      }
      size = s.stats().get(v).get("fileBytes");
      long logEnd = size;
      // the file is preallocated with zeros beyond the log's end
      DtlClientTest.await(() -> s.stats().get(v).get("allocatedBytes") > logEnd, "a preallocated chunk");
    }
    assertTrue(Files.size(f) > size, "zeros after the log's end");
    // a restart cuts the zero tail and keeps every entry
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 24)) {
      assertEquals(20, s.stats().get(v).get("lastSeq"));
      assertEquals(size, Files.size(f));
      try (Wire w = new Wire(s.port())) {
        w.call(new Msg.Hello(v, 1));
        assertInstanceOf(Msg.Ack.class, w.call(new Msg.Append(1, 20, false, 1, -1, entries(21, 30, 1, 4096))));
      }
    }
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 24)) {
      assertEquals(30, s.stats().get(v).get("lastSeq"));
      size = Files.size(f);
    }
    // a record torn over the zeros (a crash mid-write) is cut, the entries before it stay
    byte[] torn = new byte[3000];
    new Random(3).nextBytes(torn);
    Files.write(f, torn, java.nio.file.StandardOpenOption.APPEND);
    byte[] zeros = new byte[1 << 20];
    Files.write(f, zeros, java.nio.file.StandardOpenOption.APPEND);
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 24)) {
      assertEquals(30, s.stats().get(v).get("lastSeq"));
      assertEquals(size, Files.size(f));
    }
    // a corrupt header sets the file aside instead of stopping the server
    byte[] all = Files.readAllBytes(f);
    all[2] ^= 1;
    Files.write(f, all);
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1 << 24)) {
      assertTrue(s.stats().isEmpty());
    }
  }

  /**
   * Several vDisks on the server's two event loops, each pipelining appends (forces are then handed
   * to the forcer threads and batches wait for them): every connection gets its Acks in order, each
   * covering what it asked, and after a restart every acknowledged entry is in its log.
   */
  @Test
  void pipelinedAppendsOnSharedEventLoopsAreAcknowledgedInOrderAndKept() throws Exception {
    int vdisks = 5;
    int appends = 60;
    UUID[] ids = new UUID[vdisks];
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1L << 30)) {
      List<Wire> wires = new ArrayList<>();
      try {
        for (int d = 0; d < vdisks; d++) {
          ids[d] = UUID.randomUUID();
          Wire w = new Wire(s.port());
          wires.add(w);
          assertInstanceOf(Msg.HelloOk.class, w.call(new Msg.Hello(ids[d], 1)));
          assertInstanceOf(Msg.Ack.class, w.call(new Msg.Append(1, 0, true, 1, -1, entries(1, 1, 1, 512))));
        }
        for (int k = 0; k < appends; k++) { // all sent before any Ack is read: batches pile up
          for (Wire w : wires) {
            w.send(new Msg.Append(1, 1 + 2L * k, false, 1, -1, entries(2 + 2L * k, 3 + 2L * k, 1, 512)));
          }
        }
        for (Wire w : wires) {
          long last = 1;
          while (last < 1 + 2L * appends) {
            Msg.Ack a = assertInstanceOf(Msg.Ack.class, w.read());
            assertTrue(a.lastSeq() > last, "Acks in order: " + a.lastSeq() + " after " + last);
            last = a.lastSeq();
          }
          assertEquals(1 + 2L * appends, last);
        }
      } finally {
        for (Wire w : wires) {
          w.close();
        }
      }
    }
    try (DtlServer s = DtlServer.start(dir, "127.0.0.1", 0, 1L << 30)) {
      for (UUID id : ids) {
        assertEquals(1 + 2L * appends, s.stats().get(id).get("lastSeq"), "acknowledged entries survive a restart");
      }
    }
  }
}
