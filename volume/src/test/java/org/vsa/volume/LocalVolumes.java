package org.vsa.volume;

import java.io.IOException;
import java.nio.file.Path;

/** For tests of other modules: removes a directory tree (a lost write buffer). */
public final class LocalVolumes {
  private LocalVolumes() {}

  public static void deleteTree(Path dir) throws IOException {
    LocalVolume.deleteTree(dir);
  }
}
