/*
 * vsa-iscsi-load: a libiscsi initiator that writes through a failover, the way a multipath
 * initiator does: it knows every node's portal, logs in through the first that answers (a node
 * that does not own the LUN redirects the login to its owner, and libiscsi follows), and when a
 * command fails or the connection drops it logs in again through the next portal and retries the
 * same write.
 *
 *   vsa-iscsi-load [OPTIONS] write IQN LUN FIRST_LBA WRITES BLOCKS SECONDS PORTAL...
 *       Writes WRITES units of BLOCKS blocks each, unit k at FIRST_LBA + k*BLOCKS, with FUA, for at
 *       most SECONDS; prints "ack K" once unit K's WRITE16 returned GOOD, "fail K reason" when it did
 *       not (it is then retried), "login PORTAL at ADDRESS" after each login (ADDRESS: the portal
 *       that serves the session, the one a redirect named, else PORTAL itself). Every block of unit
 *       K holds the pattern of (SEED, K, block): any other content read back later is corruption.
 *   vsa-iscsi-load [OPTIONS] check IQN LUN FIRST_LBA WRITES BLOCKS SECONDS PORTAL...
 *       Reads the units back and prints per unit "unit K ok|zero|bad" (ok: the first SEED's
 *       pattern), or "unit K seed S" when it holds the pattern of another SEED listed.
 *
 *   Options:
 *     -t          prefix every stdout line with "@MILLIS " (wall clock, ms since the epoch), so that
 *                 a caller can time events against its own clock (a kill, a takeover)
 *     -s SEEDS    the pattern's seed, default 0; check takes a comma-separated list
 *     -i MICROS   pause between two units (a light load)
 *
 * Exit status 0 when the run ended (by count or by time), 1 when it could not log in within
 * SECONDS, 2 on usage errors. Built by the tests with gcc and -liscsi (libiscsi-dev).
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <time.h>
#include <unistd.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

#define MAX_SEEDS 8

static int stamps;

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

/* Starts a stdout line: with -t, the wall-clock time in milliseconds. */
static void out(const char *fmt, ...) {
	va_list ap;
	if (stamps) {
		struct timespec t;
		clock_gettime(CLOCK_REALTIME, &t);
		printf("@%lld ", (long long) t.tv_sec * 1000 + t.tv_nsec / 1000000);
	}
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	fflush(stdout);
}

static void fill(unsigned char *buf, uint32_t block_size, int blocks, uint64_t unit, uint64_t seed) {
	for (int b = 0; b < blocks; b++) {
		for (uint32_t o = 0; o < block_size; o += 16) {
			/* "VSALOAD1"; seed 0 keeps the pattern of the tool's first version */
			uint64_t a = 0x5653414c4f414431ULL ^ unit ^ (seed * 0x9E3779B97F4A7C15ULL);
			uint64_t c = (unit << 16) | (uint64_t) b | ((uint64_t) o << 40);
			memcpy(buf + (size_t) b * block_size + o, &a, 8);
			memcpy(buf + (size_t) b * block_size + o + 8, &c, 8);
		}
	}
}

static struct iscsi_context *login(const char *iqn, int lun, char **portals, int n, int *next, double deadline,
		uint32_t *block_size) {
	while (now() < deadline) {
		const char *portal = portals[*next % n];
		*next = (*next + 1) % n;
		struct iscsi_context *iscsi = iscsi_create_context("iqn.2026-11.org.vsa:load-initiator");
		if (iscsi == NULL) {
			return NULL;
		}
		iscsi_set_targetname(iscsi, iqn);
		iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
		iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
		iscsi_set_noautoreconnect(iscsi, 1);
		iscsi_set_timeout(iscsi, 5);
		if (iscsi_full_connect_sync(iscsi, portal, lun) == 0) {
			struct scsi_task *t = iscsi_readcapacity16_sync(iscsi, lun);
			if (t != NULL && t->status == SCSI_STATUS_GOOD) {
				struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(t);
				if (rc != NULL) {
					*block_size = rc->block_length;
					scsi_free_scsi_task(t);
					const char *at = iscsi_get_target_address(iscsi);
					out("login %s at %s\n", portal, at != NULL && at[0] != '\0' ? at : portal);
					return iscsi;
				}
			}
			if (t != NULL) {
				scsi_free_scsi_task(t);
			}
		}
		fprintf(stderr, "login through %s: %s\n", portal, iscsi_get_error(iscsi));
		iscsi_destroy_context(iscsi);
		usleep(200 * 1000);
	}
	return NULL;
}

