// SPDX-License-Identifier: MIT
/*
 * memscope: offline analysis of memscoped snapshots. Never needs root.
 * Exit codes (the project's contract): 0 done, 1 runtime failure (the
 * output could not be written), 2 bad usage or bad input, each failure
 * with one line on stderr.
 */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "offline/diff.h"
#include "offline/export.h"
#include "offline/html.h"
#include "offline/outfile.h"
#include "offline/report.h"
#include "offline/resym.h"
#include "offline/snap.h"
#include "sym/debugfile.h"

enum { EXIT_OK = 0, EXIT_RUNTIME = 1, EXIT_USAGE = 2 };
/* Long-only options. */
enum { OPT_DEBUG_DIR = 256 };

#define STR_(x) #x
#define STR(x) STR_(x)

static const char usage_main[] =
	"usage: memscope COMMAND [OPTIONS] ARGS...\n"
	"\n"
	"Reads the JSON snapshots memscoped writes (memscope.snapshot/1).\n"
	"Never needs root.\n"
	"\n"
	"Commands:\n"
	"  report [--html] [-o OUT] [--top N] [--debug-dir DIR] FILE\n"
	"          a readable report: tasks that never finished and why, the\n"
	"          largest tasks and allocation sites, memory by size class;\n"
	"          --html: one page with plots\n"
	"  diff [-o OUT] [--top N] [--debug-dir DIR] A B\n"
	"          what grew from snapshot A to snapshot B of the same process\n"
	"  export --format pprof|folded|json [-o OUT] [--debug-dir DIR] FILE\n"
	"          for go tool pprof, flame graph tools, or jq\n"
	"\n"
	"FILE may be - for standard input. OUT is replaced atomically (a\n"
	"temporary file, then rename); a symbolic link there is refused.\n"
	"Frames memscoped could not name (stripped binaries) are named from\n"
	"debug files when found: by build id under --debug-dir DIR and\n"
	"/usr/lib/debug, or by the binary's .gnu_debuglink.\n"
	"'memscope COMMAND --help' says more. Exit codes: 0 done, 1 the output\n"
	"could not be written, 2 bad usage or bad input.\n";

#define DEBUG_DIR_HELP                                                            \
	"  --debug-dir DIR  also look for debug files in DIR (by build id:\n"     \
	"                DIR/.build-id/xx/rest.debug; by .gnu_debuglink name),\n" \
	"                before /usr/lib/debug; repeatable. Names the frames\n"   \
	"                memscoped left as module+0xADDR (stripped binaries)\n"

static const char usage_report[] =
	"usage: memscope report [--html] [-o OUT] [--top N] [--debug-dir DIR] FILE\n"
	"\n"
	"A readable report of one snapshot: the target, the async analysis\n"
	"(future sizes, runtime overhead), tasks that never finished with the\n"
	"reason, the largest tasks by live and by peak bytes, the largest\n"
	"allocation sites, live allocations by size class, memory outside tasks\n"
	"and memscoped's warnings.\n"
	"\n"
	"  --html        one self-contained HTML page (inline CSS and SVG plots of\n"
	"                memory over time, by task, and future sizes; no scripts)\n"
	"  -o, --output OUT  write to OUT (atomically) instead of standard output\n"
	"  -n, --top N   rows in the largest-task and site tables (default 10);\n"
	"                the never-finished table shows up to 5 x N\n" DEBUG_DIR_HELP
	"  -h, --help    this help\n";

static const char usage_diff[] =
	"usage: memscope diff [-o OUT] [--top N] [--debug-dir DIR] A B\n"
	"\n"
	"What grew between two snapshots of the same process (A older, B newer):\n"
	"the totals, tasks matched by id (grew, shrank, new, ended), tasks\n"
	"grouped by spawn site when the snapshots have one, and tasks that\n"
	"became never-finished. Largest growth first.\n"
	"\n"
	"  -o, --output OUT  write to OUT (atomically) instead of standard output\n"
	"  -n, --top N   rows per section (default 20)\n" DEBUG_DIR_HELP
	"  -h, --help    this help\n";

