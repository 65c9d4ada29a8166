package org.vsa.appliance.cluster;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;

import java.io.IOException;
import java.util.Arrays;
import java.util.UUID;
import org.junit.jupiter.api.Test;

/** The name and deletion records of the cluster namespace: names parse back, damage is refused. */
class DeletionRecordsTest {

  @Test
  void recordNamesParseBackEvenForNamesThatLookLikeGenerations() {
    assertEquals("name.vm1", DeletionRecords.nameRecord("vm1", 1));
    assertEquals("name-000000000002.vm1", DeletionRecords.nameRecord("vm1", 2));
    assertEquals(new DeletionRecords.Named("vm1", 1), DeletionRecords.parseName("name.vm1"));
    assertEquals(new DeletionRecords.Named("vm1", 2), DeletionRecords.parseName("name-000000000002.vm1"));
    // a vDisk whose own name ends like a generation keeps its records apart
    String odd = "a.000000000002";
    assertEquals(new DeletionRecords.Named(odd, 1), DeletionRecords.parseName(DeletionRecords.nameRecord(odd, 1)));
    assertEquals(new DeletionRecords.Named(odd, 3), DeletionRecords.parseSuffixed(DeletionRecords.DELETED_PREFIX,
        DeletionRecords.deletedRecord(odd, 3)));
    assertEquals(new DeletionRecords.Named("vm1", 7), DeletionRecords.parseSuffixed(DeletionRecords.DELETING_PREFIX,
        DeletionRecords.deletingRecord("vm1", 7)));
    assertNull(DeletionRecords.parseSuffixed(DeletionRecords.DELETED_PREFIX, "deleted.vm1"));
    assertNull(DeletionRecords.parseSuffixed(DeletionRecords.DELETED_PREFIX, "deleted.vm1.00000000000x"));
    assertNull(DeletionRecords.parseName("name-000000000001.vm1"), "generation 1 has the plain name");
    assertNull(DeletionRecords.parseName("namesake"));
  }

  @Test
  void deletionRecordsRoundTripAndRejectDamage() throws IOException {
    DeletionRecords.Deletion d = new DeletionRecords.Deletion(DeletionRecords.DONE, "vm1", 2, UUID.randomUUID(), "n2",
        17);
    byte[] bytes = DeletionRecords.encode(d);
    assertEquals(d, DeletionRecords.decode(bytes, "test"));
    for (int i = 0; i < bytes.length; i++) {
      byte[] bad = bytes.clone();
      bad[i] ^= 0x01;
      int at = i;
      assertThrows(IOException.class, () -> DeletionRecords.decode(bad, "flipped byte " + at));
    }
    for (int n = 0; n < bytes.length; n++) {
      int len = n;
      assertThrows(IOException.class, () -> DeletionRecords.decode(Arrays.copyOf(bytes, len), "cut at " + len));
    }
  }
}
