package org.vsa.backends.fragment;

import java.io.IOException;

/**
 * Too few intact fragments of an object are reachable to rebuild the bytes asked for (more than
 * m lost, or their stores down). Never answered with wrong bytes instead.
 */
public final class DataUnavailableException extends IOException {
  public DataUnavailableException(String message) {
    super(message);
  }
}
