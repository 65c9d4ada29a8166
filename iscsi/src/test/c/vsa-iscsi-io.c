/*
 * vsa-iscsi-io: writes or reads blocks of one LUN through libiscsi, so that the tests can move
 * data with the same initiator library as the rest of the suite (iscsi-ls, iscsi-test-cu).
 *
 *   vsa-iscsi-io write URL LBA FILE MODE   MODE: fua (WRITE16 with FUA), sync (WRITE16, then
 *                                          SYNCHRONIZE CACHE16) or none (WRITE16 only)
 *   vsa-iscsi-io read  URL LBA BLOCKS FILE READ16 of BLOCKS blocks into FILE
 *   vsa-iscsi-io reread URL LBA BLOCKS FILE  READ16 once, print READY, wait for a line on stdin,
 *                                          then as read (a session that outlives a target event:
 *                                          libiscsi reconnects, and follows redirects, by itself)
 *
 * URL: iscsi://host:port/iqn/lun. Exit status 0 when every command returned GOOD, else 1 with
 * the reason on stderr. Built by the tests with: gcc -O2 -o vsa-iscsi-io vsa-iscsi-io.c -liscsi
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <stdint.h>
#include <iscsi/iscsi.h>
#include <iscsi/scsi-lowlevel.h>

static int fail(struct iscsi_context *iscsi, const char *what) {
	fprintf(stderr, "vsa-iscsi-io: %s: %s\n", what, iscsi ? iscsi_get_error(iscsi) : "");
	return 1;
}

static int good(struct iscsi_context *iscsi, struct scsi_task *task, const char *what) {
	if (task == NULL) {
		return fail(iscsi, what);
	}
	if (task->status != SCSI_STATUS_GOOD) {
		fprintf(stderr, "vsa-iscsi-io: %s: status 0x%02x sense key 0x%x ascq 0x%04x\n", what, task->status,
			task->sense.key, task->sense.ascq);
		scsi_free_scsi_task(task);
		return 1;
	}
	return 0;
}

int main(int argc, char **argv) {
	int reread = argc == 6 && strcmp(argv[1], "reread") == 0;
	if (argc != 6 || (strcmp(argv[1], "write") != 0 && strcmp(argv[1], "read") != 0 && !reread)) {
		fprintf(stderr, "usage: %s write URL LBA FILE fua|sync|none\n       %s read|reread URL LBA BLOCKS FILE\n",
			argv[0], argv[0]);
		return 2;
	}
	int writing = strcmp(argv[1], "write") == 0;
	uint64_t lba = strtoull(argv[3], NULL, 10);
	struct iscsi_context *iscsi = iscsi_create_context("iqn.2026-11.org.vsa:test-initiator");
	if (iscsi == NULL) {
		return fail(NULL, "cannot create a context");
	}
	struct iscsi_url *url = iscsi_parse_full_url(iscsi, argv[2]);
	if (url == NULL) {
		return fail(iscsi, "bad URL");
	}
	iscsi_set_targetname(iscsi, url->target);
	iscsi_set_session_type(iscsi, ISCSI_SESSION_NORMAL);
	iscsi_set_header_digest(iscsi, ISCSI_HEADER_DIGEST_NONE_CRC32C);
	if (iscsi_full_connect_sync(iscsi, url->portal, url->lun) != 0) {
		return fail(iscsi, "login");
	}
	struct scsi_task *task = iscsi_readcapacity16_sync(iscsi, url->lun);
	if (good(iscsi, task, "READ CAPACITY(16)")) {
		return 1;
	}
	struct scsi_readcapacity16 *rc = scsi_datain_unmarshall(task);
	if (rc == NULL) {
		return fail(iscsi, "READ CAPACITY(16) data");
	}
	uint32_t block = rc->block_length;
	scsi_free_scsi_task(task);

	int rcode = 0;
	if (writing) {
		FILE *f = fopen(argv[4], "rb");
		if (f == NULL) {
			perror(argv[4]);
			return 1;
		}
		fseek(f, 0, SEEK_END);
		long len = ftell(f);
		fseek(f, 0, SEEK_SET);
		if (len <= 0 || len % block != 0) {
			fprintf(stderr, "vsa-iscsi-io: %s holds %ld bytes, not a whole number of %u-byte blocks\n", argv[4], len,
				block);
			return 1;
		}
		unsigned char *buf = malloc(len);
		if (buf == NULL || fread(buf, 1, len, f) != (size_t) len) {
			perror(argv[4]);
			return 1;
		}
		fclose(f);
		int fua = strcmp(argv[5], "fua") == 0;
		task = iscsi_write16_sync(iscsi, url->lun, lba, buf, len, block, 0, 0, fua, 0, 0);
		if (good(iscsi, task, "WRITE(16)")) {
			return 1;
		}
		scsi_free_scsi_task(task);
		if (strcmp(argv[5], "sync") == 0) {
			task = iscsi_synchronizecache16_sync(iscsi, url->lun, 0, 0, 0, 0);
			if (good(iscsi, task, "SYNCHRONIZE CACHE(16)")) {
				return 1;
			}
			scsi_free_scsi_task(task);
		}
		free(buf);
	} else {
		uint32_t blocks = strtoul(argv[4], NULL, 10);
		if (reread) {
			task = iscsi_read16_sync(iscsi, url->lun, lba, blocks * block, block, 0, 0, 0, 0, 0);
			if (good(iscsi, task, "first READ(16)")) {
				return 1;
			}
			scsi_free_scsi_task(task);
			printf("READY\n");
			fflush(stdout);
			int ch;
			while ((ch = getchar()) != EOF && ch != '\n') {
			}
		}
		task = iscsi_read16_sync(iscsi, url->lun, lba, blocks * block, block, 0, 0, 0, 0, 0);
		if (good(iscsi, task, "READ(16)")) {
			return 1;
		}
		FILE *f = fopen(argv[5], "wb");
		if (f == NULL || fwrite(task->datain.data, 1, task->datain.size, f) != (size_t) task->datain.size) {
			perror(argv[5]);
			return 1;
		}
		fclose(f);
		if (task->datain.size != (int) (blocks * block)) {
			fprintf(stderr, "vsa-iscsi-io: READ(16) returned %d bytes, %u expected\n", task->datain.size,
				blocks * block);
			rcode = 1;
		}
		scsi_free_scsi_task(task);
	}
	iscsi_logout_sync(iscsi);
	iscsi_destroy_url(url);
	iscsi_destroy_context(iscsi);
	return rcode;
}
