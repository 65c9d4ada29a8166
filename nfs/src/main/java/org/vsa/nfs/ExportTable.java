package org.vsa.nfs;

import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;

/**
 * The exports as they are now: what MOUNT resolves paths against and what NFS finds a file
 * handle's namespace in. Replaced as a whole ({@link NfsServer#setExports}); readers see the old
 * table or the new one, never a mix. A handle of a namespace no longer exported finds nothing (the
 * client gets NFS3ERR_STALE).
 */
final class ExportTable implements Iterable<Exported> {
  private record Snapshot(List<Exported> list, Map<Long, Exported> byNamespace) {}

  private volatile Snapshot now;

  ExportTable(List<Exported> exports) {
    set(exports);
  }

  void set(List<Exported> exports) {
    Map<Long, Exported> m = new HashMap<>();
    for (Exported e : exports) {
      m.put(e.namespace().namespaceId(), e);
    }
    now = new Snapshot(List.copyOf(exports), Map.copyOf(m));
  }

  /** The export whose namespace has this id, or null. */
  Exported get(long namespaceId) {
    return now.byNamespace.get(namespaceId);
  }

  List<Exported> all() {
    return now.list;
  }

  @Override
  public Iterator<Exported> iterator() {
    return now.list.iterator();
  }
}
