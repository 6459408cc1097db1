// SPDX-License-Identifier: MIT
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "view/top_int.h"

#define NS_PER_S UINT64_C(1000000000)
#define NS_PER_MS UINT64_C(1000000)

/* ---- text with highlight classes --------------------------------------- */

void top_line__clear(struct top_line *l)
{
	l->len = 0;
	l->text[0] = '\0';
}

void top_line__vadd(struct top_line *l, enum top_hl hl, const char *fmt,
		    va_list ap)
{
	char buf[TOP_LINE_MAX + 1];
	int n;

	n = vsnprintf(buf, sizeof(buf), fmt, ap);
	if (n < 0)
		return;
	for (int i = 0; i < n && buf[i] && l->len < TOP_LINE_MAX; i++) {
		unsigned char ch = (unsigned char)buf[i];

		/* One byte, one cell: anything else would shift the columns. */
		l->text[l->len] = ch >= 0x20 && ch < 0x7f ? (char)ch : '?';
		l->hl[l->len++] = (uint8_t)hl;
	}
	l->text[l->len] = '\0';
}

void top_line__add(struct top_line *l, enum top_hl hl, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	top_line__vadd(l, hl, fmt, ap);
	va_end(ap);
}

void top_line__pad(struct top_line *l, int width, enum top_hl hl)
{
	if (width > TOP_LINE_MAX)
		width = TOP_LINE_MAX;
	while (l->len < width) {
		l->text[l->len] = ' ';
		l->hl[l->len++] = (uint8_t)hl;
	}
	l->text[l->len] = '\0';
}

/* ---- cell formats ------------------------------------------------------- */

/* Three significant digits: "9.77", "97.7", "977". */
static void fmt_sig3(char *buf, size_t len, double v, const char *unit)
{
	if (v < 9.995)
		snprintf(buf, len, "%.2f%s", v, unit);
	else if (v < 99.95)
		snprintf(buf, len, "%.1f%s", v, unit);
	else
		snprintf(buf, len, "%.0f%s", v, unit);
}

const char *top_fmt__bytes(char *buf, size_t len, uint64_t b, bool exact)
{
	static const char *const unit[] = { "K", "M", "G", "T", "P", "E" };
	double v = (double)b / 1024;
	int u = 0;

	if (exact || b < 1024) {
		snprintf(buf, len, exact ? "%" PRIu64 : "%" PRIu64 "B", b);
		return buf;
	}
	/* 999.5K would print as "1000K": one unit up reads better. */
	while (v >= 999.5 && u < 5) {
		v /= 1024;
		u++;
	}
	fmt_sig3(buf, len, v, unit[u]);
	return buf;
}

const char *top_fmt__count(char *buf, size_t len, uint64_t n)
{
	if (n < 10000000)
		snprintf(buf, len, "%" PRIu64, n);
	else if (n < 999500000)
		fmt_sig3(buf, len, (double)n / 1e6, "M");
	else if (n < 999500000000ull)
		fmt_sig3(buf, len, (double)n / 1e9, "G");
	else
		fmt_sig3(buf, len, (double)n / 1e12, "T");
	return buf;
}

const char *top_fmt__age(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = (ns + NS_PER_S / 2) / NS_PER_S; /* rounded, as %.1f is */

	if (ns < NS_PER_S)
		snprintf(buf, len, "%" PRIu64 "ms", ns / NS_PER_MS);
	else if (ns < 59950 * NS_PER_MS) /* 59.96 s would print as "60.0s" */
		snprintf(buf, len, "%.1fs", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 "m%02" PRIu64 "s", s / 60,
			 s % 60);
	else if (s < 86400)
		snprintf(buf, len, "%" PRIu64 "h%02" PRIu64 "m", s / 3600,
			 s / 60 % 60);
	else
		snprintf(buf, len, "%" PRIu64 "d%02" PRIu64 "h", s / 86400,
			 s / 3600 % 24);
	return buf;
}

const char *top_fmt__pct(char *buf, size_t len, uint64_t part, uint64_t whole)
{
	double p;

	if (!whole) {
		snprintf(buf, len, "-");
		return buf;
	}
	p = 100.0 * (double)part / (double)whole;
	snprintf(buf, len, "%.1f", p > 100 ? 100.0 : p);
	return buf;
}

const char *top_fmt__clock(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / NS_PER_S;

	if (s < 86400)
		snprintf(buf, len, "%" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			 s / 3600, s / 60 % 60, s % 60);
	else
		snprintf(buf, len,
			 "%" PRIu64 "d %02" PRIu64 ":%02" PRIu64 ":%02" PRIu64,
			 s / 86400, s / 3600 % 24, s / 60 % 60, s % 60);
	return buf;
}

const char *top_fmt__at(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / NS_PER_S;

	if (s < 3600)
		snprintf(buf, len, "+%" PRIu64 ".%03" PRIu64 "s", s,
			 ns / NS_PER_MS % 1000);
	else
		snprintf(buf, len,
			 "+%" PRIu64 ":%02" PRIu64 ":%02" PRIu64 ".%" PRIu64,
			 s / 3600, s / 60 % 60, s % 60,
			 ns / (NS_PER_S / 10) % 10);
	return buf;
}

const char *top_fmt__rate(char *buf, size_t len, double per_s)
{
	if (per_s < 0)
		per_s = 0;
	if (per_s < 999.5)
		snprintf(buf, len, "%.0f/s", per_s);
	else if (per_s < 999500)
		fmt_sig3(buf, len, per_s / 1e3, "k/s");
	else
		fmt_sig3(buf, len, per_s / 1e6, "M/s");
	return buf;
}
