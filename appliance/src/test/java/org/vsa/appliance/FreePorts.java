package org.vsa.appliance;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;

/** Free ports for the tests' listeners, one source for every test of this module. */
public final class FreePorts {
  private FreePorts() {}

  /** Ports this JVM handed out already: the kernel may offer a just-closed one again (n2 once got one port twice). */
  private static final java.util.Set<Integer> HANDED_OUT = java.util.concurrent.ConcurrentHashMap.newKeySet();

  /**
   * A free port not handed out before in this JVM (bounded: gives up after 1000 tries), below the
   * kernel's ephemeral range when there is room: a node binds its ports only seconds after they are
   * picked, and a port of that range may meanwhile be taken as the local port of some outgoing
   * connection (a node once failed to bind its NFS port so). Ports above 1024 and below the range
   * are only ever taken by listeners that ask for them.
   */
  public static int next() throws IOException {
    int low = ephemeralLow();
    java.util.concurrent.ThreadLocalRandom rnd = java.util.concurrent.ThreadLocalRandom.current();
    for (int i = 0; i < 1000; i++) {
      int port = low > 12_000 ? 10_000 + rnd.nextInt(low - 10_000) : 0;
      try (ServerSocket s = new ServerSocket()) {
        s.bind(new java.net.InetSocketAddress(port)); // the nodes listen on every address
        if (HANDED_OUT.add(s.getLocalPort())) {
          return s.getLocalPort();
        }
      } catch (java.net.BindException taken) {
        // in use: another one
      }
    }
    throw new IOException("no free port that was not handed out already");
  }

  /** The first port of the kernel's ephemeral range (32768 when it cannot be read). */
  private static int ephemeralLow() {
    try {
      return Integer.parseInt(Files.readAllLines(Path.of("/proc/sys/net/ipv4/ip_local_port_range")).get(0).trim().split("\\s+")[0]);
    } catch (IOException | RuntimeException e) {
      return 32768;
    }
  }
}