static const char usage_export[] =
	"usage: memscope export --format pprof|folded|json [-o OUT] [--debug-dir DIR]\n"
	"                       FILE\n"
	"\n"
	"  --format pprof   gzipped profile.proto for 'go tool pprof': one sample\n"
	"                   per task (alloc_objects, alloc_space, inuse_objects,\n"
	"                   inuse_space), labels task_id, state, reason, kind\n"
	"  --format folded  flame-graph folded stacks: RUNTIME;[spawn frames;]task ID\n"
	"                   [REASON] and live bytes, one line per task holding memory\n"
	"  --format json    the snapshot, pretty-printed\n"
	"  -o, --output OUT write to OUT (atomically) instead of standard output\n"
	"  --debug-dir DIR  also look for debug files in DIR (by build id:\n"
	"                   DIR/.build-id/xx/rest.debug; by .gnu_debuglink name),\n"
	"                   before /usr/lib/debug; repeatable. Names the frames\n"
	"                   memscoped left as module+0xADDR (stripped binaries)\n"
	"                   in pprof and folded; json is the snapshot as it is\n"
	"  -h, --help       this help\n";

/* A name from the command line, printable on one line. */
static const char *shown(char *buf, size_t len, const char *name)
{
	size_t i = 0;

	if (!name || !strcmp(name, "-"))
		return "standard input";
	for (; name[i] && i + 1 < len; i++) {
		unsigned char c = (unsigned char)name[i];

		buf[i] = c < 0x20 || c == 0x7f ? '?' : (char)c;
	}
	buf[i] = '\0';
	return buf;
}

static int usage_error(const char *cmd, const char *fmt, const char *arg)
{
	char msg[256], a[256];

	snprintf(msg, sizeof(msg), fmt, shown(a, sizeof(a), arg ?: ""));
	if (cmd)
		pr_err("%s: %s (see 'memscope %s --help')", cmd, msg, cmd);
	else
		pr_err("%s (see 'memscope --help')", msg);
	return EXIT_USAGE;
}

/* keep_text: export --format json prints a large snapshot's own text;
 * every other command frees it as soon as the snapshot is read. */
static int load(const char *path, struct snap **s, bool keep_text)
{
	char err[512], name[256];
	int ret = snap__load_file(path, s, err, sizeof(err));

	if (ret)
		pr_err("%s: %s", shown(name, sizeof(name), path), err);
	else if (!keep_text)
		snap__drop_text(*s);
	return ret ? EXIT_USAGE : EXIT_OK;
}

/* Names what memscoped could not (stripped binaries), from debug files. */
static int symbolize(const char *path, struct snap *s)
{
	char name[256];
	int err = resym__snap(s, NULL);

	if (err)
		pr_err("%s: cannot symbolize: %s",
		       shown(name, sizeof(name), path), strerror(-err));
	return err ? EXIT_RUNTIME : EXIT_OK;
}

static int add_debug_dir(const char *cmd, const char *dir)
{
	int err = debugfile__add_dir(dir);

	if (err == -E2BIG)
		return usage_error(
			cmd,
			"--debug-dir: at most " STR(
				DEBUGFILE_MAX_DIRS) " directories ('%s' is one too many)",
			dir);
	if (err)
		return usage_error(
			cmd, "--debug-dir takes a directory, not '%s'", dir);
	return EXIT_OK;
}

static int open_out(struct outfile *o, const char *path)
{
	char name[256];
	int err = outfile__open(o, path);

	if (!err)
		return EXIT_OK;
	shown(name, sizeof(name), path);
	if (err == -ELOOP) {
		pr_err("%s: is a symbolic link; refusing to write through it",
		       name);
		return EXIT_USAGE;
	}
	if (err == -EISDIR || err == -EINVAL) {
		pr_err("%s: %s; give a file name", name,
		       err == -EISDIR ? "is a directory" :
					"is not a regular file");
		return EXIT_USAGE;
	}
	pr_err("%s: cannot create: %s", name, strerror(-err));
	return EXIT_RUNTIME;
}

