package org.vsa.dtl;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/**
 * A TCP proxy on 127.0.0.1 in front of a DTL server that can hold back the server's answers
 * (a DTL that receives but lags) and be killed (a DTL node that vanishes).
 */
public final class PausingProxy implements AutoCloseable {
  private final ServerSocket listener;
  private final InetSocketAddress target;
  private final List<Socket> sockets = new CopyOnWriteArrayList<>();
  private final Object gate = new Object();
  private boolean paused;
  private volatile boolean closed;

  public PausingProxy(int targetPort) throws IOException {
    target = new InetSocketAddress("127.0.0.1", targetPort);
    listener = new ServerSocket(0, 16, InetAddress.getLoopbackAddress());
    Thread t = new Thread(this::accept, "proxy-accept");
    t.setDaemon(true);
    t.start();
  }

  public int port() {
    return listener.getLocalPort();
  }

  /** Holds back (true) or lets through (false) the bytes from the server to the client. */
  public void pauseAnswers(boolean p) {
    synchronized (gate) {
      paused = p;
      gate.notifyAll();
    }
  }

  private void accept() {
    while (!closed) {
      try {
        Socket c = listener.accept();
        Socket s = new Socket();
        s.connect(target, 5000);
        sockets.add(c);
        sockets.add(s);
        pipe(c, s, false);
        pipe(s, c, true);
      } catch (IOException e) {
        return;
      }
    }
  }

  private void pipe(Socket from, Socket to, boolean answers) {
    Thread t = new Thread(() -> {
      byte[] buf = new byte[64 * 1024];
      try (InputStream in = from.getInputStream(); OutputStream out = to.getOutputStream()) {
        int n;
        while ((n = in.read(buf)) > 0) {
          if (answers) {
            synchronized (gate) {
              while (paused && !closed) {
                gate.wait(100);
              }
            }
          }
          out.write(buf, 0, n);
          out.flush();
        }
      } catch (IOException | InterruptedException e) {
        // connection gone
      } finally {
        closeQuietly(from);
        closeQuietly(to);
      }
    }, "proxy-pipe");
    t.setDaemon(true);
    t.start();
  }

  private static void closeQuietly(Socket s) {
    try {
      s.close();
    } catch (IOException e) {
      // already closed
    }
  }

  /** Kills the proxy: every connection through it and the listener. */
  @Override
  public void close() throws IOException {
    closed = true;
    pauseAnswers(false);
    listener.close();
    sockets.forEach(PausingProxy::closeQuietly);
  }
}
