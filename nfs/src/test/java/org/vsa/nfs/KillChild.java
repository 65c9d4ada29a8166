package org.vsa.nfs;

import java.nio.file.Path;

/** A server process for {@link KillTest}: prints its ports, then serves until killed. */
public final class KillChild {
  private KillChild() {}

  public static void main(String[] args) throws Exception {
    Fixture fx = new Fixture(Path.of(args[0]));
    System.out.println("PORTS " + fx.nfsPort() + " " + fx.mountPort());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE);
  }
}
