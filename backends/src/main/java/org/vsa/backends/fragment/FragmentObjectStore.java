package org.vsa.backends.fragment;

import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.SecureRandom;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.locks.ReentrantLock;
import java.util.zip.CRC32C;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.vsa.backends.NoSuchObjectException;
import org.vsa.backends.ObjectStore;

/**
 * An {@link ObjectStore} that erasure-codes each object over several underlying stores ("disks":
 * local directories on different devices, S3 buckets), after Open vStorage's ALBA.
 *
 * <p><b>Write.</b> An object is cut into stripes of k data fragments of at most the preset's
 * fragment size; Reed-Solomon adds m parity fragments per stripe; each fragment is compressed,
 * encrypted and checksummed on its own ({@link FragmentCodec}). Fragment i of every stripe goes
 * into one "column object" {@code <name>.vf<generation>.<i>} on one store, at most x columns per
 * store. Then a {@link Manifest} ({@code <name>.vm}) saying where everything is goes to every
 * store that is up. The write counts as done when at least c fragments columns (and their
 * stores' manifests) are stored; otherwise it is undone and retried under the next policy of the
 * preset, and when no policy fits the stores that are up it fails (the engine keeps the SCO in
 * its write buffer and retries). The first policy that the stores up can hold is used: with
 * fewer stores up, writes fall back to a later policy, and {@link #repair} later rewrites them
 * under the best one.
 *
 * <p><b>Read.</b> A ranged read fetches, with one ranged read each, only the data fragments that
 * hold the range (a 4 KiB read costs one fragment, not the object). Every fragment is checked
 * (CRC32C, object generation, stripe, column, GCM tag, then the CRC32C of its raw bytes kept in
 * the manifest); a fragment that fails or whose store is down is rebuilt from any k intact
 * fragments of its stripe. With fewer than k intact the read fails with {@link
 * DataUnavailableException}: never wrong bytes.
 *
 * <p><b>Stores going away and coming back.</b> A store whose call fails is taken as down for
 * {@code retryDownAfter}, then tried again; {@link #repair} probes every store, rebuilds missing
 * or corrupt fragments (on their store, or on another when theirs is down), brings outdated
 * manifests up to date, and reports counts. Puts, deletes and repairs of the same object are
 * serialised by a lock, so a repair never overwrites a newer version.
 *
 * <p><b>Parallel store calls.</b> A put sends its columns to their stores at once, then its manifests
 * at once; a manifest load asks every store at once; a read of several fragments and a rebuild fetch
 * them at once. At most
 * {@link #STORE_CALLS_PARALLEL_MAX} calls of one operation run together, on the put threads.
 *
 * <p><b>Deletes while a store is away.</b> A delete that some store misses leaves a delete record
 * ({@link Tombstone}) on the others. When stores disagree on whether an object exists, a manifest older
 * than its delete record is of a deleted object: reads, {@code exists} and {@code list} say it is gone,
 * and repair removes it from the store that was away, then the records.
 *
 * <p>Limits: one writer per namespace (the vDisk's owner), as for every store. A delete whose records
 * are all on stores that are down when the missed store returns is not known until they return
 * (the object reads as present meanwhile); a namespace deleted while a store is down stays on it.
 */
public final class FragmentObjectStore implements ObjectStore {
  private static final Logger log = LoggerFactory.getLogger(FragmentObjectStore.class);
  static final String MANIFEST_SUFFIX = ".vm";
  static final String COLUMN_MARK = ".vf";
  static final String TOMBSTONE_SUFFIX = ".vt";
  static final String CREATE_SUFFIX = ".vc";
  static final int NAME_MAX = 170;
  public static final Duration RETRY_DOWN_AFTER_DEFAULT = Duration.ofSeconds(30);

  /** An underlying store and the name the manifests know it by. */
  public record Disk(String name, ObjectStore store) {
    public Disk {
      Objects.requireNonNull(name, "name");
      Objects.requireNonNull(store, "store");
    }
  }

  private static final class DiskState {
    final Disk disk;
    volatile long downUntilNanos;
    volatile boolean down;

    DiskState(Disk disk) {
      this.disk = disk;
    }
  }

  private final Preset preset;
  private final EncryptionKey key;
  private final List<DiskState> disks;
  private final Map<String, DiskState> byName = new LinkedHashMap<>();
  private final long retryDownAfterNanos;
  private final Cache<String, Manifest> manifests = Caffeine.newBuilder().maximumSize(10_000).build();
  private final Set<String> knownNamespaces = ConcurrentHashMap.newKeySet();
  /** Objects whose reads found a bad fragment: the next repair pass looks at them first. */
  private final Set<String> suspects = ConcurrentHashMap.newKeySet();
  private final ReentrantLock[] objectLocks = new ReentrantLock[64];
  private final SecureRandom random = new SecureRandom();
  private final AtomicLong lastVersion = new AtomicLong();
  private final Map<String, ReedSolomon> coders = new ConcurrentHashMap<>();
  private final Progress progress = new Progress();
  private final AtomicLong fragmentsFetched = new AtomicLong();
  private final AtomicLong bytesFetched = new AtomicLong();
  private final AtomicLong degradedReads = new AtomicLong();
  private volatile boolean closed;
  private java.util.concurrent.ScheduledExecutorService maintenance;
  /**
   * Puts run here, on threads nobody interrupts: a put is a transaction over several stores
   * (columns, then manifests, then the old version's removal), and an interrupt of the caller's
   * thread would close its file channels half-way and leave stores disagreeing. The caller waits
   * for the put to end and keeps its interrupt for afterwards.
   */
  private final java.util.concurrent.ExecutorService putThreads = java.util.concurrent.Executors.newCachedThreadPool(r -> {
    Thread t = new Thread(r, "fragment-put");
    t.setDaemon(true);
    return t;
  });

  /** At most this many store calls of one put, delete, repair or manifest load run at once. */
  static final int STORE_CALLS_PARALLEL_MAX = 16;

  /** One call to one store. */
  @FunctionalInterface
  private interface StoreCall<T> {
    T call() throws IOException;
  }

  /** How one store call ended: its value, or its failure. */
  private record Outcome<T>(T value, IOException error) {}

