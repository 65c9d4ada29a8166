package org.vsa.volume;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;

/** File-system durability helpers. */
final class Fs {
  private Fs() {}

  /** Makes the directory's entries (created, renamed, deleted files) durable. */
  static void fsyncDirectory(Path dir) throws IOException {
    try (FileChannel ch = FileChannel.open(dir, StandardOpenOption.READ)) {
      ch.force(true);
    }
  }

  /**
   * Before a file is changed in place: when it has other hard links (a sealed SCO that a
   * local-directory backend took by linking it), gives this name its own copy first, so that the
   * change never reaches the other names. A no-op for a file with one link.
   */
  static void unshare(Path file) throws IOException {
    Object links = Files.getAttribute(file, "unix:nlink");
    if (!(links instanceof Integer n) || n <= 1) {
      return;
    }
    Path temp = file.resolveSibling(file.getFileName() + ".unshare");
    Files.copy(file, temp, StandardCopyOption.REPLACE_EXISTING);
    try (FileChannel ch = FileChannel.open(temp, StandardOpenOption.READ)) {
      ch.force(true);
    }
    Files.move(temp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
    fsyncDirectory(file.getParent());
  }
}
