package org.vsa.nfs;

import java.util.List;

/**
 * One exported vPool namespace.
 *
 * @param vpool the vPool whose namespace is exported
 * @param path the export path clients mount, e.g. {@code /default}
 * @param clients rules tried in order; the first that matches the client applies; none: refused
 */
public record Export(String vpool, String path, List<ClientRule> clients) {

  public Export {
    if (vpool == null || !vpool.matches("[A-Za-z0-9][A-Za-z0-9._-]{0,63}")) {
      throw new IllegalArgumentException("export vPool name is invalid: " + vpool);
    }
    if (path == null || !path.matches("(/[A-Za-z0-9._-]+)+")) {
      throw new IllegalArgumentException("export path must look like /name[/name...]; got " + path);
    }
    clients = List.copyOf(clients);
  }

  /** vPool {@code vpool} at {@code /vpool}, open to every client, read-write, no root squash. */
  public static Export open(String vpool) {
    return new Export(vpool, "/" + vpool, List.of(ClientRule.anyoneReadWrite()));
  }
}
