package org.vsa.nfs;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import com.github.benmanes.caffeine.cache.RemovalCause;
import java.io.Closeable;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Open channels of small files' data files ({@code files/<id>}), so that a READ or WRITE does not
 * open and close its file. At most {@link #OPEN_MAX} stay open (least recently used closed first).
 * A channel is closed when it is evicted or {@link #forget forgotten} and no I/O uses it any more:
 * users {@link #acquire} and {@link #release} it, so eviction never closes a channel under a write.
 * Durability is unchanged by the cache: fsync is per file, whichever descriptor asks for it; a data
 * file this cache created has its directory fsynced with its first {@link Open#force}.
 */
final class DataFiles implements Closeable {
  private static final Logger log = LoggerFactory.getLogger(DataFiles.class);
  static final int OPEN_MAX = 128;

  private final Path dir;
  private final Cache<Long, Open> open;

  DataFiles(Path dir, int openMax) {
    this.dir = dir;
    this.open = Caffeine.newBuilder()
        .maximumSize(openMax)
        .executor(Runnable::run)
        .<Long, Open>removalListener((id, o, cause) -> {
          if (o != null && cause != RemovalCause.REPLACED) {
            o.retire();
          }
        })
        .build();
  }

  /** One open data file. */
  final class Open {
    final long id;
    final FileChannel ch;
    private final boolean created;
    private boolean dirSynced;
    private int users;
    private boolean retired;

    private Open(long id, FileChannel ch, boolean created) {
      this.id = id;
      this.ch = ch;
      this.created = created;
    }

    private synchronized boolean use() {
      if (retired) {
        return false;
      }
      users++;
      return true;
    }

    private synchronized void retire() {
      retired = true;
      if (users == 0) {
        closeQuietly();
      }
    }

    private synchronized void unuse() {
      if (--users == 0 && retired) {
        closeQuietly();
      }
    }

    /** fsyncs the data file (and, once, the directory that got its new name). */
    void force() throws IOException {
      ch.force(true);
      boolean syncDir;
      synchronized (this) {
        syncDir = created && !dirSynced;
        dirSynced = true;
      }
      if (syncDir) {
        try (FileChannel d = FileChannel.open(dir, StandardOpenOption.READ)) {
          d.force(true);
        }
      }
    }

    private void closeQuietly() {
      try {
        ch.close();
      } catch (IOException e) {
        log.warn("closing the data file of {} failed: {}", id, e.toString());
      }
    }
  }

  Path path(long id) {
    return dir.resolve(Long.toString(id));
  }

  /** The open data file of {@code id}, created if missing; {@link #release} it after the I/O. */
  Open acquire(long id) throws IOException {
    for (int attempt = 0; ; attempt++) {
      Open o;
      try {
        o = open.get(id, k -> {
          try {
            Path p = path(k);
            boolean created = !Files.exists(p);
            return new Open(k, FileChannel.open(p, StandardOpenOption.CREATE, StandardOpenOption.READ,
                StandardOpenOption.WRITE), created);
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        });
      } catch (UncheckedIOException e) {
        throw e.getCause();
      }
      if (o.use()) {
        return o;
      }
      // Evicted between the lookup and use(): the next lookup opens it again.
      open.asMap().remove(id, o);
      if (attempt > 100) {
        throw new IOException("data file of " + id + " keeps being evicted");
      }
    }
  }

  void release(Open o) {
    o.unuse();
  }

  /** The file is gone or no longer a small file: its channel closes once its last user is done. */
  void forget(long id) {
    open.invalidate(id);
  }

  @Override
  public void close() {
    open.invalidateAll();
    open.cleanUp();
  }
}
