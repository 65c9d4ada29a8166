package org.vsa.nfs;

/** An export and the namespace it serves. */
record Exported(Export export, Namespace namespace) {}
