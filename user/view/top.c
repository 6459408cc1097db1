// SPDX-License-Identifier: MIT
/*
 * The curses half of memscoped --top: windows, colours, keys and the log
 * capture. What goes on the screen is built by top_layout.c.
 */
#include <curses.h>
#include <errno.h>
#include <fcntl.h>
#include <langinfo.h>
#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "view/top.h"

#define FRAME_NS 500000000ull /* a frame every 500 ms at most, unless a key */
#define HDR_MAX 6
#define TEXT_MAX 600 /* lines of the detail and help screens */
#define LOG_LINES 400
#define LOG_WIDTH 240
#define TAIL_LINES 50 /* of the program's output, printed at the end */

/* A file a writer appends to and the view reads as it grows. */
struct logfile {
	int fd;
	off_t off;
	size_t plen;
	char part[LOG_WIDTH]; /* a line not yet ended */
	bool target; /* the program's output, not memscoped's */
	bool skip; /* drop the rest of a line we came in halfway */
};

/* A chatty program can write faster than a screen can show: past this
 * much unread, the view skips to the newest lines. */
#define LOG_BACKLOG 65536

struct top {
	int shown_pid; /* the process on screen */
	SCREEN *scr;
	FILE *tty; /* keys come from here */
	WINDOW *hdr, *body, *status, *foot, *input;
	int hdr_h, term_lines, term_cols;
	bool utf8;
	attr_t attr[TOP_HL_MAX];
	attr_t sel[TOP_HL_MAX]; /* the same, in the selected row */
	int saved_err; /* the real stderr, while fd 2 is own.fd */
	struct logfile own, child;
	char log[LOG_LINES][LOG_WIDTH];
	bool log_target[LOG_LINES];
	size_t log_head, log_n;
	char msg[LOG_WIDTH + 16]; /* the status line's message */
	bool can_snapshot;
	struct top_ui ui;
	struct top_src src;
	struct top_rows rows;
	struct top_cols cols;
	struct top_line hdrl[HDR_MAX];
	struct top_line line;
	struct top_line *text;
	bool dirty, repaint;
	uint64_t last_frame, frame_cost; /* when, and how long it took */
	char *old_locale;
};

/* ---- log capture ------------------------------------------------------- */

/* An unnamed file: it never fills up nor blocks a writer the way a pipe
 * would, and it goes away with its last descriptor. */
static int log_open(void)
{
	const char *dir = getenv("TMPDIR");
	char path[4096];
	int fd;

	if (!dir || !*dir)
		dir = "/tmp";
	fd = open(dir, O_TMPFILE | O_RDWR | O_APPEND | O_CLOEXEC, 0600);
	if (fd >= 0)
		return fd;
	snprintf(path, sizeof(path), "%s/memscoped-log.XXXXXX", dir);
	fd = mkostemp(path, O_APPEND | O_CLOEXEC);
	if (fd >= 0)
		unlink(path);
	return fd;
}

static void log_push(struct top *v, const char *s, size_t n, bool target)
{
	size_t i = (v->log_head + v->log_n) % LOG_LINES;
	char *d = v->log[i];
	size_t k = 0;

	if (v->log_n == LOG_LINES)
		v->log_head = (v->log_head + 1) % LOG_LINES;
	else
		v->log_n++;
	/* Program output may carry colours and tabs: keep what prints. */
	for (size_t j = 0; j < n && k + 1 < LOG_WIDTH; j++) {
		unsigned char c = (unsigned char)s[j];

		if (c == '\033') { /* an escape sequence: leave it out */
			if (j + 1 < n && s[j + 1] == '[')
				for (j += 2;
				     j < n && !(s[j] >= 0x40 && s[j] <= 0x7e);
				     j++)
					;
			else
				j++;
			continue;
		}
		d[k++] = c == '\t'		 ? ' ' :
			 (c >= 0x20 && c < 0x7f) ? (char)c :
						   '?';
	}
	d[k] = '\0';
	v->log_target[i] = target;
	if (target)
		snprintf(v->msg, sizeof(v->msg), "target: %s", d);
	else /* the status line is memscoped's own: no need to say so */
		snprintf(v->msg, sizeof(v->msg), "%s",
			 strncmp(d, "memscoped: ", 11) ? d : d + 11);
}

