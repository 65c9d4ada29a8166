/*
 * The start the libnfs test tools share: an NFS context, the URL parsed
 * (nfs://host/export/path?nfsport=..&mountport=..&version=3), its export mounted.
 *
 * vsa_nfs_open returns 0 with *nfs and *url set (vsa_nfs_close frees both), or says why on stderr,
 * frees what it made and returns -1; each tool picks its own exit status for that.
 */
#ifndef VSA_NFS_OPEN_H
#define VSA_NFS_OPEN_H
#include <stdio.h>
#include <sys/time.h> /* libnfs.h uses struct timeval */
#include <nfsc/libnfs.h>

static int vsa_nfs_open(const char *arg, struct nfs_context **nfs_out, struct nfs_url **url_out) {
	struct nfs_context *nfs = nfs_init_context();
	if (nfs == NULL) {
		fprintf(stderr, "cannot make an NFS context\n");
		return -1;
	}
	struct nfs_url *url = nfs_parse_url_full(nfs, arg);
	if (url == NULL) {
		fprintf(stderr, "bad URL %s: %s\n", arg, nfs_get_error(nfs));
		nfs_destroy_context(nfs);
		return -1;
	}
	if (nfs_mount(nfs, url->server, url->path) != 0) {
		fprintf(stderr, "mount %s:%s: %s\n", url->server, url->path, nfs_get_error(nfs));
		nfs_destroy_url(url);
		nfs_destroy_context(nfs);
		return -1;
	}
	*nfs_out = nfs;
	*url_out = url;
	return 0;
}

static void vsa_nfs_close(struct nfs_context *nfs, struct nfs_url *url) {
	nfs_destroy_url(url);
	nfs_destroy_context(nfs);
}
#endif
