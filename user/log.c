// SPDX-License-Identifier: MIT
#include <stdio.h>
#include <string.h>

#include "log.h"

static enum ms_log_level cur_level = MS_LOG_INFO;
static const char *prog_name = "memscope";

void log__set_level(enum ms_log_level level)
{
	cur_level = level;
}

enum ms_log_level log__level(void)
{
	return cur_level;
}

void log__set_prog(const char *prog)
{
	prog_name = prog;
}

void log__vmsg(enum ms_log_level level, const char *fmt, va_list ap)
{
	static const char *const tag[] = { "error: ", "warning: ", "", "" };
	char buf[1024];
	size_t n;

	if (level > cur_level)
		return;
	vsnprintf(buf, sizeof(buf), fmt, ap);
	/* One line per message, whatever the caller (or libbpf) passed. */
	n = strlen(buf);
	while (n && buf[n - 1] == '\n')
		buf[--n] = '\0';
	fprintf(stderr, "%s: %s%s\n", prog_name, tag[level], buf);
}

void log__msg(enum ms_log_level level, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	log__vmsg(level, fmt, ap);
	va_end(ap);
}

#define MAX_NOTES 32

static char *notes[MAX_NOTES + 1];
static int nnotes;

void log__note(const char *fmt, ...)
{
	char buf[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	pr_warn("%s", buf);
	if (nnotes < MAX_NOTES)
		notes[nnotes++] = strdup(buf);
}

const char *const *log__notes(void)
{
	return (const char *const *)notes;
}