/* Lines appended since the last call. Returns whether any came. */
static bool log_read(struct top *v, struct logfile *f)
{
	char buf[8192];
	bool any = false;
	struct stat st;
	ssize_t n;

	if (f->fd < 0 || fstat(f->fd, &st))
		return false;
	if (st.st_size - f->off > LOG_BACKLOG) {
		f->off = st.st_size - LOG_BACKLOG;
		f->plen = 0;
		f->skip = true;
	}
	while ((n = pread(f->fd, buf, sizeof(buf), f->off)) > 0) {
		f->off += n;
		for (ssize_t i = 0; i < n; i++) {
			if (f->skip) {
				f->skip = buf[i] != '\n';
				continue;
			}
			if (buf[i] != '\n' && f->plen < sizeof(f->part)) {
				f->part[f->plen++] = buf[i];
				continue;
			}
			log_push(v, f->part, f->plen, f->target);
			f->plen = 0;
			any = true;
			if (buf[i] != '\n') /* too long: cut, and go on */
				f->part[f->plen++] = buf[i];
		}
		if (n < (ssize_t)sizeof(buf) || f->off >= st.st_size)
			break;
	}
	return any;
}

static void copy_out(int from, off_t off, int to)
{
	char buf[8192];
	ssize_t n;

	while ((n = pread(from, buf, sizeof(buf), off)) > 0) {
		off += n;
		for (ssize_t w = 0, k; w < n; w += k) {
			k = write(to, buf + w, (size_t)(n - w));
			if (k <= 0)
				return;
		}
	}
}

/* The last lines of the program's output, from the end of its file. */
static void tail_out(int from, int to, int nlines)
{
	struct stat st;
	char buf[16384];
	off_t start;
	ssize_t n;

	if (fstat(from, &st) || !st.st_size)
		return;
	start = st.st_size > (off_t)sizeof(buf) ?
			st.st_size - (off_t)sizeof(buf) :
			0;
	n = pread(from, buf, sizeof(buf), start);
	if (n <= 0)
		return;
	/* Back from the end over nlines newlines (the last one ends the
	 * last line). */
	for (ssize_t i = n - 1; i >= 0; i--) {
		if (buf[i] == '\n' && i != n - 1 && --nlines == 0) {
			start += i + 1;
			break;
		}
	}
	copy_out(from, start, to);
}

/* ---- colours and windows ------------------------------------------------- */

enum {
	P_TITLE = 1,
	P_COLHEAD,
	P_COLSORT,
	P_KEY,
	P_LABEL,
	P_ALERT,
	P_BADGE,
	P_NF,
	P_SPECIAL,
	P_SPARK,
	P_SECTION,
	P_SEL,
	P_SELNF
};

static void colors_init(struct top *v)
{
	attr_t *a = v->attr;

	for (int i = 0; i < TOP_HL_MAX; i++) {
		a[i] = A_NORMAL;
		v->sel[i] = A_REVERSE;
	}
	a[TOP_HL_DIM] = A_DIM;
	a[TOP_HL_VALUE] = A_BOLD;
	if (!has_colors() || start_color() == ERR) {
		/* Monochrome: the same meaning with attributes. */
		a[TOP_HL_ALERT] = A_BOLD | A_REVERSE;
		a[TOP_HL_TITLE] = A_REVERSE;
		a[TOP_HL_BADGE] = A_BOLD | A_REVERSE;
		a[TOP_HL_COLHEAD] = A_REVERSE;
		a[TOP_HL_COLSORT] = A_REVERSE | A_BOLD | A_UNDERLINE;
		a[TOP_HL_NF] = A_BOLD;
		a[TOP_HL_KEY] = A_REVERSE;
		a[TOP_HL_SECTION] = A_BOLD | A_UNDERLINE;
		return;
	}
	use_default_colors();
	init_pair(P_TITLE, COLOR_BLACK, COLOR_CYAN);
	init_pair(P_COLHEAD, COLOR_BLACK, COLOR_GREEN);
	init_pair(P_COLSORT, COLOR_BLACK, COLOR_CYAN);
	init_pair(P_KEY, COLOR_BLACK, COLOR_CYAN);
	init_pair(P_LABEL, COLOR_CYAN, -1);
	init_pair(P_ALERT, COLOR_WHITE, COLOR_RED);
	init_pair(P_BADGE, COLOR_BLACK, COLOR_YELLOW);
	init_pair(P_NF, COLOR_RED, -1);
	init_pair(P_SPECIAL, COLOR_MAGENTA, -1);
	init_pair(P_SPARK, COLOR_GREEN, -1);
	init_pair(P_SECTION, COLOR_YELLOW, -1);
	a[TOP_HL_LABEL] = COLOR_PAIR(P_LABEL);
	a[TOP_HL_ALERT] = COLOR_PAIR(P_ALERT) | A_BOLD;
	a[TOP_HL_TITLE] = COLOR_PAIR(P_TITLE);
	a[TOP_HL_BADGE] = COLOR_PAIR(P_BADGE) | A_BOLD;
	a[TOP_HL_COLHEAD] = COLOR_PAIR(P_COLHEAD);
	a[TOP_HL_COLSORT] = COLOR_PAIR(P_COLSORT) | A_BOLD;
	a[TOP_HL_NF] = COLOR_PAIR(P_NF) | A_BOLD;
	a[TOP_HL_SPECIAL] = COLOR_PAIR(P_SPECIAL);
	a[TOP_HL_KEY] = COLOR_PAIR(P_KEY);
	a[TOP_HL_SPARK] = COLOR_PAIR(P_SPARK);
	a[TOP_HL_SECTION] = COLOR_PAIR(P_SECTION) | A_BOLD;
	/* The selection bar is one colour whatever the row, as in htop;
	 * a never-finished task keeps its alarm colour. */
	init_pair(P_SEL, COLOR_BLACK, COLOR_CYAN);
	init_pair(P_SELNF, COLOR_WHITE, COLOR_RED);
	for (int i = 0; i < TOP_HL_MAX; i++)
		v->sel[i] = COLOR_PAIR(P_SEL);
	v->sel[TOP_HL_NF] = COLOR_PAIR(P_SELNF) | A_BOLD;
}

