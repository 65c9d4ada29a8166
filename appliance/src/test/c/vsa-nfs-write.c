/*
 * vsa-nfs-write: writes a local file's bytes into an existing NFS file at an offset, through
 * libnfs, then COMMITs (nfs_fsync). nfs-cp cannot do it: it creates its target exclusively, and a
 * vDisk's file (NAME.raw) always exists.
 *
 *   vsa-nfs-write NFS_URL LOCAL_FILE OFFSET
 *       NFS_URL as libnfs takes it, e.g.
 *       nfs://127.0.0.1/default/demo.raw?nfsport=2049&mountport=20048&version=3
 *
 * Exit status 0 when every byte was written and committed, 1 on an NFS or local error (the reason
 * on stderr), 2 on usage errors. Built by the tests with gcc and -lnfs (libnfs-dev).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <nfsc/libnfs.h>
#include "vsa-nfs-open.h"

#define CHUNK (1024 * 1024)

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: %s NFS_URL LOCAL_FILE OFFSET\n", argv[0]);
		return 2;
	}
	uint64_t offset = strtoull(argv[3], NULL, 10);
	int in = open(argv[2], O_RDONLY);
	if (in < 0) {
		fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
		return 1;
	}
	struct nfs_context *nfs;
	struct nfs_url *url;
	if (vsa_nfs_open(argv[1], &nfs, &url) != 0) {
		return 1;
	}
	struct nfsfh *fh;
	if (nfs_open(nfs, url->file, O_WRONLY, &fh) != 0) {
		fprintf(stderr, "open %s: %s\n", url->file, nfs_get_error(nfs));
		return 1;
	}
	char *buf = malloc(CHUNK);
	uint64_t total = 0;
	for (;;) {
		ssize_t n = read(in, buf, CHUNK);
		if (n < 0) {
			fprintf(stderr, "%s: %s\n", argv[2], strerror(errno));
			return 1;
		}
		if (n == 0) {
			break;
		}
		for (ssize_t done = 0; done < n;) {
			int w = nfs_pwrite(nfs, fh, offset + total + done, n - done, buf + done);
			if (w <= 0) {
				fprintf(stderr, "write at %llu: %s\n", (unsigned long long) (offset + total + done), nfs_get_error(nfs));
				return 1;
			}
			done += w;
		}
		total += n;
	}
	if (nfs_fsync(nfs, fh) != 0) {
		fprintf(stderr, "commit: %s\n", nfs_get_error(nfs));
		return 1;
	}
	if (nfs_close(nfs, fh) != 0) {
		fprintf(stderr, "close: %s\n", nfs_get_error(nfs));
		return 1;
	}
	printf("wrote %llu bytes at %llu\n", (unsigned long long) total, (unsigned long long) offset);
	free(buf);
	vsa_nfs_close(nfs, url);
	close(in);
	return 0;
}
