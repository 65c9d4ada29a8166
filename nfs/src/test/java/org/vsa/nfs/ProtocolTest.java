package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.TestEngines;

/** NFSv3 procedures through a raw RPC client: namespace operations, semantics, errors. */
class ProtocolTest {
  @TempDir
  Path dir;
  Fixture fx;
  Nfs3Client c;
  byte[] root;

  @BeforeEach
  void start() throws Exception {
    fx = new Fixture(dir);
    c = new Nfs3Client(fx, 0, 0);
    root = c.mnt("/default");
  }

  @AfterEach
  void stop() throws Exception {
    c.close();
    fx.close();
  }

  @Test
  void handlesAreSmallAndNamespaceOperationsWork() throws Exception {
    assertTrue(root.length <= 56);
    Nfs3Client.Res d = c.mkdir(root, "vm1");
    assertEquals(0, d.status());
    assertEquals(Status.EXIST, c.mkdir(root, "vm1").status());
    Nfs3Client.Res f = c.create(d.fh(), "vm1.vmx", 1);
    assertEquals(0, f.status());
    assertEquals(Status.EXIST, c.create(d.fh(), "vm1.vmx", 1).status());
    assertEquals(0, c.create(d.fh(), "vm1.vmx", 0).status()); // UNCHECKED: fine
    assertEquals(0, c.write(f.fh(), 0, "config".getBytes(), 2).status());
    assertArrayEquals("config".getBytes(), c.read(f.fh(), 0, 100));

    Nfs3Client.Res l = c.symlink(d.fh(), "current", "vm1.vmx");
    assertEquals(0, l.status());
    assertEquals(5, l.attr().type());
    assertEquals("vm1.vmx", c.readlink(l.fh()));

    assertEquals(0, c.rename(d.fh(), "vm1.vmx", root, "moved.vmx"));
    assertEquals(Status.NOENT, c.lookup(d.fh(), "vm1.vmx").status());
    Nfs3Client.Res moved = c.lookup(root, "moved.vmx");
    assertEquals(0, moved.status());
    assertArrayEquals(f.fh(), moved.fh()); // the handle survives a rename
    assertArrayEquals("config".getBytes(), c.read(moved.fh(), 0, 100));

    assertEquals(Status.NOTEMPTY, c.rmdir(root, "vm1"));
    assertEquals(0, c.remove(d.fh(), "current"));
    assertEquals(Status.NOTDIR, c.rmdir(root, "moved.vmx"));
    assertEquals(Status.ISDIR, c.remove(root, "vm1"));
    assertEquals(0, c.rmdir(root, "vm1"));
    assertEquals(0, c.remove(root, "moved.vmx"));
    assertEquals(Status.STALE, c.getattr(moved.fh()).status());
    assertEquals(Status.NOTSUPP, c.mknod(root, "fifo"));
    Nfs3Client.Res g = c.create(root, "g", 1);
    assertEquals(Status.NOTSUPP, c.link(g.fh(), root, "g2"));
    assertEquals(Status.BADHANDLE, c.getattr(new byte[] {9, 9, 9}).status());
  }

  /**
   * WRITE data that reaches the server in many record fragments (so in several buffers), of odd
   * lengths (XDR padding), into a small file and into a vDisk file at unaligned offsets: read back
   * byte for byte, and the calls after each on the same connection still decode.
   */
  @Test
  void writeDataSpreadOverManyFragmentsIsStoredExactly() throws Exception {
    java.util.Random rnd = new java.util.Random(42);
    Nfs3Client.Res small = c.create(root, "frag.vmx", 1);
    Nfs3Client.Res disk = c.create(root, "frag.raw", 1);
    assertEquals(0, small.status());
    assertEquals(0, disk.status());
    c.nfs.fragmentBytes = 997;
    for (Nfs3Client.Res f : List.of(small, disk)) {
      byte[] expected = new byte[200_003];
      int[][] writes = {{0, 65_536}, {65_536, 4_099}, {70_001, 1}, {70_002, 130_001}};
      for (int[] w : writes) {
        byte[] data = new byte[w[1]];
        rnd.nextBytes(data);
        System.arraycopy(data, 0, expected, w[0], w[1]);
        Nfs3Client.Wrote wr = c.write(f.fh(), w[0], data, 0);
        assertEquals(0, wr.status());
        assertEquals(w[1], wr.count());
        assertEquals(0, c.getattr(f.fh()).status()); // the next call on the connection decodes
      }
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      for (int at = 0; at < expected.length; at += 65_536) {
        got.write(c.read(f.fh(), at, 65_536));
      }
      assertArrayEquals(expected, got.toByteArray());
    }
    c.nfs.fragmentBytes = 0;
  }