static void windows_free(struct top *v)
{
	WINDOW **w[] = { &v->hdr, &v->body, &v->status, &v->foot };

	for (size_t i = 0; i < sizeof(w) / sizeof(*w); i++) {
		if (*w[i])
			delwin(*w[i]);
		*w[i] = NULL;
	}
}

/* Header, body, status line, key bar, top to bottom. */
static int windows_make(struct top *v, int hdr_h)
{
	int body_h = LINES - hdr_h - 2;

	windows_free(v);
	v->term_lines = LINES;
	v->term_cols = COLS;
	v->hdr_h = hdr_h;
	if (body_h < 1)
		return -1;
	v->hdr = newwin(hdr_h, COLS, 0, 0);
	v->body = newwin(body_h, COLS, hdr_h, 0);
	v->status = newwin(1, COLS, LINES - 2, 0);
	v->foot = newwin(1, COLS, LINES - 1, 0);
	if (!v->hdr || !v->body || !v->status || !v->foot) {
		windows_free(v);
		return -1;
	}
	return 0;
}

/* One layout line at row y; fill: continue its look to the right edge. */
static void put_line(struct top *v, WINDOW *w, int y, const struct top_line *l,
		     bool selected, int fill)
{
	const attr_t *attr = selected ? v->sel : v->attr;
	static const char *const bars[9] = { " ",      "\u2581", "\u2582",
					     "\u2583", "\u2584", "\u2585",
					     "\u2586", "\u2587", "\u2588" };
	static const char ramp[] = " .:-=+*#@";
	int maxx = getmaxx(w), x = 0;

	wmove(w, y, 0);
	for (int i = 0; i < l->len && x < maxx;) {
		int j = i, n;

		while (j < l->len && l->hl[j] == l->hl[i])
			j++;
		wattrset(w, attr[l->hl[i]]);
		n = j - i < maxx - x ? j - i : maxx - x;
		if (l->hl[i] == TOP_HL_SPARK) {
			for (int k = 0; k < n; k++) {
				unsigned lvl = (unsigned)(l->text[i + k] - '0');

				if (lvl > 8)
					lvl = 0;
				if (v->utf8)
					waddstr(w, bars[lvl]);
				else
					waddch(w, (chtype)ramp[lvl]);
			}
		} else {
			waddnstr(w, l->text + i, n);
		}
		x += n;
		i = j;
	}
	if (fill >= 0) {
		wattrset(w, attr[fill]);
		for (; x < maxx; x++)
			waddch(w, ' ');
	}
	wattrset(w, A_NORMAL);
}

/* ---- screens --------------------------------------------------------------- */