static int usage(const char *self) {
	fprintf(stderr, "usage: %s [-t] [-s SEED[,SEED...]] [-i MICROS] write|check IQN LUN FIRST_LBA WRITES BLOCKS SECONDS "
		"PORTAL...\n", self);
	return 2;
}

static int all_zero(const unsigned char *data, size_t n) {
	for (size_t i = 0; i < n; i++) {
		if (data[i] != 0) {
			return 0;
		}
	}
	return 1;
}

int main(int argc, char **argv) {
	uint64_t seeds[MAX_SEEDS] = {0};
	int nseeds = 1;
	long pause_us = 0;
	int a = 1;
	for (; a < argc && argv[a][0] == '-'; a++) {
		if (strcmp(argv[a], "-t") == 0) {
			stamps = 1;
		} else if (strcmp(argv[a], "-s") == 0 && a + 1 < argc) {
			char *p = argv[++a];
			nseeds = 0;
			while (*p != '\0' && nseeds < MAX_SEEDS) {
				char *end;
				seeds[nseeds++] = strtoull(p, &end, 10);
				if (end == p || (*end != ',' && *end != '\0')) {
					return usage(argv[0]);
				}
				p = *end == ',' ? end + 1 : end;
			}
		} else if (strcmp(argv[a], "-i") == 0 && a + 1 < argc) {
			pause_us = atol(argv[++a]);
		} else {
			return usage(argv[0]);
		}
	}
	argc -= a - 1;
	argv += a - 1;
	if (argc < 9 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "check") != 0)) {
		return usage(argv[0]);
	}
	int writing = strcmp(argv[1], "write") == 0;
	const char *iqn = argv[2];
	int lun = atoi(argv[3]);
	uint64_t first = strtoull(argv[4], NULL, 10);
	uint64_t writes = strtoull(argv[5], NULL, 10);
	int blocks = atoi(argv[6]);
	double deadline = now() + atof(argv[7]);
	char **portals = argv + 8;
	int n = argc - 8;
	int next = 0;
	uint32_t bs = 0;
	struct iscsi_context *iscsi = NULL;
	unsigned char *buf = NULL;
	unsigned char *want = NULL;
	uint64_t k = 0;
	while (k < writes && now() < deadline) {
		if (iscsi == NULL) {
			iscsi = login(iqn, lun, portals, n, &next, deadline, &bs);
			if (iscsi == NULL) {
				fprintf(stderr, "no login within the time given\n");
				return 1;
			}
			free(buf);
			free(want);
			buf = malloc((size_t) bs * blocks);
			want = malloc((size_t) bs * blocks);
		}
		uint64_t lba = first + k * (uint64_t) blocks;
		size_t len = (size_t) bs * blocks;
		struct scsi_task *t;
		if (writing) {
			fill(buf, bs, blocks, k, seeds[0]);
			t = iscsi_write16_sync(iscsi, lun, lba, buf, bs * blocks, bs, 0, 0, 1, 0, 0);
		} else {
			t = iscsi_read16_sync(iscsi, lun, lba, bs * blocks, bs, 0, 0, 0, 0, 0);
		}
		if (t == NULL || t->status != SCSI_STATUS_GOOD) {
			if (t == NULL) {
				out("fail %llu %s\n", (unsigned long long) k, iscsi_get_error(iscsi));
			} else {
				out("fail %llu status 0x%02x sense key 0x%x ascq 0x%04x\n", (unsigned long long) k, t->status,
					t->sense.key, t->sense.ascq);
				scsi_free_scsi_task(t);
			}
			iscsi_destroy_context(iscsi);
			iscsi = NULL;
			continue;
		}
		if (writing) {
			out("ack %llu\n", (unsigned long long) k);
		} else if (t->datain.size != (int) len) {
			out("unit %llu bad\n", (unsigned long long) k);
		} else {
			int match = -1;
			for (int s = 0; s < nseeds && match < 0; s++) {
				fill(want, bs, blocks, k, seeds[s]);
				if (memcmp(t->datain.data, want, len) == 0) {
					match = s;
				}
			}
			if (match == 0) {
				out("unit %llu ok\n", (unsigned long long) k);
			} else if (match > 0) {
				out("unit %llu seed %llu\n", (unsigned long long) k, (unsigned long long) seeds[match]);
			} else {
				out("unit %llu %s\n", (unsigned long long) k, all_zero(t->datain.data, len) ? "zero" : "bad");
			}
		}
		scsi_free_scsi_task(t);
		k++;
		if (pause_us > 0 && k < writes) {
			usleep(pause_us);
		}
	}
	if (iscsi != NULL) {
		iscsi_logout_sync(iscsi);
		iscsi_destroy_context(iscsi);
	}
	return 0;
}