/* Finish the output; err is what producing it returned. */
static int close_out(struct outfile *o, const char *path, int err)
{
	char name[256];

	if (err) {
		outfile__abort(o);
		pr_err("%s: cannot write: %s",
		       path && strcmp(path, "-") ?
			       shown(name, sizeof(name), path) :
			       "standard output",
		       strerror(-err));
		return EXIT_RUNTIME;
	}
	err = outfile__commit(o);
	if (err) {
		pr_err("%s: cannot write: %s",
		       path && strcmp(path, "-") ?
			       shown(name, sizeof(name), path) :
			       "standard output",
		       strerror(-err));
		return EXIT_RUNTIME;
	}
	return EXIT_OK;
}

static int parse_top(const char *cmd, const char *arg, size_t *top)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(arg, &end, 10);
	if (errno || end == arg || *end || v < 1 || v > 1000000 ||
	    arg[0] == '-')
		return usage_error(
			cmd, "--top wants a number from 1 to 1000000, not '%s'",
			arg);
	*top = (size_t)v;
	return EXIT_OK;
}

/* getopt_long with its messages replaced by ours (one line, exit 2). */
static int bad_option(const char *cmd, char **argv, int c)
{
	char opt[3] = { '-', (char)optopt, 0 };
	const char *last = argv[optind - 1];
	/* A long option names itself best as the user wrote it. */
	const char *name = !optopt || !strncmp(last, "--", 2) ? last : opt;

	if (c == ':')
		return usage_error(cmd, "option %s needs a value", name);
	return usage_error(cmd, "unknown option %s", name);
}

static int cmd_report(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "html", no_argument, NULL, 'H' },
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 'n' },
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct report_opts ro = { .top = REPORT_TOP_DEFAULT };
	const char *out = NULL;
	struct outfile of;
	struct snap *s = NULL;
	bool html = false;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'H':
			html = true;
			break;
		case 'o':
			out = optarg;
			break;
		case 'n':
			ret = parse_top("report", optarg, &ro.top);
			if (ret)
				return ret;
			break;
		case OPT_DEBUG_DIR:
			ret = add_debug_dir("report", optarg);
			if (ret)
				return ret;
			break;
		case 'h':
			fputs(usage_report, stdout);
			return EXIT_OK;
		default:
			return bad_option("report", argv, c);
		}
	}
	if (argc - optind != 1)
		return usage_error("report",
				   argc - optind ?
					   "one snapshot FILE, not more%s" :
					   "which snapshot? give a FILE%s",
				   "");
	ro.file = argv[optind];
	ret = load(ro.file, &s, false);
	ret = ret ?: symbolize(ro.file, s);
	if (ret)
		goto out;
	ret = open_out(&of, out);
	if (!ret) {
		int err = html ? html__report(of.f, s, &ro) :
				 report__text(of.f, s, &ro);

		ret = close_out(&of, out, err);
	}
out:
	snap__free(s);
	return ret;
}

static int cmd_diff(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "output", required_argument, NULL, 'o' },
		{ "top", required_argument, NULL, 'n' },
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct diff_opts dopt = { .top = DIFF_TOP_DEFAULT };
	struct snap *a = NULL, *b = NULL;
	const char *out = NULL;
	struct outfile of;
	int c, ret;

	while ((c = getopt_long(argc, argv, ":o:n:h", opts, NULL)) != -1) {
		switch (c) {
		case 'o':
			out = optarg;
			break;
		case 'n':
			ret = parse_top("diff", optarg, &dopt.top);
			if (ret)
				return ret;
			break;
		case OPT_DEBUG_DIR:
			ret = add_debug_dir("diff", optarg);
			if (ret)
				return ret;
			break;
		case 'h':
			fputs(usage_diff, stdout);
			return EXIT_OK;
		default:
			return bad_option("diff", argv, c);
		}
	}
	if (argc - optind != 2)
		return usage_error("diff",
				   "two snapshots A and B, older first%s", "");
	dopt.file_a = argv[optind];
	dopt.file_b = argv[optind + 1];
	if (!strcmp(dopt.file_a, "-") && !strcmp(dopt.file_b, "-"))
		return usage_error(
			"diff", "only one of A and B can be standard input%s",
			"");
	ret = load(dopt.file_a, &a, false);
	ret = ret ?: load(dopt.file_b, &b, false);
	ret = ret ?: symbolize(dopt.file_a, a);
	ret = ret ?: symbolize(dopt.file_b, b);
	if (ret)
		goto out;
	ret = open_out(&of, out);
	if (!ret)
		ret = close_out(&of, out, diff__text(of.f, a, b, &dopt));