  /**
   * Calls queued back to back on one connection (the server's selector then takes several per
   * socket read, and splits calls across reads at arbitrary points): every WRITE answered once,
   * and the file reads back byte for byte. Small file and vDisk; odd sizes between them.
   */
  @Test
  void pipelinedWritesInOneBurstAreEachStoredExactly() throws Exception {
    java.util.Random rnd = new java.util.Random(7);
    Nfs3Client.Res small = c.create(root, "burst.vmx", 1);
    Nfs3Client.Res disk = c.create(root, "burst.raw", 1);
    assertEquals(0, small.status());
    assertEquals(0, disk.status());
    for (Nfs3Client.Res f : List.of(small, disk)) {
      int calls = 40;
      byte[] expected = new byte[calls * 65_536 + 12_345];
      rnd.nextBytes(expected);
      java.io.ByteArrayOutputStream burst = new java.io.ByteArrayOutputStream();
      int[] xids = new int[calls + 1];
      int[] lens = new int[calls + 1];
      long at = 0;
      for (int i = 0; i <= calls; i++) {
        int len = i == calls ? 12_345 : (i % 3 == 0 ? 65_536 : 65_536 - 4 * i);
        long off = at;
        byte[] data = java.util.Arrays.copyOfRange(expected, (int) off, (int) off + len);
        burst.write(c.nfs.callRecord(RpcClient.NFS, 3, 7, o -> o.opaque(f.fh()).l(off).i(len).i(0).opaque(data)));
        xids[i] = c.nfs.lastXid();
        lens[i] = len;
        at += len;
      }
      c.nfs.sendRaw(burst.toByteArray()); // about 2.6 MB in one go
      java.util.Map<Integer, Integer> lenOfXid = new java.util.HashMap<>();
      for (int i = 0; i <= calls; i++) {
        lenOfXid.put(xids[i], lens[i]);
      }
      for (int i = 0; i <= calls; i++) { // workers answer in any order: match replies by xid
        java.util.Map.Entry<Integer, RpcClient.XdrIn> r = c.nfs.anyReply();
        Integer len = lenOfXid.remove(r.getKey());
        assertTrue(len != null, "reply to an unknown or repeated xid " + r.getKey());
        assertEquals(0, r.getValue().i(), "status of the WRITE with xid " + r.getKey());
        r.getValue().wcc();
        assertEquals(len, r.getValue().i(), "count of the WRITE with xid " + r.getKey());
      }
      assertTrue(lenOfXid.isEmpty());
      java.io.ByteArrayOutputStream got = new java.io.ByteArrayOutputStream();
      for (long pos = 0; pos < at; pos += 1 << 20) {
        got.write(c.read(f.fh(), pos, (int) Math.min(1 << 20, at - pos)));
      }
      assertArrayEquals(java.util.Arrays.copyOf(expected, (int) at), got.toByteArray());
    }
  }

