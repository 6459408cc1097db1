/* SPDX-License-Identifier: MIT */
/*
 * The snapshot document's schema name, written by memscoped
 * (user/view/snapshot.c) and checked by memscope (user/offline/snap.c):
 * one definition, so the writer and the reader cannot drift apart.
 */
#ifndef MEMSCOPE_SCHEMA_H
#define MEMSCOPE_SCHEMA_H

/* Any version: a file that starts so is a snapshot, maybe a newer one. */
#define MS_SNAPSHOT_SCHEMA_PREFIX "memscope.snapshot/"
#define MS_SNAPSHOT_SCHEMA MS_SNAPSHOT_SCHEMA_PREFIX "1"

#endif /* MEMSCOPE_SCHEMA_H */
