package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;

/** A vDisk whose writes fail for lack of space answers NFS3ERR_NOSPC, not a generic I/O error. */
class NoSpaceTest {
  @TempDir
  Path dir;

  static final class FullVolume implements BlockVolume {
    long size = 4096;

    @Override
    public String name() {
      return "full";
    }

    @Override
    public UUID id() {
      return new UUID(1, 2);
    }

    @Override
    public long sizeBytes() {
      return size;
    }

    @Override
    public int blockSize() {
      return 512;
    }

    @Override
    public void read(long offset, ByteBuffer dst) {
      dst.position(dst.limit());
    }

    /** The engine's shape: the file system's error under the vDisk's, and later writes refused with it as the cause. */
    int writes;

    @Override
    public void write(long offset, ByteBuffer src, Durability durability) throws IOException {
      IOException fs = new IOException("No space left on device");
      IOException first = new IOException("vDisk full: writing SCO 3 in the write buffer failed", fs);
      throw writes++ == 0 ? first : new IOException("vDisk full stopped after a write-buffer failure", first);
    }

    @Override
    public void flush() {}

    @Override
    public void unmap(long offset, long length) {}
  }

  @Test
  void writeToAFullVdiskIsNospc() throws Exception {
    FullVolume v = new FullVolume();
    VolumeCatalog catalog = new VolumeCatalog() {
      boolean created;

      @Override
      public Optional<BlockVolume> get(String name) {
        return created && name.equals("full") ? Optional.of(v) : Optional.empty();
      }

      @Override
      public List<Entry> list() {
        return created ? List.of(new Entry("full", "default")) : List.of();
      }

      @Override
      public BlockVolume create(String name, String vpool, long sizeBytes) {
        created = true;
        return v;
      }

      @Override
      public BlockVolume resize(String name, long sizeBytes) {
        v.size = sizeBytes;
        return v;
      }

      @Override
      public void delete(String name) {}
    };
    try (LocalNamespace ns = LocalNamespace.open("default", dir, catalog, NfsConfig.DEFAULT_VDISK_PATTERNS)) {
      long id = ns.create(ns.rootId(), "full.raw", 0, 0, SetAttr.NONE, true);
      for (int i = 0; i < 2; i++) {
        NfsException e = assertThrows(NfsException.class,
            () -> ns.write(id, 0, ByteBuffer.allocate(4096), Durability.DURABLE));
        assertEquals(Status.NOSPC, e.status(), "write " + i);
      }
    }
  }
}
