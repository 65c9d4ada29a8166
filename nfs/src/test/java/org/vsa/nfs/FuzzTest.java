package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.nio.file.Path;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Hostile RPC input (random bytes, lying record lengths, mutated and truncated calls, unknown
 * programs and procedures) for a bounded time while a well-behaved client keeps working.
 */
class FuzzTest {
  @TempDir
  Path dir;

  static long seed() {
    String s = System.getProperty("sim.seed");
    return s == null || s.isBlank() || s.startsWith("$") ? System.nanoTime() : Long.parseLong(s);
  }

  @Test
  void rpcErrorsAreAnsweredPerTheProtocol() throws Exception {
    try (Fixture fx = new Fixture(dir); Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
      assertEquals(1, rpcError(() -> c.nfs.call(400000, 3, 0, o -> { })).stat); // PROG_UNAVAIL
      int mismatch = rpcError(() -> c.nfs.call(RpcClient.NFS, 4, 0, o -> { })).stat;
      assertTrue(mismatch == 1 || mismatch == 2, "PROG_UNAVAIL (oncrpc4j) or PROG_MISMATCH: " + mismatch);
      assertEquals(3, rpcError(() -> c.nfs.call(RpcClient.NFS, 3, 99, o -> { })).stat); // PROC_UNAVAIL
      assertEquals(4, rpcError(() -> c.nfs.call(RpcClient.NFS, 3, 1, o -> o.i(1000))).stat); // GARBAGE_ARGS
      assertEquals(4, rpcError(() -> c.nfs.call(RpcClient.NFS, 3, 7, o -> o.i(4).i(0).l(0).i(10).i(7))).stat);
      assertEquals(3, rpcError(() -> c.mount.call(RpcClient.MOUNT, 3, 42, o -> { })).stat);
      // The connection is still usable after each error.
      assertEquals(0, c.getattr(c.mnt("/default")).status());
      // A credential whose machine name claims 2 GiB: the connection is dropped, nothing allocated.
      try (RpcClient evil = new RpcClient(fx.server.localAddress(), 0, 0)) {
        byte[] call = callBytes(RpcClient.NFS, 3, 0, new byte[0]);
        java.nio.ByteBuffer.wrap(call).putInt(4 + 24 + 8 + 4, 0x7fffffff);
        evil.sendRaw(call);
        assertEquals(-1, evil.socket.getInputStream().read());
      }
      // A record mark announcing 1 GiB: dropped as soon as the mark arrives.
      try (RpcClient evil = new RpcClient(fx.server.localAddress(), 0, 0)) {
        evil.sendRaw(new byte[] {(byte) 0xc0, 0, 0, 0});
        assertEquals(-1, evil.socket.getInputStream().read());
      }
      assertEquals(0, c.getattr(c.mnt("/default")).status());
    }
  }

  @Test
  void connectionsBeyondTheCapAreClosedAndOthersKeepWorking() throws Exception {
    try (Fixture fx = new Fixture(dir); Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
      byte[] root = c.mnt("/default");
      java.util.List<java.net.Socket> held = new java.util.ArrayList<>();
      try {
        int closed = 0;
        for (int i = 0; i < RpcGuard.CONNECTIONS_MAX + 20; i++) {
          java.net.Socket s = new java.net.Socket("127.0.0.1", fx.nfsPort());
          s.setSoTimeout(5);
          held.add(s);
        }
        Thread.sleep(300); // let the server accept (and refuse) them all
        for (java.net.Socket s : held) {
          try {
            closed += s.getInputStream().read() == -1 ? 1 : 0;
          } catch (java.net.SocketTimeoutException e) {
            // still open
          }
        }
        assertTrue(closed >= 19 && closed <= 21, closed + " connections closed");
        assertEquals(0, c.getattr(root).status());
      } finally {
        for (java.net.Socket s : held) {
          s.close();
        }
      }
      Thread.sleep(300);
      try (Nfs3Client again = new Nfs3Client(fx, 0, 0)) {
        assertEquals(0, again.getattr(root).status());
      }
    }
  }

  interface Call {
    void run() throws IOException;
  }

  static RpcClient.RpcError rpcError(Call call) {
    try {
      call.run();
    } catch (RpcClient.RpcError e) {
      return e;
    } catch (IOException e) {
      throw new AssertionError("expected an RPC error reply, got " + e);
    }
    throw new AssertionError("expected an RPC error reply, got success");
  }

