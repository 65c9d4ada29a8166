/**
 * Forwarding a vDisk's block I/O to the node that owns it: {@link
 * org.vsa.volume.remote.RemoteVolumeServer} on the owner, {@link
 * org.vsa.volume.remote.RemoteVolume} (a {@link org.vsa.volume.BlockVolume}) on any other node,
 * one pipelined connection per pair of nodes ({@link org.vsa.volume.remote.PeerClient}).
 *
 * <p>Why here, in the volume module, rather than in the appliance: the front ends (nfs, iscsi)
 * must recognise what a forwarded volume throws ({@link
 * org.vsa.volume.remote.NotOwnerException}: resolve the owner again and retry; {@link
 * org.vsa.volume.remote.WritesLostException}: buffered writes the old owner acknowledged may be
 * gone), and data-plane modules never import the appliance. It depends on nothing but the
 * {@code BlockVolume} seam and Netty (which the DTL already uses); who owns which vDisk is the
 * control plane's business: the appliance decides what a server exports
 * ({@link org.vsa.volume.remote.RemoteVolumeServer.Exports}) and which peer a catalog hands out.
 */
package org.vsa.volume.remote;
