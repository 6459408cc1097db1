// SPDX-License-Identifier: MIT
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "offline/fmt.h"
#include "text.h"

const char *fmt__bytes(char *buf, size_t len, uint64_t bytes)
{
	return text__bytes(buf, len, bytes);
}

const char *fmt__bytes_exact(char *buf, size_t len, uint64_t bytes)
{
	char h[32];

	if (bytes < 1024)
		snprintf(buf, len, "%" PRIu64 " bytes", bytes);
	else
		snprintf(buf, len, "%s (%" PRIu64 " bytes)",
			 text__bytes(h, sizeof(h), bytes), bytes);
	return buf;
}

const char *fmt__duration(char *buf, size_t len, uint64_t ns)
{
	uint64_t s = ns / 1000000000ull;

	if (ns < 1000)
		snprintf(buf, len, "%" PRIu64 " ns", ns);
	else if (ns < 1000000)
		snprintf(buf, len, "%.1f us", (double)ns / 1e3);
	else if (ns < 1000000000)
		snprintf(buf, len, "%.1f ms", (double)ns / 1e6);
	else if (s < 60)
		snprintf(buf, len, "%.2f s", (double)ns / 1e9);
	else if (s < 3600)
		snprintf(buf, len, "%" PRIu64 " min %" PRIu64 " s", s / 60,
			 s % 60);
	else
		snprintf(buf, len, "%" PRIu64 " h %" PRIu64 " min", s / 3600,
			 s / 60 % 60);
	return buf;
}

int64_t delta__i64(uint64_t a, uint64_t b)
{
	if (b >= a)
		return b - a > (uint64_t)INT64_MAX ? INT64_MAX :
						     (int64_t)(b - a);
	return a - b > (uint64_t)INT64_MAX ? -INT64_MAX : -(int64_t)(a - b);
}

const char *fmt__delta_bytes(char *buf, size_t len, uint64_t a, uint64_t b)
{
	char h[32];

	if (a == b)
		snprintf(buf, len, "0 B");
	else
		snprintf(buf, len, "%c%s", b > a ? '+' : '-',
			 text__bytes(h, sizeof(h), b > a ? b - a : a - b));
	return buf;
}

const char *fmt__delta_count(char *buf, size_t len, uint64_t a, uint64_t b)
{
	if (a == b)
		snprintf(buf, len, "0");
	else
		snprintf(buf, len, "%c%" PRIu64, b > a ? '+' : '-',
			 b > a ? b - a : a - b);
	return buf;
}

const char *fmt__frame(char *buf, size_t len, const struct snap_frame *f)
{
	const struct text_frame tf = {
		.function = f->function,
		.file = f->file,
		.module = f->module,
		.line = f->line,
		.path = f->path,
		.build_id = f->build_id,
		.addr = f->addr,
	};

	return text__frame(buf, len, &tf, false);
}

const char *fmt__site(char *buf, size_t len, const struct snap_task *t)
{
	if (!t->nframes) {
		snprintf(buf, len, "-");
		return buf;
	}
	return fmt__frame(buf, len, &t->spawn_site[0]);
}

const char *fmt__task(char *buf, size_t len, const struct snap_task *t)
{
	const char *r = snap_reason__name(t->reason);

	if (r)
		snprintf(buf, len, "task %" PRIu64 " [%s]", t->id, r);
	else
		snprintf(buf, len, "task %" PRIu64, t->id);
	return buf;
}

const char *fmt__age(char *buf, size_t len, const struct snap *s,
		     const struct snap_task *t)
{
	uint64_t end = t->has_ended ? t->ended_ns : s->taken_ns;

	if (!t->has_spawned) {
		snprintf(buf, len, "?");
		return buf;
	}
	return fmt__duration(buf, len,
			     end > t->spawned_ns ? end - t->spawned_ns : 0);
}

/*
 * Length of the well-formed UTF-8 sequence at s and its code point, or 0.
 * s is NUL-terminated, and NUL is never a continuation byte, so this
 * never reads past the end.
 */
static size_t utf8_seq(const unsigned char *s, uint32_t *cp)
{
	uint32_t c = s[0], min;
	size_t n;

	if (c < 0x80) {
		*cp = c;
		return 1;
	}
	if ((c & 0xe0) == 0xc0) {
		n = 2, c &= 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		n = 3, c &= 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		n = 4, c &= 0x07, min = 0x10000;
	} else {
		return 0;
	}
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates and beyond U+10FFFF are not UTF-8. */
	if (c < min || (c >= 0xd800 && c <= 0xdfff) || c > 0x10ffff)
		return 0;
	*cp = c;
	return n;
}

static int is_control(uint32_t cp)
{
	return cp < 0x20 || (cp >= 0x7f && cp < 0xa0);
}

void esc__text(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		uint32_t cp;
		size_t n = utf8_seq(s, &cp);

		if (!n || is_control(cp)) {
			fputc('?', f);
			s += n ?: 1;
			continue;
		}
		fwrite(s, 1, n, f);
		s += n;
	}
}

size_t esc__width(const char *str)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t w = 0;

	while (*s) {
		uint32_t cp;
		size_t n = utf8_seq(s, &cp);

		s += n ?: 1;
		w++;
	}
	return w;
}

void esc__html(FILE *f, const char *str)
{
	const unsigned char *s = (const unsigned char *)str;

	while (*s) {
		uint32_t cp;
		size_t n = utf8_seq(s, &cp);

		if (!n) {
			fputs("\xef\xbf\xbd", f);
			s++;
			continue;
		}
		switch (cp) {
		case '&':
			fputs("&amp;", f);
			break;
		case '<':
			fputs("&lt;", f);
			break;
		case '>':
			fputs("&gt;", f);
			break;
		case '"':
			fputs("&quot;", f);
			break;
		case '\'':
			fputs("&#39;", f);
			break;
		default:
			/* Controls are not allowed in HTML text: show a mark. */
			if (is_control(cp) && cp != '\t' && cp != '\n')
				fputs("\xef\xbf\xbd", f);
			else
				fwrite(s, 1, n, f);
		}
		s += n;
	}
}