out:
	snap__free(b);
	snap__free(a);
	return ret;
}

static int cmd_export(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "format", required_argument, NULL, 'f' },
		{ "output", required_argument, NULL, 'o' },
		{ "debug-dir", required_argument, NULL, OPT_DEBUG_DIR },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	enum { F_NONE, F_PPROF, F_FOLDED, F_JSON } fmt = F_NONE;
	const char *out = NULL;
	struct snap *s = NULL;
	struct outfile of;
	int c, ret, err;

	while ((c = getopt_long(argc, argv, ":f:o:h", opts, NULL)) != -1) {
		switch (c) {
		case 'f':
			if (!strcmp(optarg, "pprof"))
				fmt = F_PPROF;
			else if (!strcmp(optarg, "folded"))
				fmt = F_FOLDED;
			else if (!strcmp(optarg, "json"))
				fmt = F_JSON;
			else
				return usage_error(
					"export",
					"unknown format '%s': pprof, folded or json",
					optarg);
			break;
		case 'o':
			out = optarg;
			break;
		case OPT_DEBUG_DIR:
			ret = add_debug_dir("export", optarg);
			if (ret)
				return ret;
			break;
		case 'h':
			fputs(usage_export, stdout);
			return EXIT_OK;
		default:
			return bad_option("export", argv, c);
		}
	}
	if (fmt == F_NONE)
		return usage_error(
			"export",
			"which format? --format pprof, folded or json%s", "");
	if (argc - optind != 1)
		return usage_error("export",
				   argc - optind ?
					   "one snapshot FILE, not more%s" :
					   "which snapshot? give a FILE%s",
				   "");
	ret = load(argv[optind], &s, fmt == F_JSON);
	if (ret)
		return ret;
	/* json is the document as memscoped wrote it. */
	if (fmt != F_JSON)
		ret = symbolize(argv[optind], s);
	ret = ret ?: open_out(&of, out);
	if (ret)
		goto out;
	if (fmt == F_PPROF && outfile__is_tty(&of)) {
		outfile__abort(&of);
		ret = usage_error(
			"export",
			"a pprof profile is binary: not writing it to a terminal, use -o FILE%s",
			"");
		goto out;
	}
	err = fmt == F_PPROF  ? export__pprof(of.f, s) :
	      fmt == F_FOLDED ? export__folded(of.f, s) :
				export__json(of.f, s);
	ret = close_out(&of, out, err);
out:
	snap__free(s);
	return ret;
}

int main(int argc, char **argv)
{
	const char *cmd;

	log__set_prog("memscope");
	/* Our own one-line messages replace getopt's. */
	opterr = 0;
	if (argc < 2)
		return usage_error(
			NULL, "which command? report, diff or export%s", "");
	cmd = argv[1];
	if (!strcmp(cmd, "-h") || !strcmp(cmd, "--help") ||
	    !strcmp(cmd, "help")) {
		if (argc > 2 && !strcmp(cmd, "help")) {
			cmd = argv[2];
			if (!strcmp(cmd, "report"))
				fputs(usage_report, stdout);
			else if (!strcmp(cmd, "diff"))
				fputs(usage_diff, stdout);
			else if (!strcmp(cmd, "export"))
				fputs(usage_export, stdout);
			else
				return usage_error(NULL, "unknown command '%s'",
						   cmd);
			return EXIT_OK;
		}
		fputs(usage_main, stdout);
		return EXIT_OK;
	}
	if (!strcmp(cmd, "--version")) {
		printf("memscope %s\n", MS_VERSION);
		return EXIT_OK;
	}
	/* Each command parses its own options from its own argv[0]. */
	if (!strcmp(cmd, "report"))
		return cmd_report(argc - 1, argv + 1);
	if (!strcmp(cmd, "diff"))
		return cmd_diff(argc - 1, argv + 1);
	if (!strcmp(cmd, "export"))
		return cmd_export(argc - 1, argv + 1);
	if (cmd[0] == '-')
		return usage_error(
			NULL, "unknown option %s: options go after the command",
			cmd);
	return usage_error(NULL, "unknown command '%s': report, diff or export",
			   cmd);
}
