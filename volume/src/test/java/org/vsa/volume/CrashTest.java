package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Kills a writing appliance process with SIGKILL at random instants and checks, after each kill,
 * that recovery kept every write acknowledged as durable (FUA, or followed by a flush that
 * returned), and that every 4 KiB cluster holds exactly the state after some prefix of the writes
 * to it (never a torn or mixed cluster). The next round continues on what was recovered.
 * {@code -Dsim.seed=N} replays a seed's workload; {@code -Dcrash.rounds=N} sets the kill count.
 */
class CrashTest {
  @TempDir Path dir;

  private static final int CLUSTER = Layout.CLUSTER_BYTES;

  @Test
  void recoveryAfterKillNineKeepsEveryDurableWriteAndNeverTearsACluster() throws Exception {
    String fixed = System.getProperty("sim.seed");
    long seed = fixed != null && !fixed.isBlank() && !fixed.startsWith("$") ? Long.parseLong(fixed) : new Random().nextLong();
    int rounds = Integer.getInteger("crash.rounds", 24);
    Random timing = new Random(seed);
    byte[] disk = new byte[(int) CrashWorkload.SIZE_BYTES];
    List<byte[]> earlier = new ArrayList<>();
    List<long[]> ackedByRound = new ArrayList<>();
    int killsWithAcks = 0;
    for (int round = 0; round < rounds; round++) {
      String where = "seed " + seed + " round " + round + " (replay with -Dsim.seed=" + seed + ")";
      ChildJvm child = ChildJvm.start(CrashChild.class, l -> l.startsWith("A ") || l.startsWith("D "),
          dir.toString(), Long.toString(seed), Integer.toString(round));
      if (timing.nextInt(4) == 0) {
        // anywhere, start-up and recovery included
        child.awaitMillis(timing.nextInt(1500));
      } else {
        assertTrue(child.ready.await(60, TimeUnit.SECONDS), "child never became ready: " + where + "\n" + child.lines);
        // writes are flowing (bounded wait: a busy machine starts threads slowly), then a random instant
        assertTrue(child.firstAck.await(60, TimeUnit.SECONDS), "child never acknowledged a write: " + where);
        child.awaitMillis(timing.nextInt(400));
      }
      child.kill();
      for (String line : child.lines) {
        if (line.split(" ").length != 3 && !line.startsWith("ERROR")) {
          System.out.println("round " + round + " child: " + line);
        }
      }
      for (String line : child.lines) {
        if (line.startsWith("ERROR")) {
          fail("the child failed before it was killed: " + line + " at " + where);
        }
      }
      long[] acked = new long[CrashWorkload.THREADS];
      long[] durable = new long[CrashWorkload.THREADS];
      Arrays.fill(acked, -1);
      Arrays.fill(durable, -1);
      for (String line : child.lines) {
        String[] f = line.split(" ");
        if (f.length != 3) {
          continue;
        }
        int t = Integer.parseInt(f[1]);
        long i = Long.parseLong(f[2]);
        acked[t] = Math.max(acked[t], i);
        if (f[0].equals("D") || f[0].equals("F")) {
          durable[t] = Math.max(durable[t], i);
        }
      }
      if (Arrays.stream(acked).anyMatch(a -> a >= 0)) {
        killsWithAcks++;
      }
      ackedByRound.add(acked);
      System.out.println("round " + round + ": " + child.lines.size() + " lines, acked " + Arrays.toString(acked)
          + ", durable " + Arrays.toString(durable) + ", ready " + (child.ready.getCount() == 0));
      try (Engine e = TestEngines.start(dir)) {
        Optional<Volume> v = e.volume("crash");
        if (v.isEmpty()) {
          assertTrue(Arrays.stream(acked).allMatch(a -> a < 0), "vDisk lost after acknowledged writes at " + where);
          continue;
        }
        byte[] got = new byte[disk.length];
        v.get().read(0, ByteBuffer.wrap(got));
        for (int t = 0; t < CrashWorkload.THREADS; t++) {
          try {
            check(seed, round, t, acked[t], durable[t], disk, got, where);
          } catch (AssertionError err) {
            StringBuilder src = new StringBuilder();
            for (int r = Math.max(0, round - 8); r <= round; r++) {
              src.append("round ").append(r).append(": ").append(findSource(err.getMessage(), got, seed, r, ackedByRound.get(r))).append("; ");
            }
            int at0 = Integer.parseInt(err.getMessage().replaceAll(".*\\(byte (\\d+)\\).*", "$1"));
            long cl = at0 / CLUSTER;
            long[] entry = ((LocalVolume) v.get()).mappingOf(cl);
            src.append(String.format(" mapping of cluster %d: SCO %d slot %d crc %08x; ", cl, Layout.scoOf(entry[0]),
                Layout.slotOf(entry[0]), entry[1]));
            src.append(tlogHistory(dir, v.get().id(), cl));
            throw new AssertionError(err.getMessage() + "; " + explain(err.getMessage(), got, earlier)
                + "; " + src + " first bytes " + java.util.HexFormat.of().formatHex(got, at0, at0 + 16), err);
          }
        }
        earlier.add(0, disk);
        if (earlier.size() > 4) {
          earlier.remove(4);
        }
        disk = got;
      }
    }
    assertTrue(killsWithAcks >= rounds / 2, "too few kills landed while writes were flowing: " + killsWithAcks);
  }

