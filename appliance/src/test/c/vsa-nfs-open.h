/*
 * The start the libnfs test tools share: an NFS context, the URL parsed
 * (nfs://host/export/path?nfsport=..&mountport=..&version=3), its export mounted.
 *
 * vsa_nfs_open returns 0 with *nfs and *url set (vsa_nfs_close frees both), or says why on stderr,
 * frees what it made and returns -1; each tool picks its own exit status for that.
 *
 * One asynchronous call's answer: pass vsa_nfs_done and a struct vsa_nfs_outcome to the call, then
 * vsa_nfs_await. (The asynchronous calls keep the context's own message: libnfs 4.0's synchronous
 * ones garble it, formatting it into itself.)
 */
#ifndef VSA_NFS_OPEN_H
#define VSA_NFS_OPEN_H
#include <poll.h>
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
struct vsa_nfs_outcome {
	int done;
	int status;
	char message[512];
};

static inline void vsa_nfs_done(int status, struct nfs_context *nfs, void *data, void *private_data) {
	(void) data;
	struct vsa_nfs_outcome *o = private_data;
	o->status = status;
	if (status < 0) {
		/* the context's last error names the status; "data" is not always the message in 4.0 */
		const char *m = nfs_get_error(nfs);
		snprintf(o->message, sizeof o->message, "%s (status %d)", m == NULL ? "(no message)" : m, status);
	}
	o->done = 1;
}

/* Services the context until the call is answered, at most 120 s: 0 once answered, else -1 (why in o->message). */
static inline int vsa_nfs_await(struct nfs_context *nfs, struct vsa_nfs_outcome *o) {
	for (int waited = 0; !o->done; waited++) {
		if (waited >= 1200) {
			snprintf(o->message, sizeof o->message, "no answer in 120 s");
			return -1;
		}
		struct pollfd p = {.fd = nfs_get_fd(nfs), .events = nfs_which_events(nfs)};
		if (poll(&p, 1, 100) < 0 || nfs_service(nfs, p.revents) < 0) {
			snprintf(o->message, sizeof o->message, "connection: %s", nfs_get_error(nfs));
			return -1;
		}
	}
	return 0;
}
#endif
