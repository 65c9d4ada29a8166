/*
 * vsa-nfs-mkdir: makes one directory through libnfs (libnfs-utils has no mkdir tool).
 *
 *   vsa-nfs-mkdir URL
 *       Mounts the export of URL (nfs://host/export/dir?nfsport=..&mountport=..&version=3) and
 *       sends one MKDIR of the directory. Prints "made" on success, or "error MESSAGE" with
 *       libnfs's message (it names the NFS status).
 *
 * Exit status 0 when the directory was made, 1 when the server refused it, 2 on usage or setup
 * errors (mount). Built by bench/run-cluster-nfs-bench.sh with gcc and -lnfs (libnfs-dev).
 */
#include <stdio.h>
#include "vsa-nfs-open.h"

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: vsa-nfs-mkdir URL\n");
		return 2;
	}
	struct nfs_context *nfs;
	struct nfs_url *url;
	if (vsa_nfs_open(argv[1], &nfs, &url) != 0) {
		return 2;
	}
	int rc;
	if (nfs_mkdir(nfs, url->file) != 0) {
		printf("error %s\n", nfs_get_error(nfs));
		rc = 1;
	} else {
		printf("made\n");
		rc = 0;
	}
	vsa_nfs_close(nfs, url);
	return rc;
}
