package org.vsa.appliance.metrics;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.ByteArrayOutputStream;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.appliance.Appliance;
import org.vsa.appliance.config.ConfigLoader;
import org.vsa.appliance.config.ConfigOverrides;
import org.vsa.iscsi.IscsiConfig;
import org.vsa.iscsi.RawInitiator;

/**
 * GET /metrics, parsed by the Prometheus project's own text-format parser (python3-prometheus-client),
 * and GET /api/v1/stats, against an appliance in this JVM: both move by exactly the bytes written
 * and read through a real iSCSI initiator and a real NFS client (libnfs's nfs-cp).
 */
@Timeout(value = 300, unit = TimeUnit.SECONDS)
class MetricsTest {
  static final ObjectMapper JSON = new ObjectMapper();
  static final int BLOCKS = 64;

  @TempDir
  Path work;

  static final String YAML = "node: {dataDir: data, name: n1}\ndtl: {port: 0}\niscsi: {port: 0}\n"
      + "nfs: {port: 0, mountPort: 0, portmap: none}\nvpools: [{name: default, scoSize: 4MiB}]\n"
      + "vdisks: [{name: demo, size: 16MiB}, {name: idle, size: 16MiB}]\nwriteBuffer: {capacity: 256MiB}\n"
      + "readCache: {capacity: 16MiB}\nmanagement: {port: 0}\n";

