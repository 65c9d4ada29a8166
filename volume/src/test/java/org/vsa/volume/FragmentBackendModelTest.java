package org.vsa.volume;

import java.io.IOException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import org.vsa.backends.LocalDirectoryObjectStore;
import org.vsa.backends.ObjectStore;
import org.vsa.backends.fragment.Compression;
import org.vsa.backends.fragment.EncryptionKey;
import org.vsa.backends.fragment.FragmentObjectStore;
import org.vsa.backends.fragment.Policy;
import org.vsa.backends.fragment.Preset;

/**
 * The engine's model test on the erasure-coded fragment backend: (4,2) over six directories,
 * 64 KiB fragments, lz4 and AES-256-GCM, so that every SCO and TLog goes through cutting,
 * coding, compression, encryption, and partial reads of single fragments.
 */
class FragmentBackendModelTest extends ModelBasedTest {
  static final Preset PRESET = new Preset("model",
      List.of(new Policy(4, 2, 5, 1), new Policy(2, 1, 3, 1)), 64 * 1024, Compression.LZ4, true);

  @Override
  protected ObjectStore backend(Path runDir) throws IOException {
    List<FragmentObjectStore.Disk> disks = new ArrayList<>();
    for (int i = 0; i < 6; i++) {
      disks.add(new FragmentObjectStore.Disk("disk" + i, new LocalDirectoryObjectStore(runDir.resolve("disk" + i))));
    }
    byte[] key = new byte[32];
    for (int i = 0; i < key.length; i++) {
      key[i] = (byte) (i * 7 + 1);
    }
    return new FragmentObjectStore(PRESET, disks, new EncryptionKey(key));
  }
}
