/* SPDX-License-Identifier: MIT */
/* One logging layer for memscoped and memscope; libbpf's output goes here. */
#ifndef MS_LOG_H
#define MS_LOG_H

#include <stdarg.h>

enum ms_log_level { MS_LOG_ERROR, MS_LOG_WARN, MS_LOG_INFO, MS_LOG_DEBUG };

void log__set_level(enum ms_log_level level);
enum ms_log_level log__level(void);
void log__set_prog(const char *prog);
void log__msg(enum ms_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
void log__vmsg(enum ms_log_level level, const char *fmt, va_list ap);

#define pr_err(...) log__msg(MS_LOG_ERROR, __VA_ARGS__)
#define pr_warn(...) log__msg(MS_LOG_WARN, __VA_ARGS__)
#define pr_info(...) log__msg(MS_LOG_INFO, __VA_ARGS__)
#define pr_debug(...) log__msg(MS_LOG_DEBUG, __VA_ARGS__)

/* A warning that also belongs in the snapshot ("warnings" array). */
void log__note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* NULL-terminated list of the notes so far. */
const char *const *log__notes(void);

#endif