  @Test
  void metricsAndStatsMoveWithIscsiAndNfsIoAndNeedTheCredential() throws Exception {
    try (Appliance a = Appliance.start(new ConfigLoader(work).parse(YAML, "test", ConfigOverrides.none()))) {
      Http anon = Http.anonymous(a);
      HttpResponse<String> denied = anon.get("/metrics");
      assertEquals(401, denied.statusCode());
      assertFalse(denied.body().contains("vsa_"), "no metric leaks without the credential");
      assertEquals(401, anon.get("/api/v1/stats").statusCode());
      Http admin = Http.admin(a, "http", null);

      HttpResponse<String> first = admin.get("/metrics");
      assertEquals(200, first.statusCode());
      assertEquals("text/plain; version=0.0.4; charset=utf-8", first.headers().firstValue("Content-Type").orElse(""));
      List<Family> before = parse(first.body());
      JsonNode stats0 = stats(admin);
      assertShape(stats0);
      assertEquals(Set.of("demo", "idle"), names(stats0.get("vdisks")), "idle vDisks are listed too");
      assertEquals("n1", stats0.get("node").get("name").asText());

      // iSCSI: 4 WRITE(10) of 32 KiB with FUA, then 4 READ(10) of the same
      int iscsi = a.iscsi().orElseThrow().localAddress().getPort();
      byte[] disk = new byte[4 * BLOCKS * 512];
      new Random(3).nextBytes(disk);
      try (RawInitiator i = new RawInitiator(iscsi)) {
        assertEquals(0, i.login(IscsiConfig.DEFAULT_IQN, org.vsa.appliance.DtlProcessTestAccess.ops()).u8(36));
        for (int c = 0; c < 4; c++) {
          byte[] chunk = Arrays.copyOfRange(disk, c * BLOCKS * 512, (c + 1) * BLOCKS * 512);
          assertEquals(0, i.scsi(0, RawInitiator.write10((long) c * BLOCKS, BLOCKS, true), chunk, 0).status());
        }
        ByteArrayOutputStream back = new ByteArrayOutputStream();
        for (int c = 0; c < 4; c++) {
          RawInitiator.Result r = i.scsi(0, RawInitiator.read10((long) c * BLOCKS, BLOCKS), null, BLOCKS * 512);
          assertEquals(0, r.status());
          back.write(r.data());
        }
        assertArrayEquals(disk, back.toByteArray());
      }

      List<Family> after = parse(admin.get("/metrics").body());
      Map<String, String> demoWrite = Map.of("vdisk", "demo", "vpool", "default", "op", "write");
      Map<String, String> demoRead = Map.of("vdisk", "demo", "vpool", "default", "op", "read");
      assertEquals(disk.length, delta(before, after, "vsa_vdisk_io_bytes_total", demoWrite), "bytes written");
      assertEquals(disk.length, delta(before, after, "vsa_vdisk_io_bytes_total", demoRead), "bytes read");
      assertEquals(4, delta(before, after, "vsa_vdisk_io_seconds_count", demoWrite), "one write per WRITE(10)");
      assertEquals(4, delta(before, after, "vsa_vdisk_io_seconds_count", demoRead), "one read per READ(10)");
      assertTrue(value(after, "vsa_vdisk_io_seconds_sum", demoWrite) > value(before, "vsa_vdisk_io_seconds_sum", demoWrite),
          "write latency is summed");
      assertEquals(0, value(after, "vsa_vdisk_io_bytes_total", Map.of("vdisk", "idle", "op", "write")));
      // the histogram: buckets with le, the +Inf one holding every write
      Family io = family(after, "vsa_vdisk_io_seconds");
      assertEquals("histogram", io.type);
      long buckets = io.samples.stream().filter(s -> s.name.equals("vsa_vdisk_io_seconds_bucket")
          && s.labels.get("vdisk").equals("demo") && s.labels.get("op").equals("write")).count();
      assertTrue(buckets > 10, "a percentile histogram has many buckets: " + buckets);
      assertEquals(value(after, "vsa_vdisk_io_seconds_count", demoWrite),
          value(after, "vsa_vdisk_io_seconds_bucket", Map.of("vdisk", "demo", "op", "write", "le", "+Inf")));
      // the rest of the node
      for (String f : List.of("jvm_memory_used_bytes", "jvm_gc_pause_seconds", "jvm_threads_live_threads",
          "process_cpu_usage", "process_uptime_seconds", "vsa_writebuffer_used_bytes", "vsa_writebuffer_capacity_bytes",
          "vsa_writebuffer_throttled_writes", "vsa_readcache_hits", "vsa_readcache_misses",
          "vsa_readcache_capacity_bytes", "vsa_backend_puts", "vsa_backend_errors", "vsa_vdisk_dtl_state",
          "vsa_vdisk_engine_reads_local", "vsa_dtl_server_used_bytes")) {
        family(after, f);
      }
      assertEquals(16L << 20, value(after, "vsa_readcache_capacity_bytes", Map.of()));
      assertEquals(1, value(after, "vsa_vdisk_dtl_state", Map.of("vdisk", "demo", "state", "ok_standalone")));

      JsonNode stats1 = stats(admin);
      assertShape(stats1);
      JsonNode demo1 = vdisk(stats1, "demo");
      JsonNode demo0 = vdisk(stats0, "demo");
      assertEquals(disk.length, demo1.get("writeBytes").asLong() - demo0.get("writeBytes").asLong());
      assertEquals(disk.length, demo1.get("readBytes").asLong() - demo0.get("readBytes").asLong());
      assertEquals(4, demo1.get("writeOps").asLong() - demo0.get("writeOps").asLong());
      assertTrue(demo1.get("writeLatencyMicrosTotal").asLong() > demo0.get("writeLatencyMicrosTotal").asLong());
      assertEquals(0, vdisk(stats1, "idle").get("writeOps").asLong());

      // NFS: a file copied in is a new vDisk, whose meters appear; its bytes are counted
      var nfs = a.nfs().orElseThrow();
      String file = "nfs://127.0.0.1/default/copy.img?nfsport=" + nfs.localAddress().getPort() + "&mountport="
          + nfs.mountAddress().getPort() + "&version=3";
      byte[] data = new byte[1 << 20];
      new Random(5).nextBytes(data);
      Path in = work.resolve("in.img");
      Files.write(in, data);
      run("nfs-cp", in.toString(), file);
      Path out = work.resolve("out.img");
      run("nfs-cp", file, out.toString());
      assertArrayEquals(data, Files.readAllBytes(out));
      JsonNode stats2 = stats(admin);
      JsonNode copy = vdisk(stats2, "copy");
      assertEquals(data.length, copy.get("writeBytes").asLong(), "bytes written over NFS");
      assertEquals(data.length, copy.get("readBytes").asLong(), "bytes read over NFS");
      JsonNode pool = stats2.get("vpools").get(0);
      assertEquals("default", pool.get("name").asText());
      long sum = 0;
      for (JsonNode v : stats2.get("vdisks")) {
        sum += v.get("writeBytes").asLong();
      }
      assertEquals(sum, pool.get("writeBytes").asLong(), "a vPool's figures are its vDisks' sum");
      List<Family> withCopy = parse(admin.get("/metrics").body());
      assertEquals(data.length, value(withCopy, "vsa_vdisk_io_bytes_total", Map.of("vdisk", "copy", "op", "write")));

      // deleted: its meters go
      a.engine().delete("copy");
      assertFalse(names(stats(admin).get("vdisks")).contains("copy"));
      assertTrue(parse(admin.get("/metrics").body()).stream().flatMap(f -> f.samples.stream())
          .noneMatch(s -> "copy".equals(s.labels.get("vdisk"))), "no meter of a deleted vDisk");
      assertEquals(405, admin.post("/metrics").statusCode(), "GET only");
    }
  }

