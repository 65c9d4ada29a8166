package org.vsa.nfs;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;
import java.util.Random;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.vsa.nfs.remote.NamespaceServer;
import org.vsa.nfs.remote.RemoteNamespace;
import org.vsa.volume.Engine;
import org.vsa.volume.TestEngines;

/**
 * An NFS server whose export is another node's namespace ({@link RemoteNamespace} to the owner's
 * {@link NamespaceServer}), used by libnfs-utils: what is written through it is in the owner's
 * namespace, what the owner has is listed and read through it.
 */
class ForwardedNamespaceTest {
  @TempDir
  Path dir;

  @Test
  void libnfsThroughANodeThatForwardsTheNamespace() throws Exception {
    try (Engine ownerEngine = TestEngines.start(dir.resolve("owner-engine"));
        Engine frontEngine = TestEngines.start(dir.resolve("front-engine"));
        LocalNamespace owned = LocalNamespace.open("default", dir.resolve("owner-ns"), new EngineCatalog(ownerEngine),
            NfsConfig.DEFAULT_VDISK_PATTERNS);
        NamespaceServer server = NamespaceServer.start(NamespaceServer.Config.defaults().withPort(0),
            v -> v.equals("default") ? Optional.of(owned) : Optional.empty())) {
      InetSocketAddress owner = new InetSocketAddress("127.0.0.1", server.localAddress().getPort());
      NfsConfig config = NfsConfig.defaults(dir.resolve("front-ns")).withPorts(0, 0)
          .withPortmap(NfsConfig.Portmap.NONE).withExports(List.of(Export.open("default")));
      try (NfsServer front = NfsServer.start(config, new EngineCatalog(frontEngine), vpool -> {
        try {
          return RemoteNamespace.open(owner, vpool, RemoteNamespace.Config.defaults());
        } catch (NfsException e) {
          throw new IOException("cannot reach the owner of vPool " + vpool + ": " + e.getMessage(), e);
        }
      })) {
        String base = "nfs://127.0.0.1/default/%s?nfsport=" + front.localAddress().getPort() + "&mountport="
            + front.mountAddress().getPort() + "&version=3";
        // a small file in through the forwarding node: on the owner, and read back through it
        Path hello = dir.resolve("hello.txt");
        Files.writeString(hello, "hello, owner\n");
        Tools.ok(60, "nfs-cp", hello.toString(), String.format(base, "hello.txt"));
        assertEquals("hello, owner\n", Tools.ok(60, "nfs-cat", String.format(base, "hello.txt")).out());
        long id = owned.lookup(owned.rootId(), "hello.txt");
        ByteBuffer b = ByteBuffer.allocate(64);
        int n = owned.read(id, 0, b).count();
        assertEquals("hello, owner\n", new String(b.array(), 0, n, StandardCharsets.UTF_8));
        // what the owner made is seen through the forwarding node
        long d = owned.mkdir(owned.rootId(), "made-on-owner", 0, 0, SetAttr.NONE);
        long f = owned.create(d, "note.txt", 0, 0, SetAttr.NONE, true);
        owned.write(f, 0, ByteBuffer.wrap("from the owner".getBytes(StandardCharsets.UTF_8)),
            org.vsa.volume.Durability.DURABLE);
        String ls = Tools.ok(60, "nfs-ls", String.format(base, "")).out();
        assertTrue(ls.contains("made-on-owner") && ls.contains("hello.txt"), ls);
        assertEquals("from the owner", Tools.ok(60, "nfs-cat", String.format(base, "made-on-owner/note.txt")).out());
        // a larger vDisk-backed file, in and out, byte for byte
        byte[] data = new byte[3 << 20];
        new Random(7).nextBytes(data);
        Path in = dir.resolve("disk.raw");
        Files.write(in, data);
        Tools.ok(120, "nfs-cp", in.toString(), String.format(base, "disk.raw"));
        Path out = dir.resolve("back.raw");
        Tools.ok(120, "nfs-cp", String.format(base, "disk.raw"), out.toString());
        assertArrayEquals(data, Files.readAllBytes(out));
        assertTrue(owned.getattr(owned.lookup(owned.rootId(), "disk.raw")).vdisk(), "a vDisk-backed file on the owner");
      }
    }
  }
}
