package org.vsa.volume;

import java.time.Instant;
import java.util.Optional;

/**
 * A vDisk the engine found but could not open safely: it is listed, keeps its data and its place
 * in the front ends, refuses I/O and management changes, and holds back what could free data it
 * references (see {@link Engine#offlineVdisks()}).
 *
 * @param name the vDisk's name (its metadata directory's)
 * @param spec what it was created with, when its record could be read
 * @param reason why it is offline: names the vDisk, the cause and, for a DTL refusal, the risk and
 *     the path of the {@code open-without-dtl} file
 * @param retriedPeriodically true when the engine retries the open by itself (a DTL refusal: the
 *     DTL may come back); otherwise only {@link Engine#retryOpen} does
 * @param since when it went offline (or the last retry failed)
 */
public record OfflineVdisk(String name, Optional<VolumeSpec> spec, String reason, boolean retriedPeriodically,
    Instant since) {}
