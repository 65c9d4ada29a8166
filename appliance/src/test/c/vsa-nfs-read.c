/*
 * vsa-nfs-read: reads a file through libnfs and says how the server answered, which nfs-cat does
 * not (it prints "Failed to read from file" for any error, so a test cannot tell "retry later"
 * from an I/O error).
 *
 *   vsa-nfs-read URL OFFSET COUNT
 *       Mounts, opens the file of URL (nfs://host/export/file?nfsport=..&mountport=..&version=3)
 *       read-only and reads COUNT bytes at OFFSET (one READ call, so COUNT at most the server's
 *       rtmax). Prints "read N" on success, or "error MESSAGE" with libnfs's message, which names
 *       the NFS status (e.g. NFS3ERR_JUKEBOX, NFS3ERR_IO). The read goes through the asynchronous
 *       call: libnfs 4.0's synchronous nfs_pread garbles the message (it formats it into itself).
 *
 * Exit status 0 when the read succeeded, 1 when the server refused it, 2 on usage or setup errors
 * (mount, open). Built by the tests with gcc and -lnfs (libnfs-dev).
 */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <nfsc/libnfs.h>
#include "vsa-nfs-open.h"

/* One READ, waiting at most 120 s for its answer. */
static int read_once(struct nfs_context *nfs, struct nfsfh *fh, uint64_t offset, uint64_t count,
		struct vsa_nfs_outcome *o) {
	if (nfs_pread_async(nfs, fh, offset, count, vsa_nfs_done, o) != 0) {
		snprintf(o->message, sizeof o->message, "cannot send: %s", nfs_get_error(nfs));
		return -1;
	}
	if (vsa_nfs_await(nfs, o) != 0) {
		return -1;
	}
	return o->status;
}

int main(int argc, char **argv) {
	if (argc != 4) {
		fprintf(stderr, "usage: vsa-nfs-read URL OFFSET COUNT\n");
		return 2;
	}
	uint64_t offset = strtoull(argv[2], NULL, 10);
	uint64_t count = strtoull(argv[3], NULL, 10);
	if (count == 0 || count > (1u << 20)) {
		fprintf(stderr, "COUNT must be in 1..1048576\n");
		return 2;
	}
	struct nfs_context *nfs;
	struct nfs_url *url;
	if (vsa_nfs_open(argv[1], &nfs, &url) != 0) {
		return 2;
	}
	int rc = 2;
	struct nfsfh *fh = NULL;
	if (nfs_open(nfs, url->file, O_RDONLY, &fh) != 0) {
		fprintf(stderr, "open %s: %s\n", url->file, nfs_get_error(nfs));
	} else {
		struct vsa_nfs_outcome o = {0};
		int n = read_once(nfs, fh, offset, count, &o);
		if (n < 0) {
			printf("error %s\n", o.message);
			rc = 1;
		} else {
			printf("read %d\n", n);
			rc = 0;
		}
		nfs_close(nfs, fh);
	}
	vsa_nfs_close(nfs, url);
	return rc;
}