static void draw_list(struct top *v, int h)
{
	struct top_ui *ui = &v->ui;

	top_cols__fit(&v->cols, &v->src, &v->rows, ui, COLS);
	top_cols__head(&v->cols, ui, &v->line);
	put_line(v, v->body, 0, &v->line, false, TOP_HL_COLHEAD);
	for (int y = 1; y < h; y++) {
		size_t pos = ui->first + (size_t)(y - 1);
		bool sel;

		if (pos >= v->rows.n)
			break;
		sel = pos == ui->sel_pos;
		top_cols__row(&v->cols, &v->src, v->rows.idx[pos], ui,
			      &v->line);
		put_line(v, v->body, y, &v->line, sel,
			 sel ? v->line.hl[0] : -1);
	}
	if (v->rows.n == v->rows.nspecial && h > 3) {
		const char *why =
			v->src.runtime_kind == MS_RT_NONE ?
				"no async tasks seen (yet): no tokio task functions or memscope markers ran" :
			v->rows.ended_hidden ?
				"every task has ended: 'e' shows them" :
				"no task matches the filter (Esc clears it)";

		top_line__clear(&v->line);
		top_line__add(&v->line, TOP_HL_DIM, "  %s", why);
		put_line(v, v->body, (int)v->rows.n + 2, &v->line, false, -1);
	}
}

/* A page of lines with the scroll position clamped to it. */
static void draw_page(struct top *v, int h, const struct top_line *lines,
		      size_t n)
{
	size_t max = n > (size_t)h ? n - (size_t)h : 0;

	if (v->ui.scroll > max)
		v->ui.scroll = max;
	for (int y = 0; y < h && v->ui.scroll + (size_t)y < n; y++)
		put_line(v, v->body, y, &lines[v->ui.scroll + (size_t)y], false,
			 -1);
}

static void draw_log(struct top *v, int h)
{
	size_t n = v->log_n + 1, i;

	if (n > TEXT_MAX)
		n = TEXT_MAX;
	top_line__clear(&v->text[0]);
	top_line__add(
		&v->text[0], TOP_HL_SECTION,
		" Messages: memscoped's, and the program's output (last %d lines)",
		LOG_LINES);
	for (i = 1; i < n; i++) {
		size_t k = (v->log_head + v->log_n - (n - 1) + (i - 1)) %
			   LOG_LINES;
		struct top_line *l = &v->text[i];

		top_line__clear(l);
		if (v->log_target[k])
			top_line__add(l, TOP_HL_LABEL, " target: ");
		else
			top_line__add(l, TOP_HL_NORMAL, " ");
		top_line__add(l, TOP_HL_NORMAL, "%s", v->log[k]);
	}
	draw_page(v, h, v->text, n);
}

static void draw_status(struct top *v)
{
	werase(v->status);
	top_status__build(&v->src, &v->ui, &v->rows, v->msg, COLS, &v->line);
	put_line(v, v->status, 0, &v->line, false, -1);
	wnoutrefresh(v->status);
}

static void frame(struct top *v, const struct model *m,
		  const struct top_info *info)
{
	struct top_ui *ui = &v->ui;
	int nh, hmax, h;

	v->last_frame = info->now_ns;
	v->dirty = false;
	/* Pausing: one last look at the model, then a copy of it. */
	if (ui->paused && v->src.m) {
		top_src__update(&v->src, m, info);
		if (top_src__freeze(&v->src)) {
			ui->paused = false;
			snprintf(v->msg, sizeof(v->msg),
				 "cannot pause: out of memory");
		}
	}
	if (!ui->paused)
		top_src__update(&v->src, m, info);
	if (v->repaint) {
		clearok(curscr, TRUE);
		v->repaint = false;
	}
	if (LINES < 6 || COLS < 30) {
		windows_free(v);
		v->term_lines = LINES;
		v->term_cols = COLS;
		erase();
		mvaddstr(0, 0, "memscoped: terminal too small");
		wnoutrefresh(stdscr);
		doupdate();
		return;
	}
	/* The header gives up lines to the table on short terminals. */
	hmax = LINES >= 24 ? HDR_MAX : LINES >= 14 ? 4 : 1;
	nh = top_header__build(&v->src, ui, COLS, v->hdrl, hmax);
	if (nh != v->hdr_h || LINES != v->term_lines || COLS != v->term_cols ||
	    !v->hdr) {
		if (windows_make(v, nh))
			return;
		clearok(curscr, TRUE);
	}
	h = getmaxy(v->body);

	werase(v->hdr);
	for (int i = 0; i < nh; i++)
		put_line(v, v->hdr, i, &v->hdrl[i], false,
			 i == 0 ? TOP_HL_TITLE : -1);

	if (top_rows__build(&v->rows, &v->src, ui))
		v->rows.n = 0;
	ui->page = h > 1 ? (size_t)h - 1 : 1;
	top_ui__sync(ui, &v->rows);
	werase(v->body);
	switch (ui->screen) {
	case TOP_SCR_LIST:
		draw_list(v, h);
		break;
	case TOP_SCR_DETAIL:
		ui->page = (size_t)h;
		draw_page(v, h, v->text,
			  top_detail__build(&v->src, ui->detail, ui, v->text,
					    TEXT_MAX));
		break;
	case TOP_SCR_HELP:
		draw_page(v, h, v->text, top_help__build(v->text, TEXT_MAX));
		break;
	case TOP_SCR_LOG:
		ui->page = (size_t)h;
		draw_log(v, h);
		break;
	}

	werase(v->foot);
	top_footer__build(ui, COLS, &v->line);
	put_line(v, v->foot, 0, &v->line, false, -1);

	wnoutrefresh(v->hdr);
	wnoutrefresh(v->body);
	draw_status(v);
	wnoutrefresh(v->foot);
	doupdate();
}