  // ------------------------------------------------------------ stats

  static JsonNode stats(Http admin) throws Exception {
    HttpResponse<String> r = admin.get("/api/v1/stats");
    assertEquals(200, r.statusCode(), r.body());
    return JSON.readTree(r.body());
  }

  /** The contract the web dashboard codes against. */
  static void assertShape(JsonNode s) {
    assertEquals(new TreeSet<>(List.of("time", "node", "vdisks", "vpools", "writeBuffer", "readCache", "backend", "dtl")),
        fields(s));
    assertTrue(s.get("time").isIntegralNumber());
    assertEquals(new TreeSet<>(List.of("name", "uptimeSeconds")), fields(s.get("node")));
    Set<String> io = Set.of("readOps", "writeOps", "readBytes", "writeBytes", "readLatencyMicrosTotal",
        "writeLatencyMicrosTotal");
    for (JsonNode v : s.get("vdisks")) {
      Set<String> want = new TreeSet<>(io);
      want.add("name");
      want.add("vpool");
      assertEquals(want, fields(v));
      io.forEach(k -> assertTrue(v.get(k).isIntegralNumber(), k));
    }
    for (JsonNode v : s.get("vpools")) {
      Set<String> want = new TreeSet<>(io);
      want.add("name");
      assertEquals(want, fields(v));
    }
    assertEquals(new TreeSet<>(List.of("usedBytes", "capacityBytes", "throttling", "throttledWrites")),
        fields(s.get("writeBuffer")));
    assertTrue(s.get("writeBuffer").get("throttling").isBoolean());
    assertEquals(new TreeSet<>(List.of("usedBytes", "capacityBytes", "hits", "misses")), fields(s.get("readCache")));
    assertEquals(new TreeSet<>(List.of("kind", "healthy", "puts", "gets", "errors")), fields(s.get("backend")));
    assertEquals("local", s.get("backend").get("kind").asText());
    assertTrue(s.get("backend").get("healthy").asBoolean());
    for (JsonNode d : s.get("dtl")) {
      assertEquals(new TreeSet<>(List.of("vdisk", "mode", "state")), fields(d));
    }
    assertEquals(names(s.get("vdisks")), names(s.get("dtl"), "vdisk"));
  }

  static JsonNode vdisk(JsonNode stats, String name) {
    for (JsonNode v : stats.get("vdisks")) {
      if (v.get("name").asText().equals(name)) {
        return v;
      }
    }
    throw new AssertionError("no vDisk " + name + " in " + stats);
  }

