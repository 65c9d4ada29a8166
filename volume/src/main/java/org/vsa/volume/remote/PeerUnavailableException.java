package org.vsa.volume.remote;

import java.io.IOException;

/**
 * The peer serving the vDisk could not be reached or stopped answering: no connection within the
 * connect timeout, the connection was lost, or no reply within the request timeout. The outcome of
 * the request is unknown (a write may or may not have been applied). The owner may have died: a
 * caller asks the cluster for the vDisk's owner again before retrying.
 */
public final class PeerUnavailableException extends IOException {
  public PeerUnavailableException(String message) {
    super(message);
  }

  public PeerUnavailableException(String message, Throwable cause) {
    super(message, cause);
  }
}