static uint64_t mono_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

void top__draw(struct top *v, const struct model *m,
	       const struct top_info *info)
{
	uint64_t since, cost = v ? v->frame_cost : 0;
	bool news;

	if (!v)
		return;
	news = log_read(v, &v->own) | log_read(v, &v->child);
	v->can_snapshot = info->can_snapshot;
	if (info->pid != v->shown_pid) {
		/* Another process (--all): its task indexes are not ours. */
		struct top_ui *ui = &v->ui;

		v->shown_pid = info->pid;
		ui->paused = false;
		ui->screen = TOP_SCR_LIST;
		ui->sel = TOP_NO_ROW;
		ui->sel_pos = ui->first = ui->scroll = 0;
		ui->detail = 0;
		v->dirty = true;
	}
	since = info->now_ns - v->last_frame;
	/* The drain waits while a frame is built: with a huge model, frames
	 * get rarer, so the view never takes much of memscoped's time. */
	if ((v->dirty && since >= 2 * cost) ||
	    since >= (FRAME_NS > 10 * cost ? FRAME_NS : 10 * cost)) {
		uint64_t t0 = mono_ns();

		frame(v, m, info);
		v->frame_cost = mono_ns() - t0;
	} else if (news && v->status) {
		draw_status(v);
		doupdate();
	}
}

/* ---- keys ---------------------------------------------------------------- */

static int key_of(int ch)
{
	switch (ch) {
	case KEY_UP:
		return TOP_KEY_UP;
	case KEY_DOWN:
		return TOP_KEY_DOWN;
	case KEY_PPAGE:
		return TOP_KEY_PGUP;
	case KEY_NPAGE:
		return TOP_KEY_PGDN;
	case KEY_HOME:
		return TOP_KEY_HOME;
	case KEY_END:
		return TOP_KEY_END;
	case KEY_LEFT:
		return TOP_KEY_LEFT;
	case KEY_RIGHT:
		return TOP_KEY_RIGHT;
	case KEY_ENTER:
	case '\n':
	case '\r':
		return TOP_KEY_ENTER;
	case 27:
		return TOP_KEY_ESC;
	case KEY_BACKSPACE:
	case 127:
	case 8:
		return TOP_KEY_BACKSPACE;
	case KEY_RESIZE:
		return TOP_KEY_RESIZE;
	case KEY_F(1):
		return TOP_KEY_F1;
	case KEY_F(10):
		return TOP_KEY_F10;
	case 12:
		return TOP_KEY_CTRL_L;
	case 21:
		return TOP_KEY_CTRL_U;
	case '\t':
		return '\t'; /* --all: the next process */
	default:
		return ch >= 0x20 && ch < 0x7f ? ch : -1;
	}
}

int top__input(struct top *v)
{
	int ch, act, out = 0;

	if (!v)
		return 0;
	while ((ch = wgetch(v->input)) != ERR) {
		int key = key_of(ch);

		if (ch == 3) /* Ctrl-C, whatever the screen */
			return out | TOP_ACT_QUIT;
		if (key < 0)
			continue;
		act = top_ui__key(&v->ui, key, &v->rows);
		if (act & TOP_ACT_REPAINT)
			v->repaint = true;
		if (act & (TOP_ACT_REDRAW | TOP_ACT_REPAINT))
			v->dirty = true;
		if (act & TOP_ACT_SNAPSHOT) {
			if (v->can_snapshot)
				out |= TOP_ACT_SNAPSHOT;
			else
				snprintf(
					v->msg, sizeof(v->msg),
					"no snapshot file: start memscoped with -s FILE");
		}
		out |= act & (TOP_ACT_NEXT_PROC | TOP_ACT_PREV_PROC);
		if (act & TOP_ACT_QUIT)
			return out | TOP_ACT_QUIT;
	}
	return out;
}