  static Set<String> names(JsonNode list) {
    return names(list, "name");
  }

  static Set<String> names(JsonNode list, String key) {
    Set<String> out = new TreeSet<>();
    list.forEach(v -> out.add(v.get(key).asText()));
    return out;
  }

  static Set<String> fields(JsonNode n) {
    Set<String> out = new TreeSet<>();
    n.fieldNames().forEachRemaining(out::add);
    return out;
  }

  // ------------------------------------------------------------ the Prometheus parser

  static final class Family {
    String name;
    String type;
    List<Sample> samples = new ArrayList<>();
  }

  static final class Sample {
    String name;
    Map<String, String> labels;
    double value;
  }

  private static final String PARSER = String.join("\n",
      "import json, math, sys",
      "from prometheus_client.parser import text_string_to_metric_families",
      "out = []",
      "for f in text_string_to_metric_families(sys.stdin.read()):",
      "    out.append({'name': f.name, 'type': f.type, 'samples': [{'name': s.name, 'labels': s.labels,",
      "        'value': s.value if math.isfinite(s.value) else str(s.value)} for s in f.samples]})",
      "json.dump(out, sys.stdout)");

  /** The exposition as Prometheus's reference parser reads it; a format error fails the test. */
  static List<Family> parse(String text) throws Exception {
    Process p = new ProcessBuilder("/usr/bin/python3", "-c", PARSER).redirectErrorStream(false).start();
    try (var stdin = p.getOutputStream()) {
      stdin.write(text.getBytes(StandardCharsets.UTF_8));
    }
    byte[] stdout = p.getInputStream().readAllBytes();
    String stderr = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(60, TimeUnit.SECONDS), "the parser finished");
    assertEquals(0, p.exitValue(), "prometheus_client could not parse /metrics: " + stderr);
    List<Family> out = new ArrayList<>();
    for (JsonNode f : JSON.readTree(stdout)) {
      Family fam = new Family();
      fam.name = f.get("name").asText();
      fam.type = f.get("type").asText();
      for (JsonNode s : f.get("samples")) {
        Sample smp = new Sample();
        smp.name = s.get("name").asText();
        smp.labels = JSON.convertValue(s.get("labels"), JSON.getTypeFactory().constructMapType(Map.class, String.class,
            String.class));
        smp.value = s.get("value").isNumber() ? s.get("value").asDouble() : Double.parseDouble(s.get("value").asText()
            .replace("inf", "Infinity"));
        fam.samples.add(smp);
      }
      out.add(fam);
    }
    return out;
  }

  static Family family(List<Family> fams, String sampleName) {
    for (Family f : fams) {
      if (f.samples.stream().anyMatch(s -> s.name.equals(sampleName)) || f.name.equals(sampleName)) {
        return f;
      }
    }
    throw new AssertionError("no metric " + sampleName);
  }

  /** The one sample of that name whose labels include {@code labels}. */
  static double value(List<Family> fams, String sampleName, Map<String, String> labels) {
    List<Double> found = new ArrayList<>();
    for (Family f : fams) {
      for (Sample s : f.samples) {
        if (s.name.equals(sampleName) && s.labels.entrySet().containsAll(labels.entrySet())) {
          found.add(s.value);
        }
      }
    }
    assertEquals(1, found.size(), sampleName + " " + labels + ": " + found);
    return found.get(0);
  }

  static long delta(List<Family> before, List<Family> after, String sampleName, Map<String, String> labels) {
    return Math.round(value(after, sampleName, labels) - value(before, sampleName, labels));
  }

  static void run(String... cmd) throws Exception {
    Process p = new ProcessBuilder(cmd).redirectErrorStream(true).start();
    String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    assertTrue(p.waitFor(120, TimeUnit.SECONDS), String.join(" ", cmd) + " finished");
    assertEquals(0, p.exitValue(), String.join(" ", cmd) + ": " + out);
  }
}
