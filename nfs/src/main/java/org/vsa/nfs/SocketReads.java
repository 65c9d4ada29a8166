package org.vsa.nfs;

import java.lang.reflect.Field;
import org.glassfish.grizzly.Connection;
import org.glassfish.grizzly.nio.transport.TCPNIOConnection;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How much Grizzly's selector thread asks for per socket read of an RPC connection.
 *
 * <p>Grizzly reads at most the connection's "read buffer size" per read, which it takes from
 * SO_RCVBUF the first time it asks: 64 KiB on an accepted Linux socket. A 64 KiB NFS WRITE is a
 * few hundred bytes more than that, so each one cost the single selector thread of the service two
 * wake-ups from epoll, two reads and two heap buffers (measured with strace during fio's 64 KiB
 * sequential writes: 1,288 reads of 65,536 bytes and 1,229 epoll_waits in 2 s). Asking for
 * {@link #READ_BYTES} lets one read take every call the client has queued, up to that.
 *
 * <p>Only Grizzly's own figure is changed (its private field), not SO_RCVBUF: Grizzly's public
 * setter would also set SO_RCVBUF, which on Linux turns off the kernel's receive-buffer
 * autotuning for that socket. If the field is not there (another Grizzly version), nothing
 * changes and one INFO line says so.
 *
 * <p>{@link #READ_BYTES} is 256 KiB: Grizzly copies each read into a heap array of the bytes read,
 * and that must stay below G1's humongous-object threshold (half a region: 512 KiB at the smallest
 * region size) so that a read never becomes a humongous allocation, whatever the heap size.
 */
final class SocketReads {
  private static final Logger log = LoggerFactory.getLogger(SocketReads.class);
  static final int READ_BYTES = 256 << 10;
  private static final Field READ_BUFFER_SIZE = field();

  private SocketReads() {}

  private static Field field() {
    try {
      Field f = TCPNIOConnection.class.getDeclaredField("readBufferSize");
      if (f.getType() != int.class) {
        throw new NoSuchFieldException("readBufferSize is a " + f.getType());
      }
      f.setAccessible(true);
      return f;
    } catch (ReflectiveOperationException | RuntimeException e) {
      log.info("Grizzly's per-read size stays at SO_RCVBUF ({}): NFS reads the socket 64 KiB at a time", e.toString());
      return null;
    }
  }

  /** Lets the selector read up to {@link #READ_BYTES} at a time from {@code c} (a TCP connection). */
  static void widen(Connection<?> c) {
    if (READ_BUFFER_SIZE == null || !(c instanceof TCPNIOConnection)) {
      return;
    }
    try {
      if (READ_BUFFER_SIZE.getInt(c) < READ_BYTES) {
        READ_BUFFER_SIZE.setInt(c, READ_BYTES);
      }
    } catch (IllegalAccessException e) {
      log.debug("cannot widen the socket reads of {}: {}", c, e.toString());
    }
  }

  /** What Grizzly asks for per read of {@code c} now (tests). */
  static int readBytes(Connection<?> c) {
    return ((TCPNIOConnection) c).getReadBufferSize();
  }
}
