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
#include <sys/time.h>
#include <nfsc/libnfs.h>

int main(int argc, char **argv) {
	if (argc != 2) {
		fprintf(stderr, "usage: vsa-nfs-mkdir URL\n");
		return 2;
	}
	struct nfs_context *nfs = nfs_init_context();
	if (nfs == NULL) {
		fprintf(stderr, "cannot make an NFS context\n");
		return 2;
	}
	struct nfs_url *url = nfs_parse_url_full(nfs, argv[1]);
	if (url == NULL) {
		fprintf(stderr, "bad URL %s: %s\n", argv[1], nfs_get_error(nfs));
		nfs_destroy_context(nfs);
		return 2;
	}
	int rc = 2;
	if (nfs_mount(nfs, url->server, url->path) != 0) {
		fprintf(stderr, "mount %s:%s: %s\n", url->server, url->path, nfs_get_error(nfs));
	} else if (nfs_mkdir(nfs, url->file) != 0) {
		printf("error %s\n", nfs_get_error(nfs));
		rc = 1;
	} else {
		printf("made\n");
		rc = 0;
	}
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
	return rc;
}
