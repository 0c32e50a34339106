/* `zring top`: the stat view redrawn every interval with rates per second.
 * On a terminal it takes the alternate screen, reads keys unbuffered (q
 * quits, space redraws now) and gives the terminal back as it found it,
 * also on SIGINT/SIGTERM and on errors. Without a terminal it prints
 * frames one after the other (batch mode, as `top -b`). */
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <termios.h>
#include <unistd.h>

#include "snapshot.h"

static struct termios g_saved;
static volatile sig_atomic_t g_tty_raw, g_stop, g_resized;

static void tty_restore(void)
{
	if (!g_tty_raw)
		return;
	tcsetattr(STDIN_FILENO, TCSAFLUSH, &g_saved);
	static const char leave[] = "\x1b[?25h\x1b[?1049l";
	if (write(STDOUT_FILENO, leave, sizeof(leave) - 1) < 0) {
		/* nothing left to tell: the terminal is gone */
	}
	g_tty_raw = 0;
}

static void on_signal(int sig)
{
	if (sig == SIGWINCH)
		g_resized = 1;
	else
		g_stop = sig;
}

static int tty_enter(void)
{
	if (tcgetattr(STDIN_FILENO, &g_saved))
		return -errno;
	struct termios t = g_saved;
	t.c_lflag &= ~(tcflag_t)(ICANON | ECHO);
	t.c_cc[VMIN] = 0;
	t.c_cc[VTIME] = 0;
	if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t))
		return -errno;
	g_tty_raw = 1;
	atexit(tty_restore);
	fputs("\x1b[?1049h\x1b[?25l", stdout);
	return 0;
}

static void term_size(int *rows, int *cols)
{
	struct winsize ws;
	*rows = 24;
	*cols = 80;
	if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_row && ws.ws_col) {
		*rows = ws.ws_row;
		*cols = ws.ws_col;
	}
}

/* Draw a frame from the top left, each line cut to the width, the rest of
 * the screen cleared; lines beyond the height are left out. */
static void draw(const char *frame, size_t len)
{
	int rows, cols;
	term_size(&rows, &cols);
	fputs("\x1b[H", stdout);
	const char *p = frame, *end = frame + len;
	for (int row = 0; row < rows && p < end; row++) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t n = nl ? (size_t)(nl - p) : (size_t)(end - p);
		fwrite(p, 1, n < (size_t)cols ? n : (size_t)cols, stdout);
		fputs("\x1b[K", stdout);
		if (row + 1 < rows)
			fputs("\r\n", stdout);
		p = nl ? nl + 1 : end;
	}
	fputs("\x1b[J", stdout);
	fflush(stdout);
}

/* Wait up to `s` seconds for a key: 'q' quits, anything else redraws. */
static bool wait_key(double s)
{
	struct pollfd pfd = {STDIN_FILENO, POLLIN, 0};
	int r = poll(&pfd, 1, (int)(s * 1000));
	if (r <= 0 || g_stop)
		return false;
	char c = 0;
	if (read(STDIN_FILENO, &c, 1) == 1 && (c == 'q' || c == 'Q'))
		g_stop = -1;
	return true;
}

static char *frame_text(const char *arena, double interval, const struct snap *cur,
			const struct snap *prev, bool tty, size_t *len)
{
	char *buf = NULL;
	FILE *f = open_memstream(&buf, len);
	if (!f)
		return NULL;
	char when[32];
	fprintf(f, "zring top  %s  every %.1f s  %s%s\n", arena, interval,
		fmt_time(when, sizeof(when), cur->real_ns), tty ? "  (q quits)" : "");
	stat_text(f, cur, prev);
	fclose(f);
	return buf;
}

int cmd_top(const struct cli_opts *o)
{
	if (o->argc != 1)
		return cli_fail(EXIT_USAGE, "top: give one arena (see zring top --help)");
	double interval = o->interval_s > 0 ? o->interval_s : 1.0;
	bool tty = !o->json && isatty(STDOUT_FILENO) && isatty(STDIN_FILENO);
	zr_arena *a = NULL;
	int rc = cli_attach(o->argv[0], &a);
	if (rc)
		return rc;
	struct sigaction sa;
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGWINCH, &sa, NULL);
	if (tty && tty_enter())
		tty = false;
	struct snap snaps[2];
	int cur = 0;
	bool have_prev = false;
	for (long frame = 0; !g_stop && (o->iterations == 0 || frame < o->iterations); frame++) {
		rc = snap_take_guarded(a, &snaps[cur]);
		if (rc)
			break;
		if (o->json) { /* one stat object per line and frame */
			json_t *d = stat_json(&snaps[cur], have_prev ? &snaps[!cur] : NULL);
			json_object_set_new(d, "command", json_string("top"));
			json_dumpf(d, stdout, JSON_COMPACT | JSON_ENSURE_ASCII);
			json_decref(d);
			fputc('\n', stdout);
			fflush(stdout);
		}
		size_t len = 0;
		char *text = o->json ? NULL
				     : frame_text(o->argv[0], interval, &snaps[cur],
						  have_prev ? &snaps[!cur] : NULL, tty, &len);
		if (text && tty) {
			draw(text, len);
		} else if (text) {
			fwrite(text, 1, len, stdout);
			fputs("\n", stdout);
			fflush(stdout);
		}
		free(text);
		if (have_prev)
			snap_free(&snaps[!cur]);
		have_prev = true;
		cur = !cur;
		if (o->iterations && frame + 1 >= o->iterations)
			break;
		if (tty) {
			(void)wait_key(interval); /* a key or a resize redraws at once */
			g_resized = 0;
		} else {
			cli_sleep(interval);
		}
	}
	if (have_prev)
		snap_free(&snaps[!cur]);
	tty_restore();
	zr_arena_close(a);
	if (rc)
		return rc;
	return g_stop > 0 ? 128 + (int)g_stop : EXIT_OK;
}
