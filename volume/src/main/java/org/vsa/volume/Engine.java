package org.vsa.volume;

import java.io.IOException;
import java.util.List;
import java.util.Optional;

/**
 * The vDisk engine of one node: every vDisk it serves, the shared write buffer, read cache and
 * uploader. {@link #start} recovers every vDisk found under the metadata directory.
 */
public final class Engine implements AutoCloseable {

  private Engine() {}

  public static Engine start(EngineConfig config) throws IOException {
    throw new UnsupportedOperationException("engine under construction");
  }

  /** Every vDisk, sorted by name. */
  public List<Volume> volumes() {
    throw new UnsupportedOperationException();
  }

  public Optional<Volume> volume(String name) {
    throw new UnsupportedOperationException();
  }

  /** Creates a thin vDisk; IllegalStateException if the name is taken. */
  public Volume create(VolumeSpec spec) throws IOException {
    throw new UnsupportedOperationException();
  }

  /** Deletes the vDisk, locally and in the backend. */
  public void delete(String name) throws IOException {
    throw new UnsupportedOperationException();
  }

  /** Flushes every vDisk. */
  public void flushAll() throws IOException {
    throw new UnsupportedOperationException();
  }

  /** Flushes every vDisk, then stops. */
  @Override
  public void close() throws IOException {
    throw new UnsupportedOperationException();
  }
}
