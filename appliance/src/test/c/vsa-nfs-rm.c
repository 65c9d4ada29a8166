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
#include <stdio.h>
#include <stdlib.h>
#include <nfsc/libnfs.h>
#include "vsa-nfs-open.h"

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
	struct vsa_nfs_outcome o = {0};
	if (nfs_unlink_async(nfs, url->file, vsa_nfs_done, &o) != 0) {
		fprintf(stderr, "cannot send: %s\n", nfs_get_error(nfs));
	} else if (vsa_nfs_await(nfs, &o) != 0) { /* one REMOVE, answered within 120 s */
		fprintf(stderr, "%s\n", o.message);
	} else if (o.status == 0) {
		printf("removed\n");
		rc = 0;
	} else {
		printf("error %s\n", o.message);
		rc = 1;
	}
	vsa_nfs_close(nfs, url);
	return rc;
}
