package org.vsa.iscsi;

import java.nio.file.Files;
import java.nio.file.Path;

/** Not a test: starts a target for manual runs of libiscsi tools (mvn exec or IDE). */
final class ManualTarget {
  private ManualTarget() {}

  public static void main(String[] args) throws Exception {
    Path dir = Files.createTempDirectory("vsa-iscsi-manual");
    int blockSize = args.length > 1 ? Integer.parseInt(args[1]) : 512;
    try (TargetFixture f = new TargetFixture(dir, java.util.List.of(IscsiConfig.Target.of(TargetFixture.IQN,
        java.util.Map.of(0, "demo"))), blockSize)) {
      Files.writeString(Path.of(args.length > 0 ? args[0] : "/tmp/iscsi-port"), Integer.toString(f.port()));
      System.out.println("PORT " + f.port());
      Thread.sleep(Long.MAX_VALUE);
    }
  }
}
