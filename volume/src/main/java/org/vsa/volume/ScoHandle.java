package org.vsa.volume;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.function.LongConsumer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A SCO file in the write buffer, reference-counted so that eviction (after upload) never
 * closes the file under a reader: the owner holds one reference; readers take one around each
 * read; the last release closes and deletes the file and gives its bytes back to the write
 * buffer.
 */
final class ScoHandle {
  private static final Logger log = LoggerFactory.getLogger(ScoHandle.class);

  final long number;
  final Path path;
  final FileChannel channel;
  private final AtomicInteger refs = new AtomicInteger(1);
  private final LongConsumer onDeleted;

  ScoHandle(long number, Path path, FileChannel channel, LongConsumer onDeleted) {
    this.number = number;
    this.path = path;
    this.channel = channel;
    this.onDeleted = onDeleted;
  }

  /** Takes a reference for a read; false if the SCO is already being evicted. */
  boolean tryAcquire() {
    while (true) {
      int r = refs.get();
      if (r <= 0) {
        return false;
      }
      if (refs.compareAndSet(r, r + 1)) {
        return true;
      }
    }
  }

  void release() {
    if (refs.decrementAndGet() == 0) {
      long size = 0;
      try {
        // by path, not by channel: an interrupted uploader thread must still let the file go
        size = Files.size(path);
        channel.close();
        Files.deleteIfExists(path);
      } catch (IOException e) {
        log.warn("could not remove uploaded SCO {} from the write buffer: {}", path, e.toString());
      }
      onDeleted.accept(size);
    }
  }

  /** Closes without deleting (the vDisk is closing; the file stays for the next start). */
  void closeKeep() throws IOException {
    channel.close();
  }
}
