package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.net.InetAddress;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** Client rules: who may mount, read-only exports, squashing. */
class ExportRulesTest {
  @TempDir
  Path dir;

  static Export export(ClientRule... rules) {
    return new Export("default", "/default", List.of(rules));
  }

  @Test
  void aClientOutsideTheRulesCannotMountNorUseAHandle() throws Exception {
    try (Fixture fx = new Fixture(dir, List.of(Export.open("default")))) {
      byte[] root;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        root = c.mnt("/default");
      }
      fx.restartServer(List.of(export(new ClientRule("10.0.0.0/8", false, Squash.NO_ROOT_SQUASH, 65534, 65534))));
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        Nfs3Client.MountError e = assertThrows(Nfs3Client.MountError.class, () -> c.mnt("/default"));
        assertEquals(13, e.status);
        assertEquals(Status.ACCES, c.getattr(root).status());
      }
      Tools.Result r = Tools.run(60, "nfs-ls", fx.url("/default/"));
      assertTrue(r.exit() != 0, "nfs-ls must fail: " + r.out());
    }
  }

  /**
   * Exports changed while the server runs: a new vPool's export serves at once (nfs-ls), a rule
   * made read-only rejects the next write with ROFS on a handle taken before, and a removed export
   * can no longer be mounted and its handles are stale. Bad tables change nothing.
   */
  @Test
  void exportsChangeWhileTheServerRuns() throws Exception {
    try (Fixture fx = new Fixture(dir, List.of(Export.open("default")))) {
      byte[] file;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        file = c.create(c.mnt("/default"), "f", 1).fh();
      }
      Export other = new Export("other", "/other", List.of(ClientRule.anyoneReadWrite()));
      fx.server.setExports(List.of(export(new ClientRule("127.0.0.1", true, Squash.NO_ROOT_SQUASH, 65534, 65534)),
          other));
      assertEquals(List.of("/default", "/other"), fx.server.exports().stream().map(Export::path).toList());
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        assertEquals(Status.ROFS, c.write(file, 0, new byte[10], 2).status());
        byte[] otherRoot = c.mnt("/other");
        assertEquals(0, c.create(otherRoot, "g", 1).status());
      }
      Tools.Result ls = Tools.run(60, "nfs-ls", fx.url("/other/"));
      assertEquals(0, ls.exit(), ls.out());
      assertTrue(ls.out().contains("g"), ls.out());

      assertThrows(IllegalArgumentException.class, () -> fx.server.setExports(List.of(Export.open("default"),
          new Export("other", "/default", List.of(ClientRule.anyoneReadWrite())))));
      assertThrows(IllegalArgumentException.class, () -> fx.server.setExports(List.of(Export.open("default"),
          new Export("other", "/default/sub", List.of(ClientRule.anyoneReadWrite())))));
      assertEquals(2, fx.server.exports().size(), "a refused table changes nothing");

      byte[] otherRoot;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        otherRoot = c.mnt("/other");
      }
      fx.server.setExports(List.of(Export.open("default")));
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        Nfs3Client.MountError e = assertThrows(Nfs3Client.MountError.class, () -> c.mnt("/other"));
        assertEquals(2, e.status, "MNT3ERR_NOENT");
        assertEquals(Status.STALE, c.getattr(otherRoot).status());
        assertEquals(0, c.write(file, 0, new byte[10], 2).status(), "read-write again");
      }
      Tools.Result gone = Tools.run(60, "nfs-ls", fx.url("/other/"));
      assertTrue(gone.exit() != 0, "nfs-ls of a removed export fails: " + gone.out());
    }
  }

  @Test
  void aReadOnlyExportRejectsWritesWithRofs() throws Exception {
    try (Fixture fx = new Fixture(dir, List.of(Export.open("default")))) {
      byte[] file;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        byte[] root = c.mnt("/default");
        file = c.create(root, "f", 1).fh();
      }
      fx.restartServer(List.of(export(new ClientRule("127.0.0.1", true, Squash.NO_ROOT_SQUASH, 65534, 65534))));
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        byte[] root = c.mnt("/default");
        assertEquals(Status.ROFS, c.write(file, 0, new byte[10], 2).status());
        assertEquals(Status.ROFS, c.create(root, "g", 1).status());
        assertEquals(Status.ROFS, c.mkdir(root, "d").status());
        assertEquals(Status.ROFS, c.remove(root, "f"));
        assertEquals(Status.ROFS, c.rename(root, "f", root, "h"));
        assertEquals(Status.ROFS, c.setSize(file, 0));
        assertEquals(0, c.getattr(file).status());
        assertEquals(0, c.read(file, 0, 10).length);
      }
    }
  }

  @Test
  void rootSquashMapsRootToTheAnonymousUserAndPermissionsApply() throws Exception {
    ClientRule squash = new ClientRule("*", false, Squash.ROOT_SQUASH, 4242, 4343);
    try (Fixture fx = new Fixture(dir, List.of(export(squash)))) {
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        byte[] root = c.mnt("/default");
        // The root directory is 0755 root:root; squashed root may not create in it.
        assertEquals(Status.ACCES, c.create(root, "x", 1).status());
      }
      fx.restartServer(List.of(Export.open("default")));
      byte[] shared;
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        byte[] root = c.mnt("/default");
        shared = c.mkdir(root, "shared").fh();
        assertEquals(0, c.setMode(shared, 0777));
      }
      fx.restartServer(List.of(export(squash)));
      try (Nfs3Client c = new Nfs3Client(fx, 0, 0)) {
        c.mnt("/default");
        Nfs3Client.Res f = c.create(shared, "mine", 1);
        assertEquals(0, f.status());
        assertEquals(4242, f.attr().uid());
        assertEquals(4343, f.attr().gid());
      }
      try (Nfs3Client c = new Nfs3Client(fx, 1000, 1000)) {
        c.mnt("/default");
        assertEquals(1000, c.create(shared, "user", 1).attr().uid());
        assertEquals(0, c.setMode(c.lookup(shared, "user").fh(), 0600));
        // Another user cannot read a 0600 file.
      }
      try (Nfs3Client c = new Nfs3Client(fx, 1001, 1001)) {
        c.mnt("/default");
        byte[] fh = c.lookup(shared, "user").fh();
        assertEquals(null, c.read(fh, 0, 10));
        assertEquals(Status.ACCES, c.write(fh, 0, new byte[1], 2).status());
      }
    }
  }

  @Test
  void rulesMatchIpsCidrsNamesAndStar() throws Exception {
    InetAddress lo = InetAddress.getByName("127.0.0.1");
    assertTrue(new ClientRule("127.0.0.0/8", false, Squash.NO_ROOT_SQUASH, 1, 1).matches(lo));
    assertTrue(new ClientRule("127.0.0.1", false, Squash.NO_ROOT_SQUASH, 1, 1).matches(lo));
    assertTrue(new ClientRule("localhost", false, Squash.NO_ROOT_SQUASH, 1, 1).matches(lo));
    assertTrue(new ClientRule("*", false, Squash.NO_ROOT_SQUASH, 1, 1).matches(lo));
    assertTrue(!new ClientRule("10.1.0.0/16", false, Squash.NO_ROOT_SQUASH, 1, 1).matches(lo));
    assertThrows(IllegalArgumentException.class, () -> new ClientRule("10.0.0.0/33", false, Squash.ALL_SQUASH, 1, 1));
  }
}
