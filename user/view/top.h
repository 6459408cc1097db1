/* SPDX-License-Identifier: MIT */
/*
 * memscoped --top: the live, top-style terminal view. It reads the model
 * (never changes it) and draws at most twice a second, or at once after a
 * key; nothing in it blocks, so the ring-buffer drain goes on.
 *
 * While it is up, memscoped's stderr goes to a file whose newest line is
 * shown in the status line; top__free() gives the terminal back and then
 * prints what was logged, so nothing is lost.
 */
#ifndef MS_TOP_H
#define MS_TOP_H

#include "model/model.h"
#include "view/top_layout.h"

struct top;

/* Take over the terminal: the screen on stdout, keys from /dev/tty (so a
 * launched program may keep a stdin that is not the terminal). NULL and
 * errno when stdout is not a terminal or curses cannot start. */
struct top *top__new(void);
/* In a forked child, before exec: terminal stdin becomes /dev/null and
 * terminal stdout/stderr go to the view's log, so the program neither
 * steals keys nor writes over the screen. Async-signal-safe. */
void top__child_stdio(const struct top *v);
/* Poll it for keys. */
int top__fd(const struct top *v);
/* Read the keys typed so far. Returns TOP_ACT_QUIT and TOP_ACT_SNAPSHOT
 * bits for the caller; the rest the view handles itself. */
int top__input(struct top *v);
/* Draw a frame if one is due (500 ms) or a key asked for it; otherwise
 * only the status line, if a message came. Call it every loop turn. */
void top__draw(struct top *v, const struct model *m,
	       const struct top_info *info);
/* Restore the terminal, then print what memscoped and the program logged
 * meanwhile to the real stderr. NULL is fine. */
void top__free(struct top *v);

#endif
