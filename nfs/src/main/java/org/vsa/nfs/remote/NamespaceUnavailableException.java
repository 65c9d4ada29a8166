package org.vsa.nfs.remote;

import org.vsa.nfs.NfsException;
import org.vsa.nfs.Status;

/**
 * The namespace's owner could not be reached, stopped answering, or answered that it does not
 * serve the namespace (any more). Retryable: its status is {@link Status#JUKEBOX}, so an NFS
 * client retries later; the caller meanwhile asks the cluster for the namespace's owner again. The
 * outcome of the request is unknown (a change may or may not have been applied) unless
 * {@link #notOwner()}, in which case nothing was done.
 */
public final class NamespaceUnavailableException extends NfsException {
  private final boolean notOwner;

  public NamespaceUnavailableException(String message, boolean notOwner) {
    super(Status.JUKEBOX, message);
    this.notOwner = notOwner;
  }

  /** The peer answered that it does not serve the namespace: nothing was done there. */
  public boolean notOwner() {
    return notOwner;
  }
}
