package org.vsa.bench;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.nfs.Export;
import org.vsa.nfs.NfsConfig;
import org.vsa.nfs.NfsServer;
import org.vsa.nfs.VolumeCatalog;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.CachePolicy;
import org.vsa.volume.Engine;
import org.vsa.volume.EngineConfig;
import org.vsa.volume.VolumeSpec;
import org.vsa.volume.remote.PeerClient;
import org.vsa.volume.remote.RemoteVolume;
import org.vsa.volume.remote.RemoteVolumeServer;

/**
 * nfs-cp of a file in and out of two NFS servers over one engine, in this process: "direct" (its
 * catalog hands out the engine's volumes) and "forwarded" (its catalog hands out RemoteVolumes to a
 * RemoteVolumeServer in front of the same engine, over 127.0.0.1). Every copy goes to a new file,
 * the order alternates per round, every download is compared with the source. Options:
 * {@code --mib=N --rounds=N --dir=PATH}. Needs libnfs-utils (nfs-cp).
 */
public final class ForwardNfsBench {
  private ForwardNfsBench() {}

  static final class Direct implements VolumeCatalog {
    final Engine engine;

    Direct(Engine engine) {
      this.engine = engine;
    }

    @Override
    public Optional<BlockVolume> get(String name) {
      return engine.handle(name).map(v -> v);
    }

    @Override
    public List<Entry> list() {
      return engine.volumes().stream().map(v -> new Entry(v.name(), v.spec().vpool())).toList();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      return engine.create(new VolumeSpec(name, vpool, sizeBytes, 512, 64L << 20, CachePolicy.ON_READ));
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      engine.resize(name, sizeBytes);
      return engine.handle(name).orElseThrow();
    }

    @Override
    public void delete(String name) throws IOException {
      engine.delete(name);
    }
  }

  static final class Forwarded implements VolumeCatalog {
    final Direct direct;
    final PeerClient owner;
    final Map<String, RemoteVolume> open = new ConcurrentHashMap<>();

    Forwarded(Direct direct, PeerClient owner) {
      this.direct = direct;
      this.owner = owner;
    }

    @Override
    public Optional<BlockVolume> get(String name) {
      if (direct.get(name).isEmpty()) {
        return Optional.empty();
      }
      return Optional.of(open.computeIfAbsent(name, n -> {
        try {
          return owner.open(n);
        } catch (IOException e) {
          throw new java.io.UncheckedIOException(e);
        }
      }));
    }

    @Override
    public List<Entry> list() {
      return direct.list();
    }

    @Override
    public BlockVolume create(String name, String vpool, long sizeBytes) throws IOException {
      direct.create(name, vpool, sizeBytes);
      return get(name).orElseThrow();
    }

    @Override
    public BlockVolume resize(String name, long sizeBytes) throws IOException {
      RemoteVolume v = (RemoteVolume) get(name).orElseThrow();
      v.resize(sizeBytes, false);
      return v;
    }

    @Override
    public BlockVolume grow(String name, long sizeBytes) throws IOException {
      RemoteVolume v = (RemoteVolume) get(name).orElseThrow();
      v.resize(sizeBytes, true);
      return v;
    }

    @Override
    public void delete(String name) throws IOException {
      open.remove(name);
      direct.delete(name);
    }

    @Override
    public void moved(String name) {
      open.remove(name);
    }
  }

