package org.vsa.iscsi;

import static org.junit.jupiter.api.Assertions.assertEquals;

import io.netty.buffer.ByteBuf;
import io.netty.buffer.PooledByteBufAllocator;
import io.netty.util.ResourceLeakDetector;
import io.netty.util.ResourceLeakDetectorFactory;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;

/**
 * Paranoid buffer-leak detection (as Netty's own tests do): every buffer is tracked, and a test
 * class that leaked one fails after its tests ran.
 */
public final class LeakCheck implements BeforeAllCallback, AfterAllCallback {
  static final List<String> LEAKS = new CopyOnWriteArrayList<>();

  static {
    ResourceLeakDetector.setLevel(ResourceLeakDetector.Level.PARANOID);
    ResourceLeakDetectorFactory.setResourceLeakDetectorFactory(new ResourceLeakDetectorFactory() {
      @Override
      @SuppressWarnings("deprecation")
      public <T> ResourceLeakDetector<T> newResourceLeakDetector(Class<T> resource, int samplingInterval,
          long maxActive) {
        return new ResourceLeakDetector<T>(resource, samplingInterval) {
          @Override
          protected void reportTracedLeak(String resourceType, String records) {
            LEAKS.add(resourceType + ": " + records);
            super.reportTracedLeak(resourceType, records);
          }

          @Override
          protected void reportUntracedLeak(String resourceType) {
            LEAKS.add(resourceType);
            super.reportUntracedLeak(resourceType);
          }
        };
      }
    });
  }

  @Override
  public void beforeAll(ExtensionContext context) {
    LEAKS.clear();
  }

  @Override
  public void afterAll(ExtensionContext context) throws InterruptedException {
    // Leaks are noticed when a collected buffer's tracker is polled on a later allocation.
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(50);
      ByteBuf b = PooledByteBufAllocator.DEFAULT.buffer(64);
      b.release();
      ByteBuf d = PooledByteBufAllocator.DEFAULT.directBuffer(64);
      d.release();
    }
    assertEquals(List.of(), List.copyOf(LEAKS), "Netty buffers leaked in " + context.getDisplayName());
  }
}
