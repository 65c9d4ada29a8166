package org.vsa.volume;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;

import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FsTest {
  @TempDir Path dir;

  /** Recovery truncates a write-buffer SCO in place only after giving it its own inode. */
  @Test
  void unshareKeepsTheOtherLinkIntact() throws Exception {
    byte[] data = new byte[64 * 1024];
    for (int i = 0; i < data.length; i++) {
      data[i] = (byte) (i * 31 + 7);
    }
    Path wb = Files.write(dir.resolve("sco_00000003"), data);
    Path backend = Files.createLink(dir.resolve("backend-copy"), wb);
    Fs.unshare(wb);
    assertEquals(1, Files.getAttribute(wb, "unix:nlink"));
    assertEquals(1, Files.getAttribute(backend, "unix:nlink"));
    try (FileChannel ch = FileChannel.open(wb, StandardOpenOption.WRITE)) {
      ch.truncate(4096);
    }
    assertEquals(4096, Files.size(wb));
    assertArrayEquals(data, Files.readAllBytes(backend), "the backend's name still has every byte");
    Fs.unshare(wb); // a file with one link: nothing happens
    assertEquals(4096, Files.size(wb));
  }
}