  /**
   * A burst of overlapping WRITEs to one vDisk-backed file, stable and unstable, whole-cluster
   * (written on the selector thread when the lane is idle) and unaligned (merged, in the file's
   * lane): they are applied in the order they arrived, as a byte-array model applies them, and a
   * stable one says FILE_SYNC.
   */
  @Test
  void overlappingWritesInOneBurstApplyInArrivalOrder() throws Exception {
    Nfs3Client.Res f = c.create(root, "order.raw", 1);
    assertEquals(0, f.status());
    int span = 256 << 10;
    assertEquals(0, c.setSize(f.fh(), span));
    byte[] model = new byte[span];
    java.util.Random rnd = new java.util.Random(11);
    java.io.ByteArrayOutputStream burst = new java.io.ByteArrayOutputStream();
    java.util.Map<Integer, Integer> stableOfXid = new java.util.HashMap<>();
    int calls = 120;
    for (int i = 0; i < calls; i++) {
      boolean aligned = i % 3 != 0;
      int len = aligned ? 4096 * (1 + rnd.nextInt(16)) : 1 + rnd.nextInt(70_000);
      long off = aligned ? 4096L * rnd.nextInt((span - len) / 4096 + 1) : rnd.nextInt(span - len + 1);
      int stable = i % 4 == 0 ? 2 : 0;
      byte[] data = new byte[len];
      rnd.nextBytes(data);
      System.arraycopy(data, 0, model, (int) off, len);
      burst.write(c.nfs.callRecord(RpcClient.NFS, 3, 7, o -> o.opaque(f.fh()).l(off).i(len).i(stable).opaque(data)));
      stableOfXid.put(c.nfs.lastXid(), stable);
    }
    c.nfs.sendRaw(burst.toByteArray());
    for (int i = 0; i < calls; i++) {
      java.util.Map.Entry<Integer, RpcClient.XdrIn> r = c.nfs.anyReply();
      Integer stable = stableOfXid.remove(r.getKey());
      assertTrue(stable != null, "reply to an unknown or repeated xid " + r.getKey());
      assertEquals(0, r.getValue().i(), "status of the WRITE with xid " + r.getKey());
      r.getValue().wcc();
      r.getValue().i(); // count
      int committed = r.getValue().i();
      assertTrue(committed >= stable, "committed " + committed + " for a WRITE asking " + stable);
    }
    assertArrayEquals(model, c.read(f.fh(), 0, span));
  }

  /** A WRITE whose data stops before its XDR padding: GARBAGE_ARGS, nothing written, connection kept. */
  @Test
  void writeWithoutItsPaddingIsGarbage() throws Exception {
    Nfs3Client.Res f = c.create(root, "pad.vmx", 1);
    assertEquals(0, f.status());
    RpcClient.RpcError e = assertThrows(RpcClient.RpcError.class, () -> c.nfs.call(RpcClient.NFS, 3, 7,
        o -> o.opaque(f.fh()).l(0).i(5).i(2).i(5).raw((byte) 1, (byte) 2, (byte) 3, (byte) 4, (byte) 5)));
    assertEquals(4, e.stat);
    assertEquals(0L, c.getattr(f.fh()).attr().size()); // and the connection still answers
  }

  @Test
  void readdirPagesThroughManyEntriesWithStableCookies() throws Exception {
    List<String> expected = new ArrayList<>(List.of(".", "..", "demo.raw"));
    for (int i = 0; i < 150; i++) {
      assertEquals(0, c.create(root, "f" + i, 1).status());
      expected.add("f" + i);
    }
    List<String> names = c.readdir(root, 1024);
    assertEquals(expected.size(), names.size());
    assertTrue(names.containsAll(expected));
  }

