package org.vsa.nfs;

/** How an export maps the caller's identity (exports(5)). */
public enum Squash {
  /** uid 0 becomes the anonymous uid/gid; everyone else keeps theirs. */
  ROOT_SQUASH,
  /** Everyone keeps their uid/gid, root included (what ESXi needs). */
  NO_ROOT_SQUASH,
  /** Everyone becomes the anonymous uid/gid. */
  ALL_SQUASH
}
