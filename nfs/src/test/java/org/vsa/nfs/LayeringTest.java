package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.vsa.volume.SharedObjects;

/**
 * The NFS front end's own code names neither the backends, the cache, the DTL nor the appliance:
 * it reaches the backend only through volume's interfaces ({@link SharedObjects} for the namespace
 * mirror). (The build's enforcer bans those modules as direct dependencies; volume
 * still brings them in transitively, so this looks at the sources.)
 */
class LayeringTest {
  private static final Pattern FORBIDDEN = Pattern.compile("\\borg\\.vsa\\.(backends|cache|dtl|appliance)\\b");

  @Test
  void mainSourcesReachNoOtherLayer() throws Exception {
    Path main = Path.of("src/main/java");
    assertTrue(Files.isDirectory(main), main.toAbsolutePath() + " (run from the nfs module)");
    List<String> found = new ArrayList<>();
    int files = 0;
    try (Stream<Path> s = Files.walk(main)) {
      for (Path p : s.filter(x -> x.toString().endsWith(".java")).toList()) {
        files++;
        List<String> lines = Files.readAllLines(p);
        for (int i = 0; i < lines.size(); i++) {
          if (FORBIDDEN.matcher(lines.get(i)).find()) {
            found.add(main.relativize(p) + ":" + (i + 1) + ": " + lines.get(i).trim());
          }
        }
      }
    }
    assertTrue(files > 20, files + " source files");
    assertEquals(List.of(), found);
  }
}