  @Test
  void truncateOfAVdiskIsInstantAndThin() throws Exception {
    Nfs3Client.Res f = c.create(root, "disk.raw", 1);
    assertEquals(0, f.status());
    long t0 = System.nanoTime();
    assertEquals(0, c.setSize(f.fh(), 123L << 30));
    assertTrue(System.nanoTime() - t0 < 5_000_000_000L);
    assertEquals(123L << 30, c.getattr(f.fh()).attr().size());
    assertEquals(123L << 30, fx.catalog.volume("disk").sizeBytes());
    byte[] tail = TestEngines.pattern(3, 5000);
    long off = (123L << 30) - 7777;
    assertEquals(0, c.write(f.fh(), off, tail, 2).status());
    assertArrayEquals(tail, c.read(f.fh(), off, 5000));
    assertArrayEquals(new byte[4096], c.read(f.fh(), 1L << 30, 4096));
    // Shrink to an unaligned size, grow again: the bytes past the cut read as zeros.
    assertEquals(0, c.setSize(f.fh(), off + 100));
    assertEquals(0, c.setSize(f.fh(), off + 5000));
    byte[] back = c.read(f.fh(), off, 5000);
    for (int i = 0; i < 5000; i++) {
      assertEquals(i < 100 ? tail[i] : 0, back[i], "byte " + i);
    }
    assertEquals(Status.FBIG, c.setSize(f.fh(), 1L << 62));
  }

  @Test
  void unstableWritesNeedACommitAndTheVerifierChangesOnRestart() throws Exception {
    Nfs3Client.Res f = c.create(root, "u.img", 1);
    Nfs3Client.Wrote w1 = c.write(f.fh(), 0, TestEngines.pattern(1, 4096), 0);
    assertEquals(0, w1.committed()); // UNSTABLE: the reply says so
    Nfs3Client.Wrote w2 = c.write(f.fh(), 4096, TestEngines.pattern(2, 4096), 2);
    assertEquals(2, w2.committed()); // FILE_SYNC
    byte[] v = c.commit(f.fh());
    assertArrayEquals(w1.verifier(), v);
    assertArrayEquals(w2.verifier(), v);
    c.close();
    fx.restartServer(List.of(Export.open("default")));
    c = new Nfs3Client(fx, 0, 0);
    assertFalse(java.util.Arrays.equals(v, c.commit(f.fh())), "a restart changes the write verifier");
    assertArrayEquals(TestEngines.pattern(1, 4096), c.read(f.fh(), 0, 4096));
  }

  @Test
  void namespaceAndHandlesSurviveARestartOfServerAndEngine() throws Exception {
    Nfs3Client.Res d = c.mkdir(root, "dir");
    Nfs3Client.Res f = c.create(d.fh(), "notes.txt", 1);
    c.write(f.fh(), 0, "persist".getBytes(), 2);
    Nfs3Client.Res v = c.create(d.fh(), "vm-flat.vmdk", 1);
    byte[] data = TestEngines.pattern(5, 70_000);
    c.write(v.fh(), 1000, data, 2);
    long fileId = c.getattr(f.fh()).attr().fileId();
    c.close();
    fx.close();
    fx = new Fixture(dir);
    c = new Nfs3Client(fx, 0, 0);
    assertArrayEquals(root, c.mnt("/default"));
    assertEquals(fileId, c.getattr(f.fh()).attr().fileId());
    assertArrayEquals("persist".getBytes(), c.read(f.fh(), 0, 100));
    assertEquals(71_000, c.getattr(v.fh()).attr().size());
    assertArrayEquals(data, c.read(v.fh(), 1000, 70_000));
    assertArrayEquals(f.fh(), c.lookup(d.fh(), "notes.txt").fh());
    // New files get new ids: none is reused.
    assertTrue(c.create(root, "new", 1).attr().fileId() > fileId);
  }

  @Test
  void writesAndReadsOfWtmaxAndRtmaxRoundTrip() throws Exception {
    byte[] mib = TestEngines.pattern(8, 1 << 20);
    for (String name : List.of("m.img", "m.txt")) {
      Nfs3Client.Res f = c.create(root, name, 1);
      Nfs3Client.Wrote w = c.write(f.fh(), 333, mib, 0);
      assertEquals(0, w.status());
      assertEquals(1 << 20, w.count());
      assertArrayEquals(mib, c.read(f.fh(), 333, 1 << 20));
      assertEquals(Status.INVAL, c.write(f.fh(), 0, new byte[(1 << 20) + 4], 0).status());
    }
  }

