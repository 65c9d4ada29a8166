/**
 * Forwarding a vPool's NFS namespace to the node that holds it: {@link
 * org.vsa.nfs.remote.NamespaceServer} on the owner serves its local {@link org.vsa.nfs.Namespace};
 * {@link org.vsa.nfs.remote.RemoteNamespace} (a {@code Namespace}) on any other node forwards every
 * call there, so directories, small files and file ids are the same whichever node a client uses.
 * The wire is the block-forwarding framing ({@link org.vsa.volume.remote.Wire}) under its own
 * magic; see {@code NsWire}. Who owns which namespace is the control plane's business: it decides
 * what a server exports ({@link org.vsa.nfs.remote.NamespaceServer.Exports}) and which owner a node
 * forwards to ({@link org.vsa.nfs.NfsServer.Opener}).
 */
package org.vsa.nfs.remote;
