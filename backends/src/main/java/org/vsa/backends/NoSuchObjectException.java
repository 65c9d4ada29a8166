package org.vsa.backends;

import java.io.IOException;

/** The object (or its namespace) does not exist in the store. */
public final class NoSuchObjectException extends IOException {
  public NoSuchObjectException(String namespace, String name) {
    super("no object '" + name + "' in namespace '" + namespace + "'");
  }

  /** The namespace itself does not exist (a list, or a put into a deleted vDisk's namespace). */
  public NoSuchObjectException(String namespace) {
    super("no namespace '" + namespace + "'");
  }
}