  /** For a failure report: every TLog record, local or in the backend, that names the cluster. */
  private static String tlogHistory(Path dir, java.util.UUID id, long cluster) {
    StringBuilder sb = new StringBuilder("history:");
    for (Path d : new Path[] {dir.resolve("writebuffer").resolve("vdisk-" + id), dir.resolve("backend").resolve("vdisk-" + id)}) {
      try (var s = java.nio.file.Files.list(d)) {
        for (Path p : s.sorted().toList()) {
          long n = Layout.numberOf(p.getFileName().toString(), "tlog_");
          if (n <= 0) {
            continue;
          }
          TLog.Scan scan = TLog.scan(p, id, n);
          for (TLog.Record r : scan.records()) {
            if ((r.type() == TLog.WRITE && r.cluster() == cluster)
                || (r.type() == TLog.UNMAP && r.cluster() <= cluster && cluster < r.cluster() + r.a())) {
              sb.append(String.format(" [%s tlog %d seq %d type %d slot %d crc %08x]", d.getFileName(), n, r.seq(), r.type(), r.a(), r.dataCrc()));
            }
          }
          sb.append(String.format(" (%s tlog %d: %d records seq %d..%d sealed %b stop %s)", d.getParent().getFileName(), n,
              scan.records().size(), scan.records().isEmpty() ? -1 : scan.records().get(0).seq(),
              scan.records().isEmpty() ? -1 : scan.records().get(scan.records().size() - 1).seq(), scan.sealed(), scan.stopReason()));
        }
      } catch (java.io.IOException ex) {
        sb.append(" (").append(ex).append(")");
      }
    }
    return sb.toString();
  }

  /** For a failure report: which op of this round wrote the bad cluster's bytes, and where. */
  private static String findSource(String msg, byte[] got, long seed, int round, long[] acked) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(byte (\\d+)\\)").matcher(msg);
    if (!m.find()) {
      return "";
    }
    int at = Integer.parseInt(m.group(1));
    byte[] actual = Arrays.copyOfRange(got, at, at + CLUSTER);
    StringBuilder sb = new StringBuilder("bytes found in: ");
    for (int t = 0; t < CrashWorkload.THREADS; t++) {
      for (long i = 0; i <= acked[t] + 1; i++) {
        CrashWorkload.Op op = CrashWorkload.op(seed, round, t, i);
        byte[] d = op.data();
        for (int k = 0; k + 512 <= d.length; k += 512) {
          if (d[k] == actual[0] && d[k + 1] == actual[1] && d[k + 2] == actual[2] && d[k + 3] == actual[3]
              && d[k + 4] == actual[4] && op.kind() != CrashWorkload.Kind.UNMAP) {
            sb.append(String.format("[thread %d op %d (%s off %d len %d) at data offset %d => volume byte %d] ",
                t, i, op.kind(), op.offset(), op.length(), k, op.offset() + k));
          }
        }
      }
    }
    return sb.toString();
  }

  /** For a failure report: which earlier round's state the bad cluster holds, if any. */
  private static String explain(String msg, byte[] got, List<byte[]> earlier) {
    java.util.regex.Matcher m = java.util.regex.Pattern.compile("\\(byte (\\d+)\\)").matcher(msg);
    if (!m.find()) {
      return "";
    }
    int at = Integer.parseInt(m.group(1));
    byte[] actual = Arrays.copyOfRange(got, at, at + CLUSTER);
    if (Arrays.equals(actual, new byte[CLUSTER])) {
      return "it reads as zeros";
    }
    for (int k = 0; k < earlier.size(); k++) {
      if (Arrays.equals(actual, Arrays.copyOfRange(earlier.get(k), at, at + CLUSTER))) {
        return "it holds the state verified " + (k + 2) + " rounds ago";
      }
    }
    return "it matches no state of the last rounds";
  }

  /** Checks thread t's region: every cluster equals one allowed prefix state. */
  private static void check(long seed, int round, int t, long acked, long durable, byte[] before, byte[] got, String where) {
    long regionStart = t * CrashWorkload.REGION_BYTES;
    int clusters = (int) (CrashWorkload.REGION_BYTES / CLUSTER);
    Map<Integer, List<Long>> touching = new HashMap<>();
    Map<Long, CrashWorkload.Op> ops = new HashMap<>();
    Map<Long, byte[]> data = new HashMap<>();
    // the in-flight op (acked + 1) may or may not have happened
    for (long i = 0; i <= acked + 1; i++) {
      CrashWorkload.Op op = CrashWorkload.op(seed, round, t, i);
      ops.put(i, op);
      int c0 = (int) ((op.offset() - regionStart) / CLUSTER);
      int c1 = (int) ((op.offset() + op.length() - 1 - regionStart) / CLUSTER);
      for (int c = c0; c <= c1; c++) {
        touching.computeIfAbsent(c, k -> new ArrayList<>()).add(i);
      }
    }
    for (int c = 0; c < clusters; c++) {
      int at = (int) (regionStart + (long) c * CLUSTER);
      List<Long> history = touching.getOrDefault(c, List.of());
      ClusterHistory states = new ClusterHistory(before, at);
      int mustReach = 0; // position in the history of the newest durable write to this cluster
      for (int h = 0; h < history.size(); h++) {
        long i = history.get(h);
        CrashWorkload.Op op = ops.get(i);
        states.apply(op.offset(), data.computeIfAbsent(i, k -> op.data()));
        if (i <= durable) {
          mustReach = h + 1;
        }
      }
      int match = states.newestMatch(got);
      if (match < 0) {
        fail(String.format("thread %d cluster %d (byte %d) holds a torn or unknown state; %d writes touched it; %s",
            t, c, at, history.size(), where));
      }
      if (match < mustReach) {
        fail(String.format("thread %d cluster %d (byte %d) lost a durable write: holds the state after %d of its writes, "
            + "but write #%d (durable through %d) was acknowledged durable; %s",
            t, c, at, match, history.get(mustReach - 1), durable, where));
      }
    }
  }
}
