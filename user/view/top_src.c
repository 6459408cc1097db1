// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text.h"
#include "view/top_int.h"

/* ---- the data shown ------------------------------------------------------ */

void top_src__update(struct top_src *s, const struct model *m,
		     const struct top_info *info)
{
	uint64_t start = model__start_ns(m);
	size_t n = model__sample_count(m), k;

	free(s->frozen);
	s->frozen = NULL;
	s->m = s->sites = m;
	s->ntasks = model__task_count(m);
	s->totals = *model__totals(m);
	model__async(m, &s->async);
	s->runtime = *model__runtime_mem(m);
	s->outside = *model__thread_mem(m);
	s->page_level = model__page_level(m);
	s->pages = model__pages(m)->all;
	s->pages_runtime = *model__runtime_pages(m);
	s->pages_outside = *model__thread_pages(m);
	s->runtime_kind = model__runtime(m);
	s->incomplete = model__incomplete(m);
	s->now = info->now_ns > start ? info->now_ns - start : 0;

	/* Events per second over the last sampled second; before the first
	 * sample, since the start. */
	s->events_per_s = 0;
	if (n) {
		const struct ms_sample *last = model__sample_at(m, n - 1);
		uint64_t from = n > 1 ? model__sample_at(m, n - 2)->t_ns : 0;

		if (last->t_ns > from)
			s->events_per_s = (double)last->events * 1e9 /
					  (double)(last->t_ns - from);
	} else if (s->now) {
		s->events_per_s =
			(double)s->totals.records * 1e9 / (double)s->now;
	}
	k = n < TOP_SPARK_MAX ? n : TOP_SPARK_MAX;
	for (size_t i = 0; i < k; i++)
		s->spark[i] = model__sample_at(m, n - k + i)->live_bytes;
	s->nspark = k;

	s->info = *info;
	snprintf(s->command, sizeof(s->command), "%s",
		 info->command ? info->command : "");
	s->info.command = s->command;
}

int top_src__freeze(struct top_src *s)
{
	struct ms_task *copy = NULL;

	if (!s->m)
		return 0;
	if (s->ntasks) {
		copy = malloc(s->ntasks * sizeof(*copy));
		if (!copy)
			return -ENOMEM;
		for (size_t i = 0; i < s->ntasks; i++)
			copy[i] = *model__task(s->m, i);
	}
	s->frozen = copy;
	s->m = NULL;
	return 0;
}

void top_src__release(struct top_src *s)
{
	free(s->frozen);
	s->frozen = NULL;
	s->m = s->sites = NULL;
	s->ntasks = 0;
}

const struct ms_task *top_src__task(const struct top_src *s, size_t i)
{
	if (i >= s->ntasks)
		return NULL;
	return s->m ? model__task(s->m, i) : &s->frozen[i];
}

const struct ms_site *top_src__spawn_site(const struct top_src *s,
					  const struct ms_task *t)
{
	const struct ms_site *site;

	if (!s->sites || t->spawn_site == MS_NO_SITE)
		return NULL;
	site = model__site(s->sites, t->spawn_site);
	return site && site->nframes ? site : NULL;
}

/* As memscope's reports print a frame; file: its base name, or all of it.
 * Neither the path nor the build id: an unnamed frame (a stripped module)
 * is "module+0xADDR", where to look later (memscope report --debug-dir). */
const char *top_frame__text(char *buf, size_t len, const struct ms_frame *f,
			    bool base)
{
	const struct text_frame tf = {
		.function = f->function,
		.file = f->file,
		.module = f->module,
		.line = f->line,
		.addr = f->addr,
	};

	return text__frame(buf, len, &tf, base);
}

const char *top_task__site(char *buf, size_t len, const struct top_src *s,
			   const struct ms_task *t)
{
	const struct ms_site *site = top_src__spawn_site(s, t);

	return site ? top_frame__text(buf, len, &site->frames[0], true) : NULL;
}

bool top_task__ended(const struct ms_task *t)
{
	return t->state == TASK_COMPLETED || t->state == TASK_CANCELLED;
}

uint64_t top_task__age(const struct ms_task *t, uint64_t now)
{
	uint64_t end = top_task__ended(t) ? t->ended_ns : now;

	return end > t->spawned_ns ? end - t->spawned_ns : 0;
}