  @Test
  void garbageNeverStopsAGoodClient() throws Exception {
    long seed = seed();
    long fuzzMillis = Long.getLong("nfs.fuzz.millis", 6000);
    try (Fixture fx = new Fixture(dir)) {
      AtomicBoolean stop = new AtomicBoolean();
      AtomicLong goodCalls = new AtomicLong();
      AtomicLong slowestMillis = new AtomicLong();
      AtomicReference<Throwable> goodFailure = new AtomicReference<>();
      Thread good = new Thread(() -> {
        try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
          byte[] root = c.mnt("/default");
          byte[] demo = c.lookup(root, "demo.raw").fh();
          while (!stop.get()) {
            long t0 = System.nanoTime();
            assertEquals(0, c.getattr(root).status());
            assertEquals(4096, c.read(demo, 0, 4096).length);
            slowestMillis.accumulateAndGet((System.nanoTime() - t0) / 1_000_000, Math::max);
            goodCalls.incrementAndGet();
          }
        } catch (Throwable t) {
          goodFailure.set(t);
        }
      }, "good-client");
      good.start();
      Random rnd = new Random(seed);
      long deadline = System.currentTimeMillis() + fuzzMillis;
      int attacks = 0;
      byte[] validGetattr;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        byte[] root = c.mnt("/default");
        validGetattr = callBytes(RpcClient.NFS, 3, 1, new RpcClient.Out().opaque(root).bytes());
      }
      while (System.currentTimeMillis() < deadline) {
        int port = rnd.nextBoolean() ? fx.nfsPort() : fx.mountPort();
        try (Socket s = new Socket()) {
          s.connect(new InetSocketAddress("127.0.0.1", port), 2000);
          s.setSoTimeout(30);
          s.getOutputStream().write(attack(rnd, validGetattr));
          s.getOutputStream().flush();
          try {
            s.getInputStream().read(new byte[4096]);
          } catch (IOException e) {
            // no answer (or a reset) is fine; the server owes hostile input nothing
          }
        } catch (IOException e) {
          throw new AssertionError("seed " + seed + ": cannot connect after " + attacks + " attacks", e);
        }
        attacks++;
      }
      stop.set(true);
      good.join(30_000);
      assertTrue(goodFailure.get() == null, "seed " + seed + ": good client failed: " + goodFailure.get());
      assertTrue(goodCalls.get() > 10, "seed " + seed + ": good client made " + goodCalls.get() + " calls");
      assertTrue(slowestMillis.get() < 5000, "seed " + seed + ": a good call took " + slowestMillis.get() + " ms");
      System.out.printf("seed %d: %d attacks, %d good calls, slowest %d ms%n", seed, attacks, goodCalls.get(),
          slowestMillis.get());
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        assertEquals(0, c.getattr(c.mnt("/default")).status());
      }
    }
  }

  static byte[] callBytes(int prog, int vers, int proc, byte[] args) {
    RpcClient.Out o = new RpcClient.Out();
    o.i(0).i(77).i(0).i(2).i(prog).i(vers).i(proc);
    RpcClient.Out cred = new RpcClient.Out().i(0).s("fuzz").i(0).i(0).i(0);
    o.i(1).opaque(cred.bytes()).i(0).i(0);
    byte[] body = o.fixed(args).bytes();
    body[0] = (byte) 0x80; // last fragment; the length below
    int len = body.length - 4;
    body[1] = (byte) (len >>> 16);
    body[2] = (byte) (len >>> 8);
    body[3] = (byte) len;
    return body;
  }

  static byte[] attack(Random rnd, byte[] valid) {
    switch (rnd.nextInt(7)) {
      case 0: { // random bytes
        byte[] b = new byte[rnd.nextInt(200)];
        rnd.nextBytes(b);
        return b;
      }
      case 1: // a record mark that promises far more than follows
        return new byte[] {(byte) (0x80 | rnd.nextInt(0x80)), (byte) rnd.nextInt(256), 0, 0, 1, 2, 3};
      case 2: { // a valid call, truncated inside the record
        byte[] b = valid.clone();
        return java.util.Arrays.copyOf(b, 4 + rnd.nextInt(b.length - 4));
      }
      case 3: { // a valid call with flipped bytes after the record mark
        byte[] b = valid.clone();
        for (int i = 0; i < 1 + rnd.nextInt(6); i++) {
          b[4 + rnd.nextInt(b.length - 4)] ^= (byte) (1 + rnd.nextInt(255));
        }
        return b;
      }
      case 4: { // any procedure of NFS/MOUNT with random arguments
        byte[] args = new byte[rnd.nextInt(64) * 4];
        rnd.nextBytes(args);
        if (rnd.nextBoolean() && args.length >= 4) {
          args[0] = 0x7f; // a lying length for the first opaque/string
        }
        int prog = rnd.nextBoolean() ? RpcClient.NFS : RpcClient.MOUNT;
        return callBytes(prog, 1 + rnd.nextInt(3), rnd.nextInt(25), args);
      }
      case 5: { // unknown program, odd credentials flavor
        byte[] b = callBytes(rnd.nextInt(), rnd.nextInt(), rnd.nextInt(), new byte[0]);
        b[4 + 24 + 3] = (byte) rnd.nextInt(8);
        return b;
      }
      default: { // many small fragments that never end
        RpcClient.Out o = new RpcClient.Out();
        for (int i = 0; i < 50; i++) {
          o.i(4).i(rnd.nextInt());
        }
        return o.bytes();
      }
    }
  }
}
