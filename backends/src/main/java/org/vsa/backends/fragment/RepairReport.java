package org.vsa.backends.fragment;

/**
 * What one repair or verify pass found and did. While a pass runs, {@link
 * FragmentObjectStore#repairProgress()} returns the counts so far.
 *
 * @param objectsChecked objects whose fragments were checked
 * @param fragmentsMissing fragments absent, short, or on a store that is down
 * @param fragmentsCorrupt fragments whose CRC32C, identity or GCM tag failed (verify passes only
 *     read every fragment; repair passes check presence and size)
 * @param fragmentsRepaired fragments rebuilt from the others and stored again
 * @param manifestsRepaired stores given a missing or outdated manifest
 * @param objectsRewritten objects written under a fallback policy and rewritten under a better one
 * @param objectsUnrecoverable objects with fewer than k intact fragments
 * @param storesDown stores that did not answer at the start of the pass
 * @param deletesReplayed objects removed from a store that missed their delete (it was down then)
 */
public record RepairReport(long objectsChecked, long fragmentsMissing, long fragmentsCorrupt, long fragmentsRepaired,
    long manifestsRepaired, long objectsRewritten, long objectsUnrecoverable, int storesDown,
    long deletesReplayed) {

  @Override
  public String toString() {
    return objectsChecked + " objects checked, " + fragmentsMissing + " fragments missing, " + fragmentsCorrupt
        + " corrupt, " + fragmentsRepaired + " repaired, " + manifestsRepaired + " manifests repaired, "
        + objectsRewritten + " objects rewritten to a better policy, " + objectsUnrecoverable + " unrecoverable, "
        + storesDown + " stores down, " + deletesReplayed + " deletes replayed";
  }
}
