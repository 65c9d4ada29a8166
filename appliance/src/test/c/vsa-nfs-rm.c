/*
 * vsa-nfs-rm: removes one file through libnfs and says how the server answered (libnfs-utils has
 * no remove tool).
 *
 *   vsa-nfs-rm URL
 *       Mounts the export of URL (nfs://host/export/file?nfsport=..&mountport=..&version=3) and
 *       sends one REMOVE of the file. Prints "removed" on success, or "error MESSAGE" with
 *       libnfs's message, which names the NFS status (e.g. NFS3ERR_NOENT, NFS3ERR_ACCES,
 *       NFS3ERR_JUKEBOX). The REMOVE goes through the asynchronous call, as vsa-nfs-read's READ
 *       does, so that the message is the context's own.
 *
 * Exit status 0 when the file was removed, 1 when the server refused it, 2 on usage or setup
 * errors (mount, no answer). Built by the tests with gcc and -lnfs (libnfs-dev).
 */
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <nfsc/libnfs.h>
#include "vsa-nfs-open.h"

struct outcome {
	int done;
	int status;
	char message[512];
};

static void unlink_done(int status, struct nfs_context *nfs, void *data, void *private_data) {
	struct outcome *o = private_data;
	o->status = status;
	if (status < 0) {
		const char *m = nfs_get_error(nfs);
		snprintf(o->message, sizeof o->message, "%s (status %d)", m == NULL ? "(no message)" : m, status);
	}
	o->done = 1;
}

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: vsa-nfs-rm URL\n");
		return 2;
	}
	struct nfs_context *nfs;
	struct nfs_url *url;
	if (vsa_nfs_open(argv[1], &nfs, &url) != 0) {
		return 2;
	}
	int rc = 2;
	struct outcome o = {0};
	if (nfs_unlink_async(nfs, url->file, unlink_done, &o) != 0) {
		fprintf(stderr, "cannot send: %s\n", nfs_get_error(nfs));
	} else {
		/* one REMOVE, waiting at most 120 s for its answer */
		for (int waited = 0; !o.done && rc == 2; waited++) {
			struct pollfd p = {.fd = nfs_get_fd(nfs), .events = nfs_which_events(nfs)};
			if (waited >= 1200) {
				fprintf(stderr, "no answer in 120 s\n");
				break;
			}
			if (poll(&p, 1, 100) < 0 || nfs_service(nfs, p.revents) < 0) {
				fprintf(stderr, "connection: %s\n", nfs_get_error(nfs));
				break;
			}
		}
		if (o.done && o.status == 0) {
			printf("removed\n");
			rc = 0;
		} else if (o.done) {
			printf("error %s\n", o.message);
			rc = 1;
		}
	}
	vsa_nfs_close(nfs, url);
	return rc;
}
