package org.vsa.appliance.metrics;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

import io.micrometer.core.instrument.simple.SimpleMeterRegistry;
import java.io.IOException;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.lang.reflect.Proxy;
import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.List;
import java.util.UUID;
import org.junit.jupiter.api.Test;
import org.vsa.volume.BlockVolume;
import org.vsa.volume.Durability;

/** The metering decorator forwards every method of BlockVolume, the default ones included, and counts. */
class MeteredVolumeTest {

  @Test
  void everyBlockVolumeMethodIsOverriddenAndForwarded() throws Exception {
    List<String> calls = new ArrayList<>();
    // a delegate that records each call and answers something no default would
    BlockVolume delegate = (BlockVolume) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {BlockVolume.class}, (p, m, args) -> {
          calls.add(m.getName());
          return switch (m.getName()) {
            case "name" -> "vm1";
            case "id" -> new UUID(1, 2);
            case "sizeBytes" -> 1L << 20;
            case "contentStamp" -> 77L;
            case "blockSize" -> 4096;
            case "writesAtOnce", "readOnly" -> true;
            case "ready" -> false;
            case "writeDeferred" -> (BlockVolume.Pending) () -> { };
            default -> null;
          };
        });
    MeteredVolume mv = new MeteredVolume(delegate, new VdiskMeters(new SimpleMeterRegistry(), "vm1", "default"));
    for (Method m : BlockVolume.class.getMethods()) {
      if (Modifier.isStatic(m.getModifiers())) {
        continue;
      }
      Method own = MeteredVolume.class.getMethod(m.getName(), m.getParameterTypes());
      assertTrue(own.getDeclaringClass() == MeteredVolume.class
          || own.getDeclaringClass() == org.vsa.volume.ForwardingBlockVolume.class, m + " is not overridden: its"
          + " default would hide the delegate's own implementation");
      calls.clear();
      Object[] args = argsFor(m);
      Object result = own.invoke(mv, args);
      assertEquals(List.of(m.getName()), calls, m + " reaches the delegate exactly once");
      Object expected = m.invoke(delegate, args);
      if (!m.getName().equals("writeDeferred")) {
        assertEquals(expected, result, m + " returns the delegate's answer");
      }
    }
  }

  private static Object[] argsFor(Method m) {
    Class<?>[] t = m.getParameterTypes();
    Object[] a = new Object[t.length];
    for (int i = 0; i < t.length; i++) {
      a[i] = t[i] == long.class ? (Object) 0L : t[i] == int.class ? (Object) 0
          : t[i] == ByteBuffer.class ? ByteBuffer.allocate(4096)
          : t[i] == Durability.class ? Durability.values()[0]
          : t[i] == boolean.class ? (Object) false : null;
    }
    return a;
  }

  @Test
  void readsWritesFlushesAndUnmapsAreCountedWithTheirBytes() throws IOException {
    SimpleMeterRegistry r = new SimpleMeterRegistry();
    VdiskMeters meters = new VdiskMeters(r, "vm1", "p1");
    BlockVolume delegate = (BlockVolume) Proxy.newProxyInstance(getClass().getClassLoader(),
        new Class<?>[] {BlockVolume.class}, (p, m, args) -> {
          if (m.getName().equals("read")) {
            ByteBuffer b = (ByteBuffer) args[1];
            b.position(b.limit());
          }
          if (m.getName().equals("write") || m.getName().equals("writeDeferred")) {
            ByteBuffer b = (ByteBuffer) args[1];
            if (b.remaining() == 512) {
              throw new IOException("injected");
            }
            b.position(b.limit());
          }
          return m.getName().equals("writeDeferred") ? BlockVolume.Pending.NONE : null;
        });
    MeteredVolume mv = new MeteredVolume(delegate, meters);
    mv.read(0, ByteBuffer.allocate(8192));
    mv.write(0, ByteBuffer.allocate(4096), Durability.values()[0]);
    mv.writeDeferred(0, ByteBuffer.allocate(16384), Durability.values()[0]);
    try {
      mv.write(0, ByteBuffer.allocate(512), Durability.values()[0]);
    } catch (IOException expected) {
      // a failed write counts as an op without bytes
    }
    mv.flush();
    mv.unmap(0, 4096);
    mv.unmap(0, 4096);
    VdiskMeters.IoTotals t = meters.totals();
    assertEquals(1, t.readOps());
    assertEquals(8192, t.readBytes());
    assertEquals(3, t.writeOps());
    assertEquals(4096 + 16384, t.writeBytes());
    assertEquals(1.0, r.get("vsa.vdisk.ops").tag("op", "flush").counter().count());
    assertEquals(2.0, r.get("vsa.vdisk.ops").tag("op", "unmap").counter().count());
    assertTrue(r.get("vsa.vdisk.io").tag("op", "write").tag("vdisk", "vm1").tag("vpool", "p1").timer().count() == 3);
  }
}