int top__fd(const struct top *v)
{
	return v ? fileno(v->tty) : -1;
}

/* ---- life cycle ---------------------------------------------------------- */

void top__child_stdio(const struct top *v)
{
	int fd;

	if (!v)
		return;
	if (isatty(0)) {
		fd = open("/dev/null", O_RDONLY);
		if (fd > 0) {
			dup2(fd, 0);
			close(fd);
		}
	}
	if (isatty(1))
		dup2(v->child.fd, 1);
	/* fd 2 is the view's log now: give the program its real stderr
	 * back unless that is the terminal. */
	dup2(isatty(v->saved_err) ? v->child.fd : v->saved_err, 2);
}

struct top *top__new(void)
{
	struct top *v;
	const char *loc;

	if (!isatty(STDOUT_FILENO)) {
		errno = ENOTTY;
		return NULL;
	}
	v = calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	v->saved_err = -1;
	v->own.fd = log_open();
	v->child.fd = log_open();
	v->child.target = true;
	v->text = calloc(TEXT_MAX, sizeof(*v->text));
	v->tty = fopen("/dev/tty", "re");
	if (v->own.fd < 0 || v->child.fd < 0 || !v->text || !v->tty)
		goto fail;

	loc = setlocale(LC_CTYPE, NULL);
	v->old_locale = strdup(loc ? loc : "C");
	setlocale(LC_CTYPE, "");
	v->utf8 = !strcmp(nl_langinfo(CODESET), "UTF-8");
	v->scr = newterm(NULL, stdout, v->tty);
	if (!v->scr) {
		errno = ENOTTY;
		goto fail;
	}
	set_term(v->scr);
	/* Raw, not cbreak: no XOFF (Ctrl-S would stop the output and then
	 * block a frame, and with it the drain), and no terminal signals,
	 * which would also hit a launched program (it shares our process
	 * group). Ctrl-C is read as a key: quit. */
	raw();
	noecho();
	nonl();
	curs_set(0);
	set_escdelay(25);
	colors_init(v);
	/* Keys are read from a window of their own that is never drawn:
	 * wgetch() refreshes its window first. */
	v->input = newwin(1, 1, 0, 0);
	if (!v->input)
		goto fail;
	keypad(v->input, TRUE);
	nodelay(v->input, TRUE);
	top_ui__init(&v->ui);
	v->can_snapshot = true;
	v->hdr_h = -1;

	/* Until the first frame: attaching can take a second. */
	erase();
	attrset(v->attr[TOP_HL_TITLE]);
	move(0, 0);
	for (int x = 0; x < COLS; x++)
		addch(' ');
	mvaddstr(0, 1, "memscoped");
	attrset(A_NORMAL);
	mvaddstr(2, 2, "loading the probes and attaching...");
	wnoutrefresh(stdscr);
	doupdate();

	/* Now stderr: a log line must not land in the middle of the screen. */
	fflush(stderr);
	v->saved_err = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (v->saved_err < 0 || dup2(v->own.fd, STDERR_FILENO) < 0)
		goto fail;
	return v;
fail:
	top__free(v);
	return NULL;
}

void top__free(struct top *v)
{
	int err = errno;

	if (!v)
		return;
	if (v->scr) {
		windows_free(v);
		if (v->input)
			delwin(v->input);
		endwin();
		delscreen(v->scr);
	}
	if (v->saved_err >= 0) {
		fflush(stderr);
		dup2(v->saved_err, STDERR_FILENO);
		close(v->saved_err);
		/* What was said while the screen was up, in the order of a
		 * plain run: the program's last words, then memscoped's. */
		if (v->child.fd >= 0)
			tail_out(v->child.fd, STDERR_FILENO, TAIL_LINES);
		if (v->own.fd >= 0)
			copy_out(v->own.fd, 0, STDERR_FILENO);
	}
	if (v->old_locale) {
		setlocale(LC_CTYPE, v->old_locale);
		free(v->old_locale);
	}
	if (v->tty)
		fclose(v->tty);
	if (v->own.fd >= 0)
		close(v->own.fd);
	if (v->child.fd >= 0)
		close(v->child.fd);
	top_src__release(&v->src);
	top_rows__free(&v->rows);
	free(v->text);
	free(v);
	errno = err;
}
