package org.vsa.appliance;

/**
 * The appliance could not start (a directory cannot be created or written, the data directory
 * is in use, the engine failed). The message is one line for the operator; the command line
 * prints it and exits with status 1.
 */
public final class StartupException extends Exception {
  public StartupException(String message) {
    super(message);
  }

  public StartupException(String message, Throwable cause) {
    super(message, cause);
  }
}