  /**
   * Runs the calls on the put threads, in parallel (at most {@link #STORE_CALLS_PARALLEL_MAX} at
   * once: stores are slow, S3 ones especially, so one put's fragments go to their stores together),
   * and waits for every one of them; a single call runs on the caller's thread. The outcomes are in
   * the calls' order. An unchecked failure of a call is rethrown. With {@code interruptible} false (a
   * put, a delete, a repair: transactions over several stores) the wait ignores interrupts and keeps
   * them for the caller; with true (a read's manifest load) an interrupt ends the wait with an
   * InterruptedIOException, and the calls, reads, end on their own.
   */
  private <T> List<Outcome<T>> onStores(List<StoreCall<T>> calls, boolean interruptible) throws InterruptedIOException {
    List<Outcome<T>> out = new ArrayList<>(calls.size());
    if (calls.size() == 1) {
      out.add(outcome(calls.get(0)));
      return out;
    }
    boolean interrupted = false;
    try {
      for (int from = 0; from < calls.size(); from += STORE_CALLS_PARALLEL_MAX) {
        List<java.util.concurrent.Future<Outcome<T>>> wave = new ArrayList<>();
        for (int i = from; i < Math.min(calls.size(), from + STORE_CALLS_PARALLEL_MAX); i++) {
          StoreCall<T> c = calls.get(i);
          java.util.concurrent.Callable<Outcome<T>> task = () -> outcome(c);
          try {
            wave.add(putThreads.submit(task));
          } catch (java.util.concurrent.RejectedExecutionException closing) {
            java.util.concurrent.FutureTask<Outcome<T>> inline = new java.util.concurrent.FutureTask<>(task);
            inline.run(); // closing: the put threads take no more work, and the running put must still end
            wave.add(inline);
          }
        }
        for (java.util.concurrent.Future<Outcome<T>> f : wave) {
          while (true) {
            try {
              out.add(f.get());
              break;
            } catch (InterruptedException e) {
              interrupted = true;
              if (interruptible) {
                throw new InterruptedIOException("interrupted while waiting for the stores");
              }
            } catch (java.util.concurrent.ExecutionException e) {
              Throwable c = e.getCause();
              if (c instanceof RuntimeException re) {
                throw re;
              }
              if (c instanceof Error err) {
                throw err;
              }
              throw new IllegalStateException(c);
            }
          }
        }
      }
      return out;
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private static <T> Outcome<T> outcome(StoreCall<T> c) {
    try {
      return new Outcome<>(c.call(), null);
    } catch (IOException e) {
      return new Outcome<>(null, e);
    }
  }

  public FragmentObjectStore(Preset preset, List<Disk> disks, EncryptionKey key) {
    this(preset, disks, key, RETRY_DOWN_AFTER_DEFAULT);
  }

  public FragmentObjectStore(Preset preset, List<Disk> disks, EncryptionKey key, Duration retryDownAfter) {
    this.preset = Objects.requireNonNull(preset, "preset");
    if (preset.encrypted() && key == null) {
      throw new IllegalArgumentException(preset + " encrypts fragments, and no encryption key is configured");
    }
    this.key = key;
    if (disks.isEmpty()) {
      throw new IllegalArgumentException("the fragment backend needs at least one store");
    }
    List<DiskState> list = new ArrayList<>();
    for (Disk d : disks) {
      if (byName.containsKey(d.name())) {
        throw new IllegalArgumentException("two stores are named '" + d.name() + "'");
      }
      DiskState s = new DiskState(d);
      byName.put(d.name(), s);
      list.add(s);
    }
    this.disks = List.copyOf(list);
    this.retryDownAfterNanos = retryDownAfter.toNanos();
    for (int i = 0; i < objectLocks.length; i++) {
      objectLocks[i] = new ReentrantLock();
    }
    int most = 0;
    for (Policy p : preset.policies()) {
      most = Math.max(most, disks.size() * p.x() >= p.fragments() ? 1 : 0);
    }
    if (most == 0) {
      log.warn("{}: none of its policies fits {} stores; every write will fail until stores are added", preset,
          disks.size());
    }
  }

  public Preset preset() {
    return preset;
  }

  // ---- stores up and down

  private boolean isUp(DiskState d) {
    return !d.down || System.nanoTime() - d.downUntilNanos >= 0;
  }

  private void markDown(DiskState d, Exception cause) {
    if (Thread.currentThread().isInterrupted() || causedBy(cause, java.nio.channels.ClosedByInterruptException.class)) {
      return; // this thread was interrupted: the failure is the caller's, not the store's
    }
    if (!d.down || System.nanoTime() - d.downUntilNanos >= 0) {
      log.warn("store '{}' is down (retried in {} s): {}", d.disk.name(), retryDownAfterNanos / 1_000_000_000L,
          cause.toString());
    }
    d.downUntilNanos = System.nanoTime() + retryDownAfterNanos;
    d.down = true;
  }

  private static boolean causedBy(Throwable t, Class<? extends Throwable> type) {
    for (int depth = 0; t != null && depth < 16; depth++, t = t.getCause()) {
      if (type.isInstance(t)) {
        return true;
      }
    }
    return false;
  }

  private void markUp(DiskState d) {
    if (d.down) {
      d.down = false;
      log.info("store '{}' answers again; the next repair pass reintegrates it", d.disk.name());
    }
  }

  private List<DiskState> upDisks() {
    List<DiskState> up = new ArrayList<>();
    for (DiskState d : disks) {
      if (isUp(d)) {
        up.add(d);
      }
    }
    return up;
  }

  /** Names of the stores now taken as down. */
  public List<String> storesDown() {
    List<String> down = new ArrayList<>();
    for (DiskState d : disks) {
      if (!isUp(d)) {
        down.add(d.disk.name());
      }
    }
    return down;
  }

  /** Is this failure the store's (down, unreachable) rather than the object's (missing, short)? */
  private static boolean storeTrouble(IOException e) {
    return !(e instanceof NoSuchObjectException || e instanceof EOFException
        || e instanceof FragmentCodec.CorruptFragmentException || e instanceof InterruptedIOException);
  }

  // ---- names

  private static String checkName(String what, String s) {
    boolean ok = s != null && !s.isEmpty() && s.length() <= NAME_MAX && !s.equals(".") && !s.equals("..");
    for (int i = 0; ok && i < s.length(); i++) {
      char c = s.charAt(i);
      ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' || c == '-';
    }
    if (!ok) {
      throw new IllegalArgumentException(what + " must match [A-Za-z0-9._-]{1," + NAME_MAX + "} and not be '.' or '..'; got "
          + (s == null ? "null" : "'" + (s.length() > 220 ? s.substring(0, 220) + "..." : s) + "'"));
    }
    return s;
  }

  static String manifestName(String name) {
    return name + MANIFEST_SUFFIX;
  }

  static String tombstoneName(String name) {
    return name + TOMBSTONE_SUFFIX;
  }

  static String columnName(String name, long generation, int column) {
    return name + COLUMN_MARK + Long.toHexString(generation) + "." + column;
  }

  private ReentrantLock lockFor(String namespace, String name) {
    return objectLocks[Math.floorMod((namespace + "/" + name).hashCode(), objectLocks.length)];
  }

  private static String key(String namespace, String name) {
    return namespace + "/" + name;
  }

  private ReedSolomon coder(int k, int m) {
    return coders.computeIfAbsent(k + "+" + m, s -> new ReedSolomon(k, m));
  }

  private long nextVersion() {
    long now = System.currentTimeMillis() * 1000;
    return lastVersion.updateAndGet(prev -> Math.max(prev + 1, now));
  }

  // ---- namespaces

  @Override
  public void createNamespace(String namespace) throws IOException {
    checkName("namespace", namespace);
    int ok = 0;
    IOException last = null;
    for (DiskState d : upDisks()) {
      try {
        d.disk.store().createNamespace(namespace);
        ok++;
      } catch (IOException e) {
        last = e;
        markDown(d, e);
      }
    }
    if (ok == 0) {
      throw new IOException("create namespace '" + namespace + "': no store took it (" + storesDown().size()
          + " of " + disks.size() + " down)", last);
    }
    knownNamespaces.add(namespace);
  }

  @Override
  public void deleteNamespace(String namespace) throws IOException {
    checkName("namespace", namespace);
    knownNamespaces.remove(namespace);
    manifests.asMap().keySet().removeIf(k -> k.startsWith(namespace + "/"));
    IOException last = null;
    int ok = 0;
    for (DiskState d : upDisks()) {
      try {
        d.disk.store().deleteNamespace(namespace);
        ok++;
      } catch (IOException e) {
        last = e;
        markDown(d, e);
      }
    }
    if (ok == 0) {
      throw new IOException("delete namespace '" + namespace + "': no store answered", last);
    }
  }

  @Override
  public boolean namespaceExists(String namespace) throws IOException {
    checkName("namespace", namespace);
    if (knownNamespaces.contains(namespace)) {
      return true;
    }
    IOException last = null;
    for (DiskState d : upDisks()) {
      try {
        if (d.disk.store().namespaceExists(namespace)) {
          knownNamespaces.add(namespace);
          return true;
        }
      } catch (IOException e) {
        last = e;
        markDown(d, e);
      }
    }
    if (upDisks().isEmpty()) {
      throw new IOException("namespace '" + namespace + "': every store is down", last);
    }
    return false;
  }

  @Override
  public List<String> listNamespaces() throws IOException {
    Set<String> names = new TreeSet<>();
    int ok = 0;
    IOException last = null;
    for (DiskState d : upDisks()) {
      try {
        names.addAll(d.disk.store().listNamespaces());
        ok++;
      } catch (IOException e) {
        last = e;
        markDown(d, e);
      }
    }
    if (ok == 0) {
      throw new IOException("list namespaces: every store is down", last);
    }
    return new ArrayList<>(names);
  }

  // ---- put

  @Override
  public void put(String namespace, String name, Path source) throws IOException {
    Objects.requireNonNull(source, "source");
    put(namespace, name, Files.readAllBytes(source));
  }

  @Override
  public void put(String namespace, String name, byte[] data) throws IOException {
    checkName("namespace", namespace);
    checkName("object name", name);
    Objects.requireNonNull(data, "data");
    checkOpen();
    if (!namespaceExists(namespace)) {
      throw new NoSuchObjectException(namespace);
    }
    java.util.concurrent.Future<?> put = putThreads.submit(() -> {
      ReentrantLock lock = lockFor(namespace, name);
      lock.lock();
      try {
        putLocked(namespace, name, data, 0);
      } finally {
        lock.unlock();
      }
      return null;
    });
    boolean interrupted = false;
    try {
      while (true) {
        try {
          put.get();
          return;
        } catch (InterruptedException e) {
          interrupted = true; // the put goes on to its end: whole or undone, never torn
        } catch (java.util.concurrent.ExecutionException e) {
          Throwable c = e.getCause();
          if (c instanceof IOException io) {
            throw io;
          }
          if (c instanceof RuntimeException re) {
            throw re;
          }
          if (c instanceof Error err) {
            throw err;
          }
          throw new IOException(c);
        }
      }
    } finally {
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
    }
  }

  private void putLocked(String namespace, String name, byte[] data, int firstPolicy) throws IOException {
    long generation = random.nextLong() & Long.MAX_VALUE | 1;
    List<Policy> policies = preset.policies();
    StringBuilder why = new StringBuilder();
    Set<DiskState> failedHere = new HashSet<>(); // a store that failed this put is not tried again by it
    for (int i = firstPolicy; i < policies.size(); i++) {
      Policy p = policies.get(i);
      List<DiskState> up = upDisks();
      up.removeAll(failedHere);
      if (up.size() * p.x() < p.fragments()) {
        why.append(" policy ").append(p).append(" needs ").append(p.storesNeeded()).append(" stores;");
        continue;
      }
      if (i > 0) {
        log.debug("{}/{}: {} stores up, writing under fallback policy {}", namespace, name, up.size(), p);
      }
      Manifest written = writeUnder(namespace, name, data, generation, p, i, up, why, failedHere);
      if (written != null) {
        manifests.put(key(namespace, name), written);
        removeOtherGenerations(namespace, name, generation);
        return;
      }
    }
    Set<DiskState> unusable = new HashSet<>(failedHere); // a store both down and failed here counts once
    for (DiskState d : disks) {
      if (!isUp(d)) {
        unusable.add(d);
      }
    }
    throw new IOException("fragment backend: cannot store object '" + name + "' in namespace '" + namespace + "' under "
        + preset + ": " + (disks.size() - unusable.size()) + " of " + disks.size() + " stores up;" + why);
  }

  /**
   * An atomic create over the stores: this call's mark ({@link CreateMarker}, a random token) is
   * created with each store's own create-if-absent, one store after the other in the configured
   * order (the same on every node); the call wins once its mark is on a majority of the configured
   * stores (down ones included in the count), and then puts the object as {@link #put} does before
   * returning true. A winner's marks stay, so two racers cannot both hold a majority and at most
   * one wins. When a mark's create fails, the store is asked whose mark it holds (ours counts: the
   * create landed before the failure). The call returns false when other marks deny it a majority,
   * and throws when stores that did not answer could still decide.
   *
   * <p>A call that did not win takes its own marks back (those it can reach) before it returns or
   * throws: a tie (racers that saw different stores up, each holding some marks, nobody a
   * majority), an undecided call or a loser leaves nothing that would deny the name to a later
   * call, which can then win it. A mark a store took while failing to answer, and that cannot be
   * taken back, stays: with another store down too, the name may then be denied until that store
   * answers again. A loser's false may come before the winner's object is readable. The winner's
   * marks outlive a {@link #delete}: a name once created is never created again on this store (the
   * cluster's claims never reuse a name). Each underlying store must support create-if-absent.
   */
  @Override
  public boolean putIfAbsent(String namespace, String name, byte[] data) throws IOException {
    checkName("namespace", namespace);
    checkName("object name", name);
    Objects.requireNonNull(data, "data");
    checkOpen();
    if (!namespaceExists(namespace)) {
      throw new NoSuchObjectException(namespace);
    }
    byte[] token = new byte[CreateMarker.TOKEN_BYTES];
    random.nextBytes(token);
    byte[] mark = CreateMarker.encode(token);
    String markName = name + CREATE_SUFFIX;
    int majority = disks.size() / 2 + 1;
    int won = 0;
    int lost = 0;
    List<DiskState> ours = new ArrayList<>();
    IOException last = null;
    for (DiskState d : disks) {
      if (won >= majority || lost > disks.size() - majority) {
        break; // decided: won, or cannot win
      }
      if (!isUp(d)) {
        continue;
      }
      try {
        if (createInto(d, namespace, markName, mark, token)) {
          won++;
          ours.add(d);
        } else {
          lost++;
        }
      } catch (InterruptedIOException e) {
        takeBack(ours, namespace, markName, token);
        throw e;
      } catch (IOException e) {
        last = e;
        markDown(d, e);
      }
    }
    if (won >= majority) {
      put(namespace, name, data);
      return true;
    }
    takeBack(ours, namespace, markName, token);
    int unknown = disks.size() - won - lost;
    if (lost <= disks.size() - majority) {
      throw new IOException("fragment backend: create of object '" + name + "' in namespace '" + namespace
          + "' undecided: marks on " + won + " stores (taken back), another's on " + lost + ", " + unknown + " of "
          + disks.size() + " stores not reached (" + majority + " needed)", last);
    }
    return false;
  }

  /** Deletes this call's marks (it did not win); a store that fails keeps its mark (logged). */
  private void takeBack(List<DiskState> ours, String namespace, String markName, byte[] token) {
    for (DiskState d : ours) {
      try {
        byte[] there = d.disk.store().get(namespace, markName);
        if (java.util.Arrays.equals(CreateMarker.decode(there, markName + " on store '" + d.disk.name() + "'"), token)) {
          d.disk.store().delete(namespace, markName);
        }
      } catch (IOException | RuntimeException e) {
        log.warn("fragment backend: cannot take back the create mark {} on store '{}' ({}); it denies that name to"
            + " later creates while another store is down", markName, d.disk.name(), e.toString());
      }
    }
  }

  /** True when this store holds our mark (created now, or by an attempt whose answer was lost). */
  private boolean createInto(DiskState d, String namespace, String markName, byte[] mark, byte[] token)
      throws IOException {
    ObjectStore store = d.disk.store();
    try {
      try {
        if (store.putIfAbsent(namespace, markName, mark)) {
          return true;
        }
      } catch (NoSuchObjectException e) {
        store.createNamespace(namespace);
        if (store.putIfAbsent(namespace, markName, mark)) {
          return true;
        }
      }
    } catch (IOException e) {
      if (e instanceof InterruptedIOException || e instanceof NoSuchObjectException) {
        throw e;
      }
      byte[] there;
      try {
        there = store.get(namespace, markName);
      } catch (IOException again) {
        e.addSuppressed(again);
        throw e;
      }
      return java.util.Arrays.equals(CreateMarker.decode(there, markName + " on store '" + d.disk.name() + "'"), token);
    }
    return false; // another racer's mark (this call's token is new: a mark already there is not ours)
  }

  /** Cuts, encodes and stores; returns the manifest, or null (undone) when fewer than c fragments landed. */
  private Manifest writeUnder(String namespace, String name, byte[] data, long generation, Policy p, int policyIndex,
      List<DiskState> up, StringBuilder why, Set<DiskState> failedHere) throws IOException {
    int k = p.k();
    int n = p.fragments();
    int fragmentSize = (int) Math.max(1, Math.min(preset.fragmentSizeBytes(), (data.length + (long) k - 1) / k));
    long stripeBytes = (long) k * fragmentSize;
    int stripes = (int) ((data.length + stripeBytes - 1) / stripeBytes);
    ColumnBuilder[] columns = encode(data, generation, k, p.m(), fragmentSize, stripes);

    // Placement: round robin from a random store, so that load spreads and at most ceil(n/up) <= x land on one.
    List<DiskState> order = new ArrayList<>(up);
    Collections.rotate(order, random.nextInt(order.size()));
    String[] stores = new String[n];
    for (int c = 0; c < n; c++) {
      stores[c] = order.get(c % order.size()).disk.name();
    }
    boolean[] stored = new boolean[n];
    Set<DiskState> failed = new HashSet<>();
    int[] perStore = new int[order.size()];
    for (int c = 0; c < n; c++) {
      perStore[c % order.size()]++;
    }
    // Every column to its planned store, all at once; the columns whose store failed go, in the next
    // round, to other stores still below x. Bounded: each round that has failures takes at least one
    // more store out, and there are finitely many.
    List<Integer> pending = new ArrayList<>();
    for (int c = 0; c < n; c++) {
      pending.add(c);
    }
    for (int round = 0; round <= order.size() && !pending.isEmpty(); round++) {
      List<StoreCall<Void>> calls = new ArrayList<>();
      for (int c : pending) {
        DiskState d = byName.get(stores[c]);
        byte[] bytes = columns[c].bytes();
        String column = columnName(name, generation, c);
        calls.add(() -> {
          putInto(d, namespace, column, bytes);
          return null;
        });
      }
      List<Outcome<Void>> outcomes = onStores(calls, false);
      List<Integer> retry = new ArrayList<>();
      InterruptedIOException interrupted = null;
      for (int i = 0; i < pending.size(); i++) {
        int c = pending.get(i);
        IOException e = outcomes.get(i).error();
        if (e == null) {
          stored[c] = true;
        } else if (e instanceof InterruptedIOException ie) {
          interrupted = ie;
        } else {
          DiskState d = byName.get(stores[c]);
          failed.add(d);
          markDown(d, e);
          retry.add(c);
        }
      }
      if (interrupted != null) {
        throw interrupted;
      }
      pending.clear();
      for (int c : retry) {
        int from = order.indexOf(byName.get(stores[c]));
        int to = -1;
        for (int i = 0; i < order.size(); i++) {
          if (!failed.contains(order.get(i)) && perStore[i] < p.x() && (to < 0 || perStore[i] < perStore[to])) {
            to = i;
          }
        }
        if (to < 0) {
          continue; // no store can take it: the column stays unstored
        }
        perStore[from]--;
        perStore[to]++;
        stores[c] = order.get(to).disk.name();
        pending.add(c);
      }
    }
    int columnsLanded = 0;
    for (int c = 0; c < n; c++) {
      columnsLanded += stored[c] ? 1 : 0;
    }
    if (columnsLanded < p.c()) {
      // Not enough even before the manifests: undo the columns and leave any earlier version alone.
      failedHere.addAll(failed);
      why.append(" policy ").append(p).append(": only ").append(columnsLanded).append(" of ").append(n)
          .append(" fragments stored, ").append(p.c()).append(" needed;");
      for (int c = 0; c < n; c++) {
        if (stored[c]) {
          deleteQuietly(byName.get(stores[c]), namespace, columnName(name, generation, c));
        }
      }
      return null;
    }
    long[][] offsets = new long[n][];
    int[][] lengths = new int[n][];
    int[][] crcs = new int[n][];
    for (int c = 0; c < n; c++) {
      offsets[c] = columns[c].offsets;
      lengths[c] = columns[c].lengths;
      crcs[c] = columns[c].rawCrcs;
    }
    Manifest man = new Manifest(generation, nextVersion(), data.length, k, p.m(), policyIndex, preset.compression(),
        key != null && preset.encrypted(), key != null && preset.encrypted() ? key.fingerprint() : 0, fragmentSize,
        stripes, preset.name(), stores, offsets, lengths, crcs);
    byte[] encoded = man.encode();
    Manifest previous = previousVersion(namespace, name); // restored if this put has to be undone
    List<DiskState> targets = new ArrayList<>();
    List<StoreCall<Void>> manifestPuts = new ArrayList<>();
    for (DiskState d : up) {
      if (!failed.contains(d)) {
        targets.add(d);
        manifestPuts.add(() -> {
          putInto(d, namespace, manifestName(name), encoded);
          return null;
        });
      }
    }
    List<Outcome<Void>> manifestOutcomes = onStores(manifestPuts, false);
    InterruptedIOException manifestInterrupted = null;
    for (int i = 0; i < targets.size(); i++) {
      IOException e = manifestOutcomes.get(i).error();
      if (e instanceof InterruptedIOException ie) {
        manifestInterrupted = ie;
      } else if (e != null) {
        failed.add(targets.get(i));
        markDown(targets.get(i), e);
      }
    }
    if (manifestInterrupted != null) {
      throw manifestInterrupted;
    }
    failedHere.addAll(failed);
    int landed = 0;
    for (int c = 0; c < n; c++) {
      if (stored[c] && !failed.contains(byName.get(stores[c]))) {
        landed++;
      }
    }
    if (landed >= p.c()) {
      if (landed < n) {
        suspects.add(key(namespace, name));
        log.info("{}/{}: {} of {} fragments stored under {} (enough); repair adds the rest", namespace, name, landed, n, p);
      }
      return man;
    }
    why.append(" policy ").append(p).append(": only ").append(landed).append(" of ").append(n)
        .append(" fragments stored, ").append(p.c()).append(" needed;");
    // Undo: no manifest may point at a half-written version. Where the new manifest landed, the
    // previous one (when this process knows it) goes back, else the name is withdrawn. A store whose
    // manifest put failed may still have taken it (the failure came after the rename): its manifest
    // is read back and withdrawn if it is the new one. Where that cannot be made sure, the new
    // version's columns stay (orphans cost space; a manifest pointing at deleted columns would cost
    // the object).
    boolean sure = true;
    for (DiskState d : up) {
      try {
        if (failed.contains(d)) {
          Manifest there;
          try {
            there = Manifest.decode(d.disk.store().get(namespace, manifestName(name)), name);
          } catch (NoSuchObjectException e) {
            continue;
          }
          if (there.generation != generation) {
            continue;
          }
        }
        if (previous != null) {
          d.disk.store().put(namespace, manifestName(name), previous.encode());
        } else {
          d.disk.store().delete(namespace, manifestName(name));
        }
      } catch (IOException e) {
        sure = false;
        log.warn("{}/{}: could not withdraw the manifest of an unfinished put on store '{}' ({}); keeping its fragments",
            namespace, name, d.disk.name(), e.toString());
      }
    }
    if (sure) {
      for (int c = 0; c < n; c++) {
        if (stored[c]) {
          deleteQuietly(byName.get(stores[c]), namespace, columnName(name, generation, c));
        }
      }
    }
    manifests.invalidate(key(namespace, name));
    return null;
  }

  /** The manifest a put replaces, or null for a new object (or when no store can say). */
  private Manifest previousVersion(String namespace, String name) throws IOException {
    Manifest m = manifests.getIfPresent(key(namespace, name));
    if (m != null) {
      return m;
    }
    try {
      return loadManifest(namespace, name, null);
    } catch (NoSuchObjectException e) {
      return null;
    } catch (IOException e) {
      if (e instanceof InterruptedIOException) {
        throw e;
      }
      return null;
    }
  }

  /** A put that creates the namespace on a store that missed its creation (it was down). */
  private void putInto(DiskState d, String namespace, String name, byte[] bytes) throws IOException {
    try {
      d.disk.store().put(namespace, name, bytes);
    } catch (NoSuchObjectException e) {
      d.disk.store().createNamespace(namespace);
      d.disk.store().put(namespace, name, bytes);
    }
  }

  private static void deleteQuietly(DiskState d, String namespace, String name) {
    try {
      d.disk.store().delete(namespace, name);
    } catch (IOException e) {
      log.debug("could not delete {}/{} on store '{}': {}", namespace, name, d.disk.name(), e.toString());
    }
  }

  /** Fragments of one column: the bytes of the column object and where each fragment is. */
  private static final class ColumnBuilder {
    private byte[] buf;
    private int size;
    private final int fragmentMax;
    final long[] offsets;
    final int[] lengths;
    final int[] rawCrcs;

    /**
     * Sized for every fragment at its largest (uncompressed, plus the GCM tag when encrypted): fragments
     * are encoded straight into it, and without compression the column is handed over with no copy.
     */
    ColumnBuilder(int stripes, int fragmentSize, boolean encrypted) {
      fragmentMax = FragmentCodec.maxEncodedBytes(fragmentSize, encrypted);
      long capacity = (long) stripes * fragmentMax;
      if (capacity > Integer.MAX_VALUE - 16) {
        throw new IllegalArgumentException("a column of " + capacity + " bytes is too large for one object");
      }
      buf = new byte[(int) capacity];
      offsets = new long[stripes];
      lengths = new int[stripes];
      rawCrcs = new int[stripes];
    }

    /**
     * Encodes the fragment of stripe {@code s} into its slot (stripe s at s times the largest fragment),
     * so that threads encoding different stripes write different bytes. {@link #compact} then closes the
     * gaps that compression left.
     */
    void put(int s, byte[] raw, int len, long generation, int column, Compression compression, EncryptionKey key) {
      int at = s * fragmentMax;
      lengths[s] = FragmentCodec.encodeInto(raw, 0, len, generation, s, column, compression, key, buf, at);
      offsets[s] = at;
    }

    /** After every stripe is in: fragments moved down over the gaps (none when nothing shrank). */
    void compact() {
      int pos = 0;
      for (int s = 0; s < offsets.length; s++) {
        if (offsets[s] != pos) {
          System.arraycopy(buf, (int) offsets[s], buf, pos, lengths[s]);
          offsets[s] = pos;
        }
        pos += lengths[s];
      }
      size = pos;
    }

    /** The column object's bytes (the same array on every call), once {@link #compact}ed. */
    byte[] bytes() {
      if (size != buf.length) {
        buf = java.util.Arrays.copyOf(buf, size);
      }
      return buf;
    }
  }

  /** At most this many threads encode the stripes of one object; fewer when the machine has fewer cores. */
  static final int ENCODE_THREADS_MAX = 4;
  /** Objects smaller than this are encoded on the put's own thread: handing over would cost more. */
  static final int ENCODE_PARALLEL_MIN_BYTES = 4 << 20;

  /**
   * Cuts the object into stripes, encodes them (on up to {@link #ENCODE_THREADS_MAX} threads, each a
   * range of stripes, for a large object) and returns the columns, built in place.
   */
  private ColumnBuilder[] encode(byte[] data, long generation, int k, int m, int fragmentSize, int stripes)
      throws InterruptedIOException {
    int n = k + m;
    ColumnBuilder[] columns = new ColumnBuilder[n];
    for (int c = 0; c < n; c++) {
      columns[c] = new ColumnBuilder(stripes, fragmentSize, preset.encrypted() && key != null);
    }
    int threads = data.length < ENCODE_PARALLEL_MIN_BYTES ? 1
        : Math.min(stripes, Math.min(ENCODE_THREADS_MAX, Runtime.getRuntime().availableProcessors()));
    if (threads <= 1) {
      encodeStripes(data, generation, k, m, fragmentSize, 0, stripes, columns);
    } else {
      List<StoreCall<Void>> parts = new ArrayList<>();
      for (int t = 0; t < threads; t++) {
        int from = (int) ((long) stripes * t / threads);
        int to = (int) ((long) stripes * (t + 1) / threads);
        parts.add(() -> {
          encodeStripes(data, generation, k, m, fragmentSize, from, to, columns);
          return null;
        });
      }
      onStores(parts, false); // disjoint stripes: disjoint slots of the columns; unchecked failures rethrown
    }
    for (ColumnBuilder c : columns) {
      c.compact();
    }
    return columns;
  }

  /** Encodes stripes [from, to) into their slots of the columns. */
  private void encodeStripes(byte[] data, long generation, int k, int m, int fragmentSize, int from, int to,
      ColumnBuilder[] columns) {
    int n = k + m;
    ReedSolomon rs = coder(k, m);
    byte[][] shards = new byte[n][fragmentSize];
    CRC32C crc = new CRC32C();
    EncryptionKey useKey = preset.encrypted() ? key : null;
    for (int s = from; s < to; s++) {
      long base = (long) s * k * fragmentSize;
      for (int c = 0; c < k; c++) {
        long at = base + (long) c * fragmentSize;
        int len = (int) Math.max(0, Math.min(fragmentSize, data.length - at));
        if (len > 0) {
          System.arraycopy(data, (int) at, shards[c], 0, len);
        }
        if (len < fragmentSize) {
          java.util.Arrays.fill(shards[c], Math.max(0, len), fragmentSize, (byte) 0);
        }
      }
      rs.encode(shards, 0, fragmentSize);
      for (int c = 0; c < n; c++) {
        crc.reset();
        crc.update(shards[c], 0, fragmentSize);
        columns[c].rawCrcs[s] = (int) crc.getValue();
        columns[c].put(s, shards[c], fragmentSize, generation, c, preset.compression(), useKey);
      }
    }
  }

  /** After a replace: columns of earlier versions of the object go. */
  private void removeOtherGenerations(String namespace, String name, long generation) throws InterruptedIOException {
    deleteColumns(upDisks(), namespace, name, generation);
  }

  // ---- manifests

  /** Every store's manifest of the object, newest first; stores that answered "none" are not in it. */
  private Manifest loadManifest(String namespace, String name, Map<DiskState, Manifest> perStore) throws IOException {
    Manifest best = null;
    int answered = 0;
    IOException last = null;
    List<DiskState> up = upDisks();
    List<StoreCall<byte[]>> gets = new ArrayList<>();
    for (DiskState d : up) {
      gets.add(() -> d.disk.store().get(namespace, manifestName(name)));
    }
    List<Outcome<byte[]>> got = onStores(gets, true); // from every store at once
    int found = 0;
    for (int i = 0; i < up.size(); i++) {
      DiskState d = up.get(i);
      IOException e = got.get(i).error();
      if (e instanceof NoSuchObjectException) {
        answered++;
        continue;
      }
      if (e instanceof InterruptedIOException) {
        throw e;
      }
      if (e != null) {
        last = e;
        markDown(d, e);
        continue;
      }
      answered++;
      Manifest m;
      try {
        m = Manifest.decode(got.get(i).value(), "object '" + name + "' in namespace '" + namespace + "' on store '"
            + d.disk.name() + "'");
      } catch (IOException bad) {
        log.warn("{}", bad.getMessage());
        suspects.add(key(namespace, name));
        continue;
      }
      found++;
      if (perStore != null) {
        perStore.put(d, m);
      }
      if (best == null || m.manifestVersion > best.manifestVersion) {
        best = m;
      }
    }
    if (best != null && found < answered && deletedAfter(namespace, name, best.manifestVersion)) {
      // Stores disagree, and the object was deleted after the newest manifest found: that manifest is
      // on a store that missed the delete. The object is gone; repair removes it there.
      suspects.add(key(namespace, name));
      throw new NoSuchObjectException(namespace, name);
    }
    if (best == null) {
      if (answered == 0) {
        DataUnavailableException u = new DataUnavailableException("data unavailable: object '" + name
            + "' in namespace '" + namespace + "': every store is down");
        u.initCause(last);
        throw u;
      }
      throw new NoSuchObjectException(namespace, name);
    }
    return best;
  }

  /**
   * The newest delete record of the object on the stores up, or -1 when none has one. Read only when
   * stores disagree on whether the object exists, so it costs nothing in the common case.
   */
  private long deleteVersion(String namespace, String name) throws IOException {
    List<DiskState> up = upDisks();
    List<StoreCall<byte[]>> gets = new ArrayList<>();
    for (DiskState d : up) {
      gets.add(() -> d.disk.store().get(namespace, tombstoneName(name)));
    }
    List<Outcome<byte[]>> got = onStores(gets, true);
    long newest = -1;
    for (int i = 0; i < up.size(); i++) {
      IOException e = got.get(i).error();
      if (e instanceof InterruptedIOException) {
        throw e;
      }
      if (e instanceof NoSuchObjectException) {
        continue;
      }
      if (e != null) {
        markDown(up.get(i), e);
        continue;
      }
      try {
        newest = Math.max(newest, Tombstone.decode(got.get(i).value(), "object '" + name + "' in namespace '"
            + namespace + "' on store '" + up.get(i).disk.name() + "'"));
      } catch (IOException bad) {
        log.warn("{}; ignored", bad.getMessage());
      }
    }
    return newest;
  }

  private boolean deletedAfter(String namespace, String name, long manifestVersion) throws IOException {
    return deleteVersion(namespace, name) > manifestVersion;
  }

  private Manifest manifest(String namespace, String name) throws IOException {
    checkName("namespace", namespace);
    checkName("object name", name);
    checkOpen();
    Manifest m = manifests.getIfPresent(key(namespace, name));
    if (m == null) {
      m = loadManifest(namespace, name, null);
      manifests.put(key(namespace, name), m);
    }
    checkKey(namespace, name, m);
    return m;
  }

  private void checkKey(String namespace, String name, Manifest m) throws IOException {
    if (!m.encrypted) {
      return;
    }
    if (key == null) {
      throw new EncryptionKeyException("object '" + name + "' in namespace '" + namespace
          + "' is encrypted, and no encryption key is configured");
    }
    if (key.fingerprint() != m.keyFingerprint) {
      throw new EncryptionKeyException("object '" + name + "' in namespace '" + namespace
          + "' was encrypted with another key (fingerprint " + Long.toHexString(m.keyFingerprint)
          + "; the configured key's is " + Long.toHexString(key.fingerprint()) + ")");
    }
  }

  /** The configured key cannot open the object: none configured, or another one. No data is returned. */
  public static final class EncryptionKeyException extends IOException {
    public EncryptionKeyException(String message) {
      super(message);
    }
  }

  // ---- reads

  /** How often a read starts over because the object was replaced under it. */
  private static final int REPLACED_RETRIES = 8;

  @Override
  public void read(String namespace, String name, long offset, ByteBuffer dst) throws IOException {
    if (offset < 0) {
      throw new IllegalArgumentException("offset must be >= 0; got " + offset + " for '" + namespace + "/" + name + "'");
    }
    Manifest m = manifest(namespace, name);
    int start = dst.position();
    for (int attempt = 0; ; attempt++) {
      try {
        readFrom(namespace, name, m, offset, dst);
        return;
      } catch (IOException e) {
        Manifest now = replacedSince(namespace, name, m, e, attempt);
        if (now == null) {
          throw e;
        }
        m = now;
        dst.position(start);
      }
    }
  }

  /**
   * A put replaces an object by writing the new version's fragments and manifests, then removing the old version's
   * fragments. A read that began on the old manifest can find them gone: it must then read the new version, as a
   * read racing a replace on a plain store gets either version whole. Returns the newer manifest, or null when the
   * failure was not a replace (or the retries are spent).
   */
  private Manifest replacedSince(String namespace, String name, Manifest used, IOException e, int attempt)
      throws IOException {
    if (e instanceof InterruptedIOException || attempt >= REPLACED_RETRIES) {
      return null;
    }
    Manifest now = manifests.getIfPresent(key(namespace, name));
    if (now == null || now.generation == used.generation) {
      try {
        now = loadManifest(namespace, name, null);
      } catch (NoSuchObjectException gone) {
        e.addSuppressed(gone);
        return null;
      }
    }
    if (now.generation == used.generation) {
      return null;
    }
    checkKey(namespace, name, now);
    manifests.put(key(namespace, name), now);
    log.debug("{}/{}: replaced while being read; reading the new version", namespace, name);
    return now;
  }

  /** Whether a put has replaced the version {@code m} describes (as far as this process knows). */
  private boolean superseded(String namespace, String name, Manifest m) {
    Manifest now = manifests.getIfPresent(key(namespace, name));
    return now != null && now.generation != m.generation;
  }

  private void readFrom(String namespace, String name, Manifest m, long offset, ByteBuffer dst) throws IOException {
    int want = dst.remaining();
    if (offset + want > m.objectSize) {
      throw new EOFException("object '" + name + "' in namespace '" + namespace + "' has " + m.objectSize
          + " bytes, short of the range [" + offset + ", +" + want + ")");
    }
    if (want == 0) {
      return;
    }
    long stripeBytes = (long) m.k * m.fragmentSize;
    Map<Integer, byte[][]> rebuilt = new HashMap<>();
    // The data fragments that hold the range, in order: {stripe, column, offset in it, bytes}.
    List<int[]> pieces = new ArrayList<>();
    long pos = offset;
    long end = offset + want;
    while (pos < end) {
      int inFragment = (int) (pos % m.fragmentSize);
      int n = (int) Math.min(end - pos, m.fragmentSize - inFragment);
      pieces.add(new int[] {(int) (pos / stripeBytes), (int) ((pos % stripeBytes) / m.fragmentSize), inFragment, n});
      pos += n;
    }
    // Fetched from their stores a wave at a time, in parallel (one fragment: on this thread); a fragment
    // that fails is rebuilt from its stripe's others.
    for (int from = 0; from < pieces.size(); from += STORE_CALLS_PARALLEL_MAX) {
      List<int[]> wave = pieces.subList(from, Math.min(pieces.size(), from + STORE_CALLS_PARALLEL_MAX));
      List<StoreCall<byte[]>> fetches = new ArrayList<>();
      for (int[] p : wave) {
        fetches.add(rebuilt.containsKey(p[0]) ? () -> null : () -> fetch(namespace, name, m, p[0], p[1]));
      }
      List<Outcome<byte[]>> got = onStores(fetches, true);
      for (int i = 0; i < wave.size(); i++) {
        int[] p = wave.get(i);
        byte[] raw = dataFragment(namespace, name, m, p[0], p[1], rebuilt, got.get(i));
        dst.put(raw, p[2], p[3]);
      }
    }
  }

  @Override
  public byte[] get(String namespace, String name) throws IOException {
    Manifest m = manifest(namespace, name);
    for (int attempt = 0; ; attempt++) {
      if (m.objectSize > Integer.MAX_VALUE - 16) {
        throw new IOException("object '" + name + "' in namespace '" + namespace + "' is too large to get whole");
      }
      ByteBuffer b = ByteBuffer.allocate((int) m.objectSize);
      try {
        readFrom(namespace, name, m, 0, b);
        return b.array();
      } catch (IOException e) {
        Manifest now = replacedSince(namespace, name, m, e, attempt);
        if (now == null) {
          throw e;
        }
        m = now;
      }
    }
  }

  /** The raw bytes of one data fragment: as fetched, or rebuilt when the fetch failed. */
  private byte[] dataFragment(String namespace, String name, Manifest m, int stripe, int column,
      Map<Integer, byte[][]> rebuilt, Outcome<byte[]> fetched) throws IOException {
    byte[][] shards = rebuilt.get(stripe);
    if (shards != null) {
      return shards[column];
    }
    IOException e = fetched.error();
    if (e == null) {
      return fetched.value();
    }
    if (e instanceof InterruptedIOException || superseded(namespace, name, m)) {
      throw e; // a replaced version's fragments go: the caller reads the new one
    }
    log.warn("{}/{}: fragment {} of stripe {} unreadable ({}); rebuilding it from the others", namespace, name,
        column, stripe, e.getMessage());
    suspects.add(key(namespace, name));
    degradedReads.incrementAndGet();
    shards = rebuildStripe(namespace, name, m, stripe, column);
    rebuilt.put(stripe, shards);
    return shards[column];
  }

  /** One fragment, checked: from its column object with one ranged read. */
  private byte[] fetch(String namespace, String name, Manifest m, int stripe, int column) throws IOException {
    DiskState d = byName.get(m.stores[column]);
    if (d == null) {
      throw new IOException("store '" + m.stores[column] + "' is not configured");
    }
    if (!isUp(d)) {
      throw new IOException("store '" + d.disk.name() + "' is down");
    }
    ByteBuffer b = ByteBuffer.allocate(m.lengths[column][stripe]);
    try {
      d.disk.store().read(namespace, columnName(name, m.generation, column), m.offsets[column][stripe], b);
    } catch (IOException e) {
      if (storeTrouble(e)) {
        markDown(d, e);
      }
      throw e;
    }
    fragmentsFetched.incrementAndGet();
    bytesFetched.addAndGet(b.capacity());
    byte[] raw = FragmentCodec.decode(b.array(), m.generation, stripe, column, m.fragmentSize,
        m.encrypted ? key : null);
    CRC32C crc = new CRC32C();
    crc.update(raw);
    if ((int) crc.getValue() != m.rawCrcs[column][stripe]) {
      throw new FragmentCodec.CorruptFragmentException("fragment " + column + " of stripe " + stripe
          + ": raw bytes do not match the manifest's CRC32C");
    }
    return raw;
  }

  /** All k+m shards of a stripe from any k intact fragments; {@code skip} is known bad. */
  private byte[][] rebuildStripe(String namespace, String name, Manifest m, int stripe, int skip) throws IOException {
    int n = m.columns();
    byte[][] shards = new byte[n][];
    boolean[] present = new boolean[n];
    int have = 0;
    StringBuilder lost = new StringBuilder();
    if (skip >= 0) {
      lost.append(" ").append(skip).append(" (unreadable)");
    }
    // As many fragments as still needed, fetched at once; a wave's failures are made up by the next
    // columns in the next wave. Bounded: every wave uses up columns, and there are n.
    int next = 0;
    while (have < m.k && next < n) {
      List<Integer> wave = new ArrayList<>();
      while (wave.size() < m.k - have && next < n) {
        if (next != skip) {
          wave.add(next);
        }
        next++;
      }
      List<StoreCall<byte[]>> fetches = new ArrayList<>();
      for (int c : wave) {
        fetches.add(() -> fetch(namespace, name, m, stripe, c));
      }
      List<Outcome<byte[]>> got = onStores(fetches, true);
      for (int i = 0; i < wave.size(); i++) {
        int c = wave.get(i);
        IOException e = got.get(i).error();
        if (e instanceof InterruptedIOException) {
          throw e;
        }
        if (e != null) {
          lost.append(" ").append(c).append(" (").append(e.getMessage()).append(")");
        } else {
          shards[c] = got.get(i).value();
          present[c] = true;
          have++;
        }
      }
    }
    if (have < m.k) {
      throw new DataUnavailableException("data unavailable: object '" + name + "' in namespace '" + namespace
          + "', stripe " + stripe + ": " + have + " intact fragments reachable, " + m.k + " needed (k=" + m.k + ", m="
          + m.m + "); lost:" + lost);
    }
    for (int c = 0; c < n; c++) {
      if (!present[c]) {
        shards[c] = new byte[m.fragmentSize];
      }
    }
    coder(m.k, m.m).decode(shards, present, 0, m.fragmentSize);
    CRC32C crc = new CRC32C();
    for (int c = 0; c < n; c++) {
      crc.reset();
      crc.update(shards[c]);
      if ((int) crc.getValue() != m.rawCrcs[c][stripe]) {
        throw new DataUnavailableException("data unavailable: object '" + name + "' in namespace '" + namespace
            + "', stripe " + stripe + ": rebuilt fragment " + c + " does not match its CRC32C");
      }
    }
    return shards;
  }

  @Override
  public long size(String namespace, String name) throws IOException {
    return manifest(namespace, name).objectSize;
  }

  @Override
  public boolean exists(String namespace, String name) throws IOException {
    checkName("namespace", namespace);
    checkName("object name", name);
    if (manifests.getIfPresent(key(namespace, name)) != null) {
      return true;
    }
    try {
      manifests.put(key(namespace, name), loadManifest(namespace, name, null));
      return true;
    } catch (NoSuchObjectException e) {
      return false;
    }
  }

  @Override
  public void delete(String namespace, String name) throws IOException {
    checkName("namespace", namespace);
    checkName("object name", name);
    ReentrantLock lock = lockFor(namespace, name);
    lock.lock();
    try {
      manifests.invalidate(key(namespace, name));
      long deleteVersion = nextVersion();
      IOException last = null;
      // Manifests first, then columns: an object is either whole or gone.
      List<DiskState> up = upDisks();
      List<StoreCall<Void>> deletes = new ArrayList<>();
      for (DiskState d : up) {
        deletes.add(() -> {
          try {
            d.disk.store().delete(namespace, manifestName(name));
          } catch (NoSuchObjectException e) {
            // not there: as good
          }
          return null;
        });
      }
      List<Outcome<Void>> outcomes = onStores(deletes, false);
      List<DiskState> answered = new ArrayList<>();
      for (int i = 0; i < up.size(); i++) {
        IOException e = outcomes.get(i).error();
        if (e == null) {
          answered.add(up.get(i));
        } else {
          last = e;
          markDown(up.get(i), e);
        }
      }
      if (answered.isEmpty()) {
        throw new IOException("delete object '" + name + "' in namespace '" + namespace + "': no store answered", last);
      }
      if (answered.size() < disks.size()) {
        // A store missed the delete: a record of it on the others, so that the object does not come back
        // with that store, and repair removes it there.
        byte[] record = Tombstone.encode(deleteVersion);
        List<StoreCall<Void>> puts = new ArrayList<>();
        for (DiskState d : answered) {
          puts.add(() -> {
            putInto(d, namespace, tombstoneName(name), record);
            return null;
          });
        }
        int recorded = 0;
        for (Outcome<Void> o : onStores(puts, false)) {
          recorded += o.error() == null ? 1 : 0;
        }
        log.info("{}/{}: deleted while {} of {} stores did not answer; delete recorded on {} stores, replayed on the "
            + "others by repair when they are back", namespace, name, disks.size() - answered.size(), disks.size(),
            recorded);
      }
      deleteColumns(answered, namespace, name, null);
    } finally {
      lock.unlock();
    }
  }

  /**
   * Deletes on each store (in parallel) the object's column objects, except those of generation {@code keep}
   * (null: all). Failures are logged only: what stays is garbage that a later pass removes.
   */
  private int deleteColumns(List<DiskState> stores, String namespace, String name, Long keep) throws InterruptedIOException {
    String prefix = name + COLUMN_MARK;
    String kept = keep == null ? null : prefix + Long.toHexString(keep) + ".";
    List<StoreCall<Integer>> calls = new ArrayList<>();
    for (DiskState d : stores) {
      calls.add(() -> {
        int n = 0;
        try {
          for (String col : d.disk.store().list(namespace, prefix)) {
            if (col.indexOf('.', prefix.length()) > 0 && (kept == null || !col.startsWith(kept))) {
              d.disk.store().delete(namespace, col);
              n++;
            }
          }
        } catch (NoSuchObjectException e) {
          // nothing there
        }
        return n;
      });
    }
    List<Outcome<Integer>> outcomes = onStores(calls, false);
    int deleted = 0;
    for (int i = 0; i < stores.size(); i++) {
      Outcome<Integer> o = outcomes.get(i);
      if (o.error() != null) {
        log.debug("deleting columns of {}/{} on '{}': {}", namespace, name, stores.get(i).disk.name(),
            o.error().toString());
      } else {
        deleted += o.value();
      }
    }
    return deleted;
  }

  @Override
  public List<String> list(String namespace, String prefix) throws IOException {
    checkName("namespace", namespace);
    Objects.requireNonNull(prefix, "prefix");
    Set<String> names = new TreeSet<>();
    int ok = 0;
    int missing = 0;
    IOException last = null;
    Set<String> deleted = new TreeSet<>();
    List<DiskState> up = upDisks();
    List<StoreCall<List<String>>> lists = new ArrayList<>();
    for (DiskState d : up) {
      lists.add(() -> d.disk.store().list(namespace, prefix));
    }
    List<Outcome<List<String>>> got = onStores(lists, true); // every store at once
    for (int i = 0; i < up.size(); i++) {
      IOException e = got.get(i).error();
      if (e instanceof NoSuchObjectException) {
        missing++;
        continue;
      }
      if (e instanceof InterruptedIOException) {
        throw e;
      }
      if (e != null) {
        last = e;
        markDown(up.get(i), e);
        continue;
      }
      for (String n : got.get(i).value()) {
        if (n.endsWith(MANIFEST_SUFFIX)) {
          String object = n.substring(0, n.length() - MANIFEST_SUFFIX.length());
          if (object.startsWith(prefix) && !object.isEmpty()) {
            names.add(object);
          }
        } else if (n.endsWith(TOMBSTONE_SUFFIX)) {
          deleted.add(n.substring(0, n.length() - TOMBSTONE_SUFFIX.length()));
        }
      }
      ok++;
    }
    if (ok == 0) {
      if (missing > 0) {
        throw new NoSuchObjectException(namespace);
      }
      throw new IOException("list namespace '" + namespace + "': every store is down", last);
    }
    // A name with a delete record may be a deleted object still on a store that missed the delete (or
    // one written again since): its versions decide. Delete records are rare, so this costs little.
    for (String n : deleted) {
      if (names.contains(n) && !exists(namespace, n)) {
        names.remove(n);
      }
    }
    return new ArrayList<>(names);
  }

  /**
   * Starts the background maintenance: every {@code repairEvery} a pass over the objects whose
   * reads found trouble and a repair pass over everything; every {@code verifyEvery} a verify pass
   * (reads every fragment). One daemon thread; {@link #close} stops it.
   */
  public synchronized void startMaintenance(Duration repairEvery, Duration verifyEvery) {
    if (maintenance != null) {
      throw new IllegalStateException("maintenance already started");
    }
    java.util.concurrent.ScheduledExecutorService ex = java.util.concurrent.Executors.newSingleThreadScheduledExecutor(r -> {
      Thread t = new Thread(r, "fragment-repair");
      t.setDaemon(true);
      return t;
    });
    ex.scheduleWithFixedDelay(() -> runPass(false), repairEvery.toMillis(), repairEvery.toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
    ex.scheduleWithFixedDelay(() -> runPass(true), verifyEvery.toMillis(), verifyEvery.toMillis(),
        java.util.concurrent.TimeUnit.MILLISECONDS);
    maintenance = ex;
  }

  private void runPass(boolean verify) {
    if (closed) {
      return;
    }
    try {
      if (!verify) {
        repairSuspects();
      }
      repair(verify);
    } catch (IOException | RuntimeException e) {
      log.warn("{} pass stopped: {}", verify ? "verify" : "repair", e.toString());
    }
  }

  @Override
  public void close() throws IOException {
    closed = true;
    java.util.concurrent.ScheduledExecutorService ex;
    synchronized (this) {
      ex = maintenance;
      maintenance = null;
    }
    if (ex != null) {
      ex.shutdownNow();
      try {
        if (!ex.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS)) {
          log.warn("the repair thread did not stop within 30 s");
        }
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
      }
    }
    putThreads.shutdown();
    try {
      if (!putThreads.awaitTermination(60, java.util.concurrent.TimeUnit.SECONDS)) {
        log.warn("puts still running 60 s after close");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    IOException first = null;
    for (DiskState d : disks) {
      try {
        d.disk.store().close();
      } catch (IOException e) {
        first = first == null ? e : first;
      }
    }
    if (first != null) {
      throw first;
    }
  }

  private void checkOpen() {
    if (closed) {
      throw new IllegalStateException(this + " is closed");
    }
  }

  @Override
  public String toString() {
    List<String> names = new ArrayList<>(byName.keySet());
    return "FragmentObjectStore[" + preset + " over " + names + "]";
  }

  // ---- statistics, for tests and the benchmark

  /** Fragments fetched from stores by reads (not by repair) since start. */
  public long fragmentsFetched() {
    return fragmentsFetched.get();
  }

  /** Stored bytes fetched by reads since start: the partial-read cost. */
  public long bytesFetched() {
    return bytesFetched.get();
  }

  /** Reads that had to rebuild a fragment from the others. */
  public long degradedReads() {
    return degradedReads.get();
  }

  // ---- repair

  private static final class Progress {
    final AtomicLong checked = new AtomicLong();
    final AtomicLong missing = new AtomicLong();
    final AtomicLong corrupt = new AtomicLong();
    final AtomicLong repaired = new AtomicLong();
    final AtomicLong manifests = new AtomicLong();
    final AtomicLong rewritten = new AtomicLong();
    final AtomicLong unrecoverable = new AtomicLong();
    final AtomicLong deletesReplayed = new AtomicLong();
    volatile int storesDown;

    void reset() {
      for (AtomicLong a : List.of(checked, missing, corrupt, repaired, manifests, rewritten, unrecoverable,
          deletesReplayed)) {
        a.set(0);
      }
    }

    RepairReport snapshot() {
      return new RepairReport(checked.get(), missing.get(), corrupt.get(), repaired.get(), manifests.get(),
          rewritten.get(), unrecoverable.get(), storesDown, deletesReplayed.get());
    }
  }

  private final ReentrantLock repairLock = new ReentrantLock();
  /** Stores found down during the running repair pass: not chosen as targets by it. */
  private final Set<DiskState> downDuringPass = ConcurrentHashMap.newKeySet();

  /** The counts of the repair pass running now (or of the last one). */
  public RepairReport repairProgress() {
    return progress.snapshot();
  }

  /**
   * One pass over every object of every namespace: probes every store (a store that answers again
   * is reintegrated), checks each object's fragments (presence and size; with {@code verify}, reads
   * and checks every fragment), rebuilds what is missing or corrupt, brings manifests up to date
   * on every store, and rewrites objects stored under a fallback policy when a better one fits
   * again. Passes do not overlap.
   */
  public RepairReport repair(boolean verify) throws IOException {
    repairLock.lock();
    try {
      progress.reset();
      probeStores();
      progress.storesDown = storesDown().size();
      for (String ns : listNamespaces()) {
        Set<String> names;
        Set<String> withRecords = new HashSet<>();
        try {
          names = storedNames(ns, withRecords);
        } catch (NoSuchObjectException e) {
          continue;
        }
        for (String name : names) {
          if (closed) {
            throw new IOException(this + " closed during repair");
          }
          repairObject(ns, name, verify, withRecords.contains(name));
        }
      }
      RepairReport r = progress.snapshot();
      log.info("{} pass: {}", verify ? "verify" : "repair", r);
      return r;
    } finally {
      repairLock.unlock();
    }
  }

  /** Repairs only the objects whose reads or writes found trouble since the last pass. */
  public RepairReport repairSuspects() throws IOException {
    repairLock.lock();
    try {
      progress.reset();
      probeStores();
      progress.storesDown = storesDown().size();
      List<String> keys = new ArrayList<>(suspects);
      for (String k : keys) {
        int slash = k.indexOf('/');
        suspects.remove(k);
        repairObject(k.substring(0, slash), k.substring(slash + 1), true, false);
      }
      return progress.snapshot();
    } finally {
      repairLock.unlock();
    }
  }

  /** Every object name with a manifest or a delete record on some store up, deleted or not. */
  private Set<String> storedNames(String namespace, Set<String> withRecords) throws IOException {
    Set<String> names = new TreeSet<>();
    int ok = 0;
    for (DiskState d : upDisks()) {
      try {
        for (String n : d.disk.store().list(namespace, "")) {
          if (n.endsWith(MANIFEST_SUFFIX) && n.length() > MANIFEST_SUFFIX.length()) {
            names.add(n.substring(0, n.length() - MANIFEST_SUFFIX.length()));
          } else if (n.endsWith(TOMBSTONE_SUFFIX) && n.length() > TOMBSTONE_SUFFIX.length()) {
            names.add(n.substring(0, n.length() - TOMBSTONE_SUFFIX.length()));
            withRecords.add(n.substring(0, n.length() - TOMBSTONE_SUFFIX.length()));
          }
        }
        ok++;
      } catch (NoSuchObjectException e) {
        // not on this store
      } catch (IOException e) {
        markDown(d, e);
      }
    }
    if (ok == 0) {
      throw new NoSuchObjectException(namespace);
    }
    return names;
  }

  /**
   * Replays a delete that stores missed: from every store up, the manifests older than the newest
   * delete record go, then the columns. Once every configured store has answered, the records go too.
   * Called with the object's lock held.
   */
  private void replayDelete(String namespace, String name) throws IOException {
    long deletedAt = deleteVersion(namespace, name);
    if (deletedAt < 0) {
      return; // deleted everywhere, nothing recorded: nothing to do
    }
    List<DiskState> up = new ArrayList<>(upDisks());
    up.removeAll(downDuringPass);
    List<StoreCall<Boolean>> calls = new ArrayList<>();
    for (DiskState d : up) {
      calls.add(() -> {
        Manifest there;
        try {
          there = Manifest.decode(d.disk.store().get(namespace, manifestName(name)), name);
        } catch (NoSuchObjectException e) {
          return false;
        }
        if (there.manifestVersion >= deletedAt) {
          throw new IOException("store '" + d.disk.name() + "' has a version of " + namespace + "/" + name
              + " newer than its delete record");
        }
        d.disk.store().delete(namespace, manifestName(name));
        return true;
      });
    }
    List<Outcome<Boolean>> outcomes = onStores(calls, false);
    List<DiskState> cleaned = new ArrayList<>();
    for (int i = 0; i < up.size(); i++) {
      Outcome<Boolean> o = outcomes.get(i);
      if (o.error() != null) {
        log.warn("repair: {}/{}: could not replay its delete on store '{}': {}", namespace, name, up.get(i).disk.name(),
            o.error().toString());
        continue;
      }
      cleaned.add(up.get(i));
      if (o.value()) {
        progress.deletesReplayed.incrementAndGet();
        log.info("repair: {}/{} was deleted while store '{}' was away; removed there", namespace, name,
            up.get(i).disk.name());
      }
    }
    deleteColumns(cleaned, namespace, name, null);
    if (cleaned.size() == disks.size()) {
      dropDeleteRecords(namespace, name);
    }
  }

  private void dropDeleteRecords(String namespace, String name) throws InterruptedIOException {
    List<StoreCall<Void>> calls = new ArrayList<>();
    for (DiskState d : disks) {
      calls.add(() -> {
        try {
          d.disk.store().delete(namespace, tombstoneName(name));
        } catch (NoSuchObjectException e) {
          // none there
        }
        return null;
      });
    }
    onStores(calls, false);
  }

  private void probeStores() throws InterruptedIOException {
    downDuringPass.clear();
    List<StoreCall<Void>> probes = new ArrayList<>();
    for (DiskState d : disks) {
      probes.add(() -> {
        try {
          d.disk.store().listNamespaces();
        } catch (RuntimeException e) {
          throw new IOException(e);
        }
        return null;
      });
    }
    List<Outcome<Void>> got = onStores(probes, true); // every store at once
    for (int i = 0; i < disks.size(); i++) {
      DiskState d = disks.get(i);
      IOException e = got.get(i).error();
      if (e == null) {
        markUp(d);
      } else {
        markDown(d, e);
        downDuringPass.add(d);
      }
    }
  }

  /** {@code hasRecord}: a delete record of the name was seen; it goes once the object is on every store. */
  private void repairObject(String namespace, String name, boolean verify, boolean hasRecord) throws IOException {
    ReentrantLock lock = lockFor(namespace, name);
    lock.lock();
    try {
      Map<DiskState, Manifest> perStore = new HashMap<>();
      Manifest m;
      try {
        m = loadManifest(namespace, name, perStore);
      } catch (NoSuchObjectException e) {
        replayDelete(namespace, name); // deleted: meanwhile, or while some store was away
        return;
      }
      progress.checked.incrementAndGet();
      if (m.encrypted && (key == null || key.fingerprint() != m.keyFingerprint)) {
        log.error("repair: {}/{} is encrypted with a key that is not configured; skipped", namespace, name);
        progress.unrecoverable.incrementAndGet();
        return;
      }
      int n = m.columns();
      boolean[] bad = new boolean[n];
      int badCount = 0;
      for (int c = 0; c < n; c++) {
        String why = checkColumn(namespace, name, m, c, verify);
        if (why != null) {
          bad[c] = true;
          badCount++;
          (why.startsWith("corrupt") ? progress.corrupt : progress.missing).addAndGet(Math.max(1, m.stripes));
          log.info("repair: {}/{} fragment column {} on '{}': {}", namespace, name, c, m.stores[c], why);
        }
      }
      if (badCount > 0) {
        if (n - badCount < m.k) {
          progress.unrecoverable.incrementAndGet();
          log.error("repair: {}/{} has {} intact fragment columns, {} needed: data unavailable until stores come back",
              namespace, name, n - badCount, m.k);
          return;
        }
        m = rebuildColumns(namespace, name, m, bad);
      }
      // Every store that is up gets the newest manifest; one that had an older version (it was away during
      // a replace) loses that version's columns.
      byte[] encoded = null;
      List<DiskState> outdated = new ArrayList<>();
      for (DiskState d : upDisks()) {
        Manifest have = perStore.get(d);
        if (have == null || have.manifestVersion < m.manifestVersion) {
          encoded = encoded == null ? m.encode() : encoded;
          try {
            putInto(d, namespace, manifestName(name), encoded);
            progress.manifests.incrementAndGet();
            if (have != null && have.generation != m.generation) {
              outdated.add(d);
            }
          } catch (IOException e) {
            markDown(d, e);
          }
        }
      }
      if (!outdated.isEmpty()) {
        deleteColumns(outdated, namespace, name, m.generation);
      }
      manifests.put(key(namespace, name), m);
      if (hasRecord && storesDown().isEmpty() && downDuringPass.isEmpty() && perStore.size() == disks.size()) {
        dropDeleteRecords(namespace, name); // written again after a delete, and now on every store
      }
      int best = bestUsablePolicy();
      if (best >= 0 && m.policyIndex > best) {
        byte[] data = new byte[(int) m.objectSize];
        read(namespace, name, 0, ByteBuffer.wrap(data));
        putLocked(namespace, name, data, 0);
        progress.rewritten.incrementAndGet();
        log.info("repair: {}/{} rewritten from fallback policy {} to {}", namespace, name, m.policyIndex, best);
      }
    } catch (DataUnavailableException | EncryptionKeyException e) {
      progress.unrecoverable.incrementAndGet();
      log.error("repair: {}/{}: {}", namespace, name, e.getMessage());
    } finally {
      lock.unlock();
    }
  }

  private int bestUsablePolicy() {
    int up = upDisks().size();
    List<Policy> ps = preset.policies();
    for (int i = 0; i < ps.size(); i++) {
      if (up * ps.get(i).x() >= ps.get(i).fragments()) {
        return i;
      }
    }
    return -1;
  }

  /** Null when the column is intact, else why not. */
  private String checkColumn(String namespace, String name, Manifest m, int c, boolean verify) {
    DiskState d = byName.get(m.stores[c]);
    if (d == null) {
      return "missing: store not configured";
    }
    if (!isUp(d) || downDuringPass.contains(d)) {
      return "missing: store down";
    }
    String col = columnName(name, m.generation, c);
    long expected = 0;
    for (int s = 0; s < m.stripes; s++) {
      expected = Math.max(expected, m.offsets[c][s] + m.lengths[c][s]);
    }
    try {
      if (!verify) {
        long size = d.disk.store().size(namespace, col);
        return size == expected ? null : "missing: column object has " + size + " bytes, " + expected + " expected";
      }
      if (m.stripes == 0) {
        return d.disk.store().exists(namespace, col) ? null : "missing: no column object";
      }
      byte[] all = d.disk.store().get(namespace, col);
      if (all.length != expected) {
        return "corrupt: column object has " + all.length + " bytes, " + expected + " expected";
      }
      CRC32C crc = new CRC32C();
      for (int s = 0; s < m.stripes; s++) {
        byte[] frag = java.util.Arrays.copyOfRange(all, (int) m.offsets[c][s], (int) m.offsets[c][s] + m.lengths[c][s]);
        byte[] raw = FragmentCodec.decode(frag, m.generation, s, c, m.fragmentSize, m.encrypted ? key : null);
        crc.reset();
        crc.update(raw);
        if ((int) crc.getValue() != m.rawCrcs[c][s]) {
          return "corrupt: stripe " + s + " does not match the manifest's CRC32C";
        }
      }
      return null;
    } catch (NoSuchObjectException e) {
      return m.stripes == 0 ? null : "missing: no column object";
    } catch (FragmentCodec.CorruptFragmentException e) {
      return "corrupt: " + e.getMessage();
    } catch (IOException e) {
      if (storeTrouble(e)) {
        markDown(d, e);
        downDuringPass.add(d);
      }
      return "missing: " + e.getMessage();
    }
  }

  /** Rebuilds the bad columns stripe by stripe and stores them (moved off stores that are down). */
  private Manifest rebuildColumns(String namespace, String name, Manifest m, boolean[] bad) throws IOException {
    int n = m.columns();
    EncryptionKey useKey = m.encrypted ? key : null;
    ColumnBuilder[] rebuilt = new ColumnBuilder[n];
    for (int c = 0; c < n; c++) {
      if (bad[c]) {
        rebuilt[c] = new ColumnBuilder(m.stripes, m.fragmentSize, useKey != null);
      }
    }
    for (int s = 0; s < m.stripes; s++) {
      byte[][] shards = rebuildStripe(namespace, name, m, s, firstBad(bad));
      for (int c = 0; c < n; c++) {
        if (bad[c]) {
          rebuilt[c].put(s, shards[c], m.fragmentSize, m.generation, c, m.compression, useKey);
        }
      }
    }
    for (ColumnBuilder b : rebuilt) {
      if (b != null) {
        b.compact();
      }
    }
    Manifest out = m;
    // First every rebuilt column to its planned store, all at once; a column whose put failed then
    // looks for another store, one column after the other (rare).
    List<Integer> planned = new ArrayList<>();
    List<StoreCall<Void>> puts = new ArrayList<>();
    List<DiskState> targets = new ArrayList<>();
    Manifest plan = m;
    for (int c = 0; c < n; c++) {
      DiskState t = bad[c] ? placeColumn(plan, c, Set.of()) : null;
      if (t != null) {
        plan = plan.withColumn(c, t.disk.name(), rebuilt[c].offsets, rebuilt[c].lengths, plan.manifestVersion);
        byte[] bytes = rebuilt[c].bytes();
        String column = columnName(name, m.generation, c);
        planned.add(c);
        targets.add(t);
        puts.add(() -> {
          putInto(t, namespace, column, bytes);
          return null;
        });
      }
    }
    List<Outcome<Void>> outcomes = onStores(puts, false);
    Map<Integer, DiskState> refusedFirst = new HashMap<>();
    boolean[] done = new boolean[n];
    for (int i = 0; i < planned.size(); i++) {
      int c = planned.get(i);
      IOException e = outcomes.get(i).error();
      if (e instanceof InterruptedIOException) {
        throw e;
      }
      if (e == null) {
        out = out.withColumn(c, targets.get(i).disk.name(), rebuilt[c].offsets, rebuilt[c].lengths, nextVersion());
        progress.repaired.addAndGet(Math.max(1, m.stripes));
        done[c] = true;
      } else {
        markDown(targets.get(i), e);
        refusedFirst.put(c, targets.get(i));
      }
    }
    for (int c = 0; c < n; c++) {
      if (!bad[c] || done[c]) {
        continue;
      }
      Set<DiskState> refused = new HashSet<>();
      if (refusedFirst.containsKey(c)) {
        refused.add(refusedFirst.get(c));
      }
      DiskState target = null;
      // Bounded: each failed store is excluded, and there are finitely many.
      for (int attempt = 0; attempt <= disks.size(); attempt++) {
        DiskState candidate = placeColumn(out, c, refused);
        if (candidate == null) {
          break;
        }
        try {
          putInto(candidate, namespace, columnName(name, m.generation, c), rebuilt[c].bytes());
          target = candidate;
          break;
        } catch (IOException e) {
          if (e instanceof InterruptedIOException) {
            throw e;
          }
          markDown(candidate, e);
          refused.add(candidate);
        }
      }
      if (target == null) {
        log.warn("repair: {}/{} column {}: no store up can take it without exceeding x; left for a later pass",
            namespace, name, c);
        continue;
      }
      out = out.withColumn(c, target.disk.name(), rebuilt[c].offsets, rebuilt[c].lengths, nextVersion());
      progress.repaired.addAndGet(Math.max(1, m.stripes));
    }
    return out;
  }

  private static int firstBad(boolean[] bad) {
    for (int c = 0; c < bad.length; c++) {
      if (bad[c]) {
        return c;
      }
    }
    return -1;
  }

  /** The column's own store when it is up, else the up store holding the fewest of the object's columns (at most x). */
  private DiskState placeColumn(Manifest m, int column, Set<DiskState> refused) {
    DiskState own = byName.get(m.stores[column]);
    if (own != null && isUp(own) && !refused.contains(own) && !downDuringPass.contains(own)) {
      return own;
    }
    Policy p = m.policyIndex < preset.policies().size() ? preset.policies().get(m.policyIndex) : null;
    int x = p == null ? Integer.MAX_VALUE : p.x();
    DiskState best = null;
    int bestCount = Integer.MAX_VALUE;
    for (DiskState d : upDisks()) {
      if (refused.contains(d) || downDuringPass.contains(d)) {
        continue;
      }
      int count = 0;
      for (int c = 0; c < m.columns(); c++) {
        if (c != column && m.stores[c].equals(d.disk.name())) {
          count++;
        }
      }
      if (count < x && count < bestCount) {
        best = d;
        bestCount = count;
      }
    }
    return best;
  }
}
