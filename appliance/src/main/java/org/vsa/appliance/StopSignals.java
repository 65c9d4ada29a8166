package org.vsa.appliance;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * How the process is asked to stop. {@link #process()} turns SIGTERM and SIGINT into a stop
 * request so that {@code vsa serve} can stop in order and exit with status 0 (the JVM's own
 * handling would run shutdown hooks and exit with 143 or 130); tests pass their own.
 */
@FunctionalInterface
public interface StopSignals {

  /**
   * Arranges for {@code requestStop} to run when the process is asked to stop. It may run more
   * than once (a second SIGTERM while stopping) and on any thread, so it must be idempotent and
   * must not block. {@code stopped} is completed by the caller once the orderly stop is over.
   */
  void install(Runnable requestStop, CompletableFuture<Void> stopped);

  /** Nothing asks to stop (tests that stop by other means). */
  static StopSignals none() {
    return (requestStop, stopped) -> {};
  }

  /** SIGTERM and SIGINT of this process. */
  static StopSignals process() {
    return ProcessSignals::install;
  }

  /** Signal handling of the real process. */
  final class ProcessSignals {
    private static final Logger log = LoggerFactory.getLogger(StopSignals.class);
    private static final long FALLBACK_WAIT_SECONDS = 120;

    private ProcessSignals() {}

    static void install(Runnable requestStop, CompletableFuture<Void> stopped) {
      boolean term = handle("TERM", requestStop);
      boolean intr = handle("INT", requestStop);
      if (!term || !intr) {
        // No signal API (or the JVM runs with -Xrs): a shutdown hook still gives an orderly stop,
        // but the exit status is then the JVM's (143 after SIGTERM).
        log.warn("cannot handle SIGTERM/SIGINT directly; stopping from a shutdown hook instead");
        Runtime.getRuntime().addShutdownHook(new Thread(() -> {
          requestStop.run();
          try {
            stopped.get(FALLBACK_WAIT_SECONDS, TimeUnit.SECONDS);
          } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
          } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
            log.error("orderly stop did not finish within {} s", FALLBACK_WAIT_SECONDS);
          }
        }, "vsa-stop-hook"));
      }
    }

    /**
     * {@code sun.misc.Signal.handle(new Signal(name), s -> requestStop.run())}, called through
     * reflection: javac's warning about sun.misc ("internal proprietary API") cannot be
     * suppressed with @SuppressWarnings, and the build treats warnings as worth reading. The
     * class lives in the jdk.unsupported module, which exists precisely for this use and is in
     * every JDK we run on; where it is missing we fall back to a shutdown hook.
     */
    private static boolean handle(String signal, Runnable requestStop) {
      try {
        Class<?> signalClass = Class.forName("sun.misc.Signal");
        Class<?> handlerClass = Class.forName("sun.misc.SignalHandler");
        InvocationHandler onSignal = (proxy, method, args) -> dispatch(proxy, method, args, signal, requestStop);
        Object handler = Proxy.newProxyInstance(
            StopSignals.class.getClassLoader(), new Class<?>[] {handlerClass}, onSignal);
        Object sig = signalClass.getConstructor(String.class).newInstance(signal);
        signalClass.getMethod("handle", signalClass, handlerClass).invoke(null, sig, handler);
        return true;
      } catch (ReflectiveOperationException | RuntimeException | LinkageError e) {
        log.debug("cannot handle SIG{}", signal, e);
        return false;
      }
    }

    private static Object dispatch(Object proxy, Method method, Object[] args, String signal, Runnable requestStop) {
      switch (method.getName()) {
        case "handle":
          log.info("SIG{} received: stopping", signal);
          requestStop.run();
          return null;
        case "hashCode":
          return System.identityHashCode(proxy);
        case "equals":
          return proxy == args[0];
        case "toString":
          return "vsa stop handler for SIG" + signal;
        default:
          throw new UnsupportedOperationException(method.getName());
      }
    }
  }
}