  @Test
  void uncheckedCreateWithSizeZeroTruncatesAnExistingFile() throws Exception {
    // (libnfs' nfs-cp sends GUARDED and so cannot overwrite; the kernel client sends this.)
    for (String name : List.of("over.raw", "over.txt")) {
      Nfs3Client.Res f = c.create(root, name, 1);
      c.write(f.fh(), 0, TestEngines.pattern(1, 100_000), 2);
      Nfs3Client.Res again = c.createTruncating(root, name);
      assertEquals(0, again.status());
      assertArrayEquals(f.fh(), again.fh());
      assertEquals(0, again.attr().size());
      byte[] shorter = TestEngines.pattern(2, 1000);
      c.write(f.fh(), 0, shorter, 2);
      c.setSize(f.fh(), 5000);
      byte[] back = c.read(f.fh(), 0, 5000);
      assertArrayEquals(shorter, java.util.Arrays.copyOf(back, 1000), name);
      assertArrayEquals(new byte[4000], java.util.Arrays.copyOfRange(back, 1000, 5000), name);
    }
  }

  @Test
  void exclusiveCreateIsIdempotentForItsVerifier() throws Exception {
    Nfs3Client.Res a = excl("x", 42);
    assertEquals(0, a.status());
    Nfs3Client.Res again = excl("x", 42);
    assertEquals(0, again.status());
    assertArrayEquals(a.fh(), again.fh());
    assertEquals(Status.EXIST, excl("x", 43).status());
  }

  private Nfs3Client.Res excl(String name, long verifier) throws Exception {
    RpcClient.XdrIn r = c.nfs.call(RpcClient.NFS, 3, 8, o -> o.opaque(root).s(name).i(2).l(verifier));
    int st = r.i();
    if (st != 0) {
      return new Nfs3Client.Res(st, null, null, r);
    }
    return new Nfs3Client.Res(st, r.bool() ? r.opaque() : null, r.postOpAttr(), r);
  }

  @Test
  void mountV1AndExportWork() throws Exception {
    RpcClient.XdrIn r = c.mount.call(RpcClient.MOUNT, 1, 1, o -> o.s("/default"));
    assertEquals(0, r.i());
    byte[] v1 = r.fixed(32);
    assertEquals(0, c.getattr(v1).status()); // the zero-padded v1 handle works for NFSv3 too
    RpcClient.XdrIn e = c.mount.call(RpcClient.MOUNT, 3, 5, o -> { });
    assertTrue(e.bool());
    assertEquals("/default", e.s());
    assertTrue(e.bool());
    assertEquals("*", e.s());
    assertFalse(e.bool());
    assertFalse(e.bool());
    c.mount.call(RpcClient.MOUNT, 3, 3, o -> o.s("/default")); // UMNT
  }

  @Test
  void fsinfoAndPathconfAreHonest() throws Exception {
    RpcClient.XdrIn r = c.nfs.call(RpcClient.NFS, 3, 19, o -> o.opaque(root));
    assertEquals(0, r.i());
    r.postOpAttr();
    assertTrue(r.i() >= 1 << 20); // rtmax
    r.i();
    r.i();
    assertTrue(r.i() >= 1 << 20); // wtmax
    r.i();
    r.i();
    r.i();
    assertTrue(r.l() >= 16L << 40); // maxfilesize
    RpcClient.XdrIn p = c.nfs.call(RpcClient.NFS, 3, 20, o -> o.opaque(root));
    assertEquals(0, p.i());
    p.postOpAttr();
    assertEquals(1, p.i());
    assertEquals(255, p.i());
    RpcClient.XdrIn s = c.nfs.call(RpcClient.NFS, 3, 18, o -> o.opaque(root));
    assertEquals(0, s.i());
    s.postOpAttr();
    long total = s.l();
    long free = s.l();
    assertTrue(total > 0 && free <= total);
  }

  @Test
  void mountRefusesUnknownPaths() throws Exception {
    Nfs3Client.MountError e = assertThrows(Nfs3Client.MountError.class, () -> c.mnt("/nope"));
    assertEquals(2, e.status);
    assertNotNull(c.mnt("/default/"));
  }
}