  public static void main(String[] args) throws Exception {
    int mib = 1024;
    int rounds = 3;
    Path dir = Path.of("forward-nfs-bench-data");
    for (String a : args) {
      String v = a.substring(a.indexOf('=') + 1);
      if (a.startsWith("--mib=")) {
        mib = Integer.parseInt(v);
      } else if (a.startsWith("--rounds=")) {
        rounds = Integer.parseInt(v);
      } else if (a.startsWith("--dir=")) {
        dir = Path.of(v);
      } else {
        System.err.println("usage: ForwardNfsBench [--mib=N] [--rounds=N] [--dir=PATH]");
        System.exit(2);
      }
    }
    Files.createDirectories(dir);
    Path src = Path.of("/dev/shm/fwd-nfs-src.bin");
    Path back = Path.of("/dev/shm/fwd-nfs-back.bin");
    byte[] block = new byte[1 << 20];
    new java.util.Random(1).nextBytes(block);
    try (var out = Files.newOutputStream(src)) {
      for (int i = 0; i < mib; i++) {
        block[0] = (byte) i;
        out.write(block);
      }
    }
    EngineConfig cfg = EngineConfig.underDataDir(dir.resolve("engine"),
        new LocalDirectoryObjectStore(dir.resolve("engine").resolve("backend")));
    Direct direct;
    List<String> lines = new ArrayList<>();
    Map<String, List<Double>> in = new java.util.TreeMap<>();
    Map<String, List<Double>> outs = new java.util.TreeMap<>();
    try (Engine engine = Engine.start(cfg);
        RemoteVolumeServer server = RemoteVolumeServer.start(RemoteVolumeServer.Config.defaults().withPort(0),
            new RemoteVolumeServer.Exports() {
              @Override
              public Optional<BlockVolume> lookup(String n) {
                return engine.handle(n).map(x -> x);
              }

              @Override
              public BlockVolume resize(String n, long sizeBytes) throws IOException {
                engine.resize(n, sizeBytes);
                return engine.handle(n).orElseThrow();
              }
            });
        PeerClient client = new PeerClient(new InetSocketAddress("127.0.0.1", server.localAddress().getPort()),
            PeerClient.Config.defaults())) {
      direct = new Direct(engine);
      NfsServer d = NfsServer.start(config(dir.resolve("ns-direct")), direct);
      NfsServer f = NfsServer.start(config(dir.resolve("ns-forwarded")), new Forwarded(direct, client));
      try {
        for (int r = -1; r < rounds; r++) { // round -1: warm-up, not counted
          List<String> order = (r & 1) == 0 ? List.of("direct", "forwarded") : List.of("forwarded", "direct");
          for (String which : order) {
            NfsServer s = which.equals("direct") ? d : f;
            String url = "nfs://127.0.0.1/default/copy" + (r + 1) + ".raw?nfsport=" + s.localAddress().getPort()
                + "&mountport=" + s.mountAddress().getPort() + "&version=3";
            run("sync");
            double tIn = run("nfs-cp", src.toString(), url);
            Files.deleteIfExists(back); // nfs-cp does not overwrite a local file
            run("sync");
            double tOut = run("nfs-cp", url, back.toString());
            if (Files.mismatch(src, back) != -1) {
              throw new IllegalStateException(which + ": the copy out differs from the source");
            }
            String line = String.format(Locale.ROOT, "round %d %-9s in %.2f s (%.0f MiB/s), out %.2f s (%.0f MiB/s)", r,
                which, tIn, mib / tIn, tOut, mib / tOut);
            System.out.println(line);
            if (r >= 0) {
              in.computeIfAbsent(which, k -> new ArrayList<>()).add(mib / tIn);
              outs.computeIfAbsent(which, k -> new ArrayList<>()).add(mib / tOut);
            }
          }
        }
      } finally {
        f.close();
        d.close();
        Files.deleteIfExists(src);
        Files.deleteIfExists(back);
      }
    }
    for (String which : in.keySet()) {
      System.out.printf(Locale.ROOT, "median %-9s in %.0f MiB/s, out %.0f MiB/s%n", which, median(in.get(which)),
          median(outs.get(which)));
    }
  }

  static NfsConfig config(Path ns) {
    return NfsConfig.defaults(ns).withPorts(0, 0).withPortmap(NfsConfig.Portmap.NONE)
        .withExports(List.of(Export.open("default")));
  }

  /** The median (of an even count: the mean of the middle two). */
  static double median(List<Double> xs) {
    List<Double> s = new ArrayList<>(xs);
    s.sort(null);
    int n = s.size();
    return n % 2 == 1 ? s.get(n / 2) : (s.get(n / 2 - 1) + s.get(n / 2)) / 2;
  }

  /**
   * Runs a command (its stdout discarded: nfs-cp's "copied N bytes"; stderr shown), fails on a
   * non-zero exit; returns its wall time in seconds.
   */
  static double run(String... cmd) throws Exception {
    long t0 = System.nanoTime();
    Process p = new ProcessBuilder(cmd).redirectInput(ProcessBuilder.Redirect.INHERIT)
        .redirectOutput(ProcessBuilder.Redirect.DISCARD).redirectError(ProcessBuilder.Redirect.INHERIT).start();
    if (!p.waitFor(600, TimeUnit.SECONDS)) {
      p.destroyForcibly();
      throw new IllegalStateException(String.join(" ", cmd) + ": no end in 600 s");
    }
    if (p.exitValue() != 0) {
      throw new IllegalStateException(String.join(" ", cmd) + ": exit " + p.exitValue());
    }
    return (System.nanoTime() - t0) / 1e9;
  }
}
