package org.vsa.appliance.config;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

class SizesTest {

  @ParameterizedTest(name = "{0} = {1}")
  @CsvSource({
    "0, 0",
    "4096, 4096",
    "4096B, 4096",
    "4096 B, 4096",
    "4KiB, 4096", "4K, 4096", "4KB, 4096", "4kib, 4096", "4k, 4096", "4kb, 4096",
    "64MiB, 67108864", "64M, 67108864", "64MB, 67108864", "64 MiB, 67108864",
    "8GiB, 8589934592", "8G, 8589934592", "8GB, 8589934592", "8gb, 8589934592",
    "64TiB, 70368744177664", "64T, 70368744177664", "64TB, 70368744177664",
    "1.5GiB, 1610612736", "0.5KiB, 512", "' 1MiB ', 1048576",
    "8388607TiB, 9223370937343148032"
  })
  void parsesByteCountsAndEveryUnitAsBinary(String text, long bytes) {
    assertEquals(bytes, Sizes.parse(text));
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "GiB", "-1", "1,5GiB", "1 2", "1e3", "0x10", "8 gigs", "1PiB", "1.3B", "0.1KiB", "8388608TiB"})
  void refusesWhatIsNotAWholeSize(String text) {
    IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> Sizes.parse(text));
    assertTrue(e.getMessage().startsWith("is not a size") || e.getMessage().startsWith("has an unknown unit")
        || e.getMessage().startsWith("is not a whole number") || e.getMessage().startsWith("is too large"),
        e.getMessage());
  }

  @ParameterizedTest(name = "{0} -> {1}")
  @CsvSource({
    "0, 0B", "1, 1B", "4097, 4097B", "4096, 4KiB", "67108864, 64MiB", "1610612736, 1536MiB",
    "8589934592, 8GiB", "70368744177664, 64TiB"
  })
  void formatsExactlyInTheLargestUnitThatDivides(long bytes, String text) {
    assertEquals(text, Sizes.format(bytes));
    assertEquals(bytes, Sizes.parse(text));
  }
}
