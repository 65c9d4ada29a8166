package org.vsa.backends;

import com.sun.jna.Library;
import com.sun.jna.Native;
import java.nio.file.Path;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Lets the kernel free a file's clean cached pages ({@code posix_fadvise(POSIX_FADV_DONTNEED)},
 * through JNA: the JDK has no call for it). Dirty pages are not dropped (the kernel starts their
 * writeback instead), so this never loses a byte; it only decides what stays cached. Where libc
 * cannot be loaded (not Linux), one INFO line and nothing more.
 */
final class PageCache {
  private static final Logger log = LoggerFactory.getLogger(PageCache.class);
  private static final int O_RDONLY = 0;
  private static final int POSIX_FADV_DONTNEED = 4;

  interface LibC extends Library {
    int open(String path, int flags);

    int posix_fadvise(int fd, long offset, long len, int advice);

    int close(int fd);
  }

  private static final LibC LIBC = load();

  private PageCache() {}

  private static LibC load() {
    if (!System.getProperty("os.name", "").toLowerCase(java.util.Locale.ROOT).contains("linux")) {
      log.info("page-cache hints are for Linux only; not given on {}", System.getProperty("os.name"));
      return null;
    }
    try {
      return Native.load("c", LibC.class);
    } catch (LinkageError | RuntimeException e) {
      log.info("page-cache hints off: cannot load libc through JNA ({})", e.toString());
      return null;
    }
  }

  /** Frees {@code file}'s clean cached pages; quietly nothing if it does not exist or the call fails. */
  static void drop(Path file) {
    LibC c = LIBC;
    if (c == null) {
      return;
    }
    int fd = c.open(file.toString(), O_RDONLY);
    if (fd < 0) {
      return;
    }
    try {
      c.posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
    } finally {
      c.close(fd);
    }
  }

  /** Whether the hints work here (tests). */
  static boolean available() {
    return LIBC != null;
  }
}
