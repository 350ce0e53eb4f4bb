// SPDX-License-Identifier: MIT
/*
 * softverbs: control tool for the softverbs daemon, in the style of rdma(8).
 *
 * It talks to softverbsd over $RUNDIR/control.sock (one request line per
 * connection, reply lines ending in "OK" or "ERR <errno-name> <message>"),
 * starts the daemon, and runs programs against it.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <softverbs/rundir.h>

#include "view.h"

/*
 * Exit codes. When no daemon answers, "status" and "stop" say why, each
 * with its own code (3 and 4 as in LSB init scripts' status).
 */
#define EXIT_USAGE 2
#define EXIT_NOT_RUNNING 3 /* nothing listens on control.sock */
#define EXIT_DENIED 4 /* we may not talk to it: status unknown */
#define EXIT_NOT_RESPONDING 5 /* it listens but does not answer (hung) */
#define EXIT_EXEC 127

/*
 * How long a live daemon may take to become ready. A daemon that exits is
 * seen at once (wait_ready), so this only bounds a slow start: 5 s was
 * too little on a loaded machine (load 15 on 2 cores, or a TCG guest).
 */
#define START_TIMEOUT_MS 60000
#define STOP_TIMEOUT_MS 5000
#define POLL_MS 50
#define CTL_TIMEOUT_MS 5000
/* The daemon reads one request line of at most 255 bytes (control.c). */
#define CTL_REQ_MAX 256
#define PROBE_TIMEOUT_MS 1000 /* per status probe while starting */
#define REPLY_MAX (1 << 20)

static char rundir[PATH_MAX];

static void __attribute__((format(printf, 1, 2))) err_msg(const char *fmt,
							  ...)
{
	va_list ap;

	fputs("softverbs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void usage(FILE *out)
{
	fputs("Usage: softverbs COMMAND [ARGS]\n"
	      "\n"
	      "  start [--foreground]      start softverbsd (if not running)\n"
	      "  stop                      stop softverbsd\n"
	      "  status                    show whether softverbsd runs\n"
	      "  dev [list]                list devices\n"
	      "  dev show [NAME]           show one device (or all)\n"
	      "  dev add NAME [netdev IF] [type roce|ib]\n"
	      "                            create a device (RoCE by default;\n"
	      "                            ib: InfiniBand port with a LID)\n"
	      "  dev del NAME              remove a device\n"
	      "  dev stats NAME            the port's counters (wire devices)\n"
	      "  trace NAME FILE.pcap|off  write every wire packet of NAME to\n"
	      "                            FILE.pcap (RoCEv2), until 'off'\n"
	      "  dev datadirect NAME on|off\n"
	      "                            add/remove the device's data-direct\n"
	      "                            DMA device (off revokes its MRs)\n"
	      "  run [--] PROG [ARGS...]   run PROG on softverbs (starts the\n"
	      "                            daemon, sets LD_LIBRARY_PATH, and\n"
	      "                            mounts /dev/infiniband and\n"
	      "                            /sys/class/infiniband for PROG in\n"
	      "                            a private mount namespace)\n"
	      "  help                      this text\n"
	      "\n"
	      "Environment:\n"
	      "  SOFTVERBS_RUNDIR  runtime directory (default /run/softverbs\n"
	      "                    for root, else $XDG_RUNTIME_DIR/softverbs\n"
	      "                    or /tmp/softverbs-$UID)\n"
	      "  SOFTVERBSD        daemon binary (default: beside softverbs)\n"
	      "  " SV_VIEW_DISABLE_ENV "=1  run: no namespace, no mounts\n"
	      "\n"
	      "Exit status of status/stop: 0 ok, 1 error, 3 not running,\n"
	      "4 permission denied, 5 not responding.\n",
	      out);
}

static int __attribute__((format(printf, 1, 2))) bad_usage(const char *fmt,
							   ...)
{
	va_list ap;

	fputs("softverbs: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputs("\nTry 'softverbs help'.\n", stderr);
	return EXIT_USAGE;
}

/* $RUNDIR/file into buf; false if it does not fit. */
static bool rundir_file(char *buf, size_t len, const char *file)
{
	int n = snprintf(buf, len, "%s/%s", rundir, file);

	return n >= 0 && (size_t)n < len;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000;
}

/*
 * A zombie still answers kill(pid, 0), and the daemon's parent after the
 * double fork is PID 1, which in containers often never reaps. So look at
 * the state in /proc too.
 */
static bool pid_alive(pid_t pid)
{
	char path[64], buf[512];
	ssize_t n;
	char *p;
	int fd;

	if (pid <= 0 || (kill(pid, 0) && errno == ESRCH))
		return false;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return errno != ENOENT;
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	if (n <= 0)
		return true;
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* comm may contain anything but ends so */
	if (!p || p[1] != ' ')
		return true;
	return p[2] != 'Z' && p[2] != 'X';
}

/* ---------------------------------------------------------------------- */
/* Control socket client                                                   */
/* ---------------------------------------------------------------------- */

static int send_all(int fd, const char *buf, size_t len)
{
	while (len) {
		ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		buf += n;
		len -= n;
	}
	return 0;
}

/* Read to EOF into a NUL-terminated malloc'd buffer. */
static int recv_all(int fd, char **out)
{
	size_t used = 0, cap = 4096;
	char *buf = malloc(cap);

	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t n;

		if (used + 1 == cap) {
			char *nbuf = NULL;

			if (cap < REPLY_MAX)
				nbuf = realloc(buf, cap * 2);
			if (!nbuf) {
				free(buf);
				return -EMSGSIZE;
			}
			buf = nbuf;
			cap *= 2;
		}
		n = recv(fd, buf + used, cap - 1 - used, 0);
		if (n < 0 && errno == EINTR)
			continue;
		/* The daemon may close with our bytes unread: still EOF. */
		if (n == 0 || (n < 0 && errno == ECONNRESET && used))
			break;
		if (n < 0) {
			free(buf);
			return -errno;
		}
		used += n;
	}
	buf[used] = '\0';
	*out = buf;
	return 0;
}

/*
 * Send one request, return the whole reply. -ENOENT/-ECONNREFUSED mean no
 * daemon listens.
 */
static int ctl_request(const char *req, char **reply, long timeout_ms)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	struct timeval tv = { .tv_sec = timeout_ms / 1000,
			      .tv_usec = timeout_ms % 1000 * 1000 };
	int fd, ret;

	if (!rundir_file(sun.sun_path, sizeof(sun.sun_path), SV_CONTROL_SOCK))
		return -ENAMETOOLONG;
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun))) {
		ret = -errno;
		goto out;
	}
	ret = send_all(fd, req, strlen(req));
	if (!ret)
		ret = send_all(fd, "\n", 1);
	if (!ret)
		ret = recv_all(fd, reply);
out:
	close(fd);
	return ret;
}

enum daemon_state {
	DAEMON_RUNNING,
	DAEMON_NOT_RUNNING, /* no socket, or nobody listening on it */
	DAEMON_DENIED, /* the socket or the daemon refuses us */
	DAEMON_NOT_RESPONDING, /* accepted, but no reply in time (hung) */
	DAEMON_ERROR, /* anything else */
};

/* What a failed control request says about the daemon. */
static enum daemon_state request_state(int ret)
{
	if (ret == -ENOENT || ret == -ECONNREFUSED || ret == -ENOTDIR)
		return DAEMON_NOT_RUNNING;
	if (ret == -EACCES || ret == -EPERM)
		return DAEMON_DENIED;
	if (ret == -EAGAIN || ret == -ETIMEDOUT || ret == -EINPROGRESS)
		return DAEMON_NOT_RESPONDING;
	return DAEMON_ERROR;
}

/*
 * Split a reply into its result lines (returned, NUL-terminated in place)
 * and its final status line. Returns 0 for OK, -1 for ERR or garbage, with
 * *status pointing at the status line.
 */
static int reply_parse(char *reply, char **body, char **status)
{
	size_t len = strlen(reply);
	char *last;

	while (len && reply[len - 1] == '\n')
		reply[--len] = '\0';
	last = strrchr(reply, '\n');
	if (last) {
		*last = '\0';
		*body = reply;
		*status = last + 1;
	} else {
		*body = NULL;
		*status = reply;
	}
	return strcmp(*status, "OK") ? -1 : 0;
}

/* Print an ERR line as "softverbs: WHAT: message (ENAME)". */
static void reply_error(const char *what, const char *status)
{
	const char *name, *msg;
	int name_len;

	if (strncmp(status, "ERR ", 4)) {
		err_msg("%s: unexpected reply from softverbsd: '%.80s'", what,
			status);
		return;
	}
	name = status + 4;
	msg = strchr(name, ' ');
	name_len = msg ? (int)(msg - name) : (int)strlen(name);
	err_msg("%s: %s (%.*s)", what, msg ? msg + 1 : "failed", name_len,
		name);
}

/* Say why the daemon cannot serve us; returns the matching exit code. */
static int report_state(enum daemon_state st, int ret)
{
	switch (st) {
	case DAEMON_NOT_RUNNING:
		err_msg("softverbsd is not running (rundir %s); "
			"start it with 'softverbs start'",
			rundir);
		return EXIT_NOT_RUNNING;
	case DAEMON_DENIED:
		err_msg("permission denied talking to softverbsd (rundir %s): "
			"it belongs to another user",
			rundir);
		return EXIT_DENIED;
	case DAEMON_NOT_RESPONDING:
		err_msg("softverbsd is not responding (rundir %s): no reply "
			"within %d ms; is it stopped or hung?",
			rundir, CTL_TIMEOUT_MS);
		return EXIT_NOT_RESPONDING;
	default:
		err_msg("cannot talk to softverbsd (rundir %s): %s", rundir,
			strerror(-ret));
		return EXIT_FAILURE;
	}
}

/* The daemon's own refusal ("ERR EPERM ...") is a permission error too. */
static bool reply_denied(const char *status)
{
	return !strncmp(status, "ERR EPERM", 9) ||
	       !strncmp(status, "ERR EACCES", 10);
}

/*
 * Run one request and print its result lines; the exit code of a command.
 * 'filter' keeps only lines whose first word is that device name.
 */
static int ctl_call(const char *req, const char *what, const char *filter)
{
	char *reply, *body, *status, *line, *save = NULL;
	size_t flen = filter ? strlen(filter) : 0;
	int ret, shown = 0;

	ret = ctl_request(req, &reply, CTL_TIMEOUT_MS);
	if (ret)
		return report_state(request_state(ret), ret);
	ret = reply_parse(reply, &body, &status);
	for (line = body ? strtok_r(body, "\n", &save) : NULL; line;
	     line = strtok_r(NULL, "\n", &save)) {
		if (filter && (strncmp(line, filter, flen) ||
			       (line[flen] != ' ' && line[flen])))
			continue;
		puts(line);
		shown++;
	}
	if (ret)
		reply_error(what, status);
	else if (filter && !shown)
		err_msg("%s: no device '%s'", what, filter);
	if (ret)
		ret = reply_denied(status) ? EXIT_DENIED : EXIT_FAILURE;
	else if (filter && !shown)
		ret = EXIT_FAILURE;
	free(reply);
	return ret;
}

/* Ask for "status"; fills *pid from "pid=N" when the daemon runs. */
static enum daemon_state daemon_probe(pid_t *pid, long timeout_ms, int *err)
{
	char *reply, *body, *status, *p;
	enum daemon_state st;
	int ret;

	ret = ctl_request("status", &reply, timeout_ms);
	if (err)
		*err = ret;
	if (ret)
		return request_state(ret);
	st = reply_parse(reply, &body, &status) ? DAEMON_ERROR :
						  DAEMON_RUNNING;
	if (st == DAEMON_ERROR && reply_denied(status))
		st = DAEMON_DENIED;
	if (st == DAEMON_ERROR && err)
		*err = -EPROTO;
	if (st == DAEMON_RUNNING && pid) {
		p = body ? strstr(body, "pid=") : NULL;
		*pid = p ? (pid_t)atoi(p + 4) : 0;
	}
	free(reply);
	return st;
}

/* Does a daemon answer "status"? Fills *pid from "pid=N" if it does. */
static bool daemon_status_within(pid_t *pid, long timeout_ms)
{
	return daemon_probe(pid, timeout_ms, NULL) == DAEMON_RUNNING;
}

static bool daemon_status(pid_t *pid)
{
	return daemon_status_within(pid, CTL_TIMEOUT_MS);
}

/* ---------------------------------------------------------------------- */
/* Starting the daemon                                                     */
/* ---------------------------------------------------------------------- */

/* Directory holding this binary (build/bin or PREFIX/bin). */
static int self_dir(char *buf, size_t len)
{
	ssize_t n = readlink("/proc/self/exe", buf, len - 1);
	char *slash;

	if (n < 0)
		return -errno;
	if ((size_t)n == len - 1)
		return -ENAMETOOLONG;
	buf[n] = '\0';
	slash = strrchr(buf, '/');
	if (!slash)
		return -ENOENT;
	if (slash == buf)
		slash[1] = '\0'; /* keep "/" */
	else
		*slash = '\0';
	return 0;
}

static int find_daemon(char *buf, size_t len)
{
	const char *env = getenv("SOFTVERBSD");
	char dir[PATH_MAX];
	int ret, n;

	if (env && *env) {
		n = snprintf(buf, len, "%s", env);
	} else {
		ret = self_dir(dir, sizeof(dir));
		if (ret)
			return ret;
		n = snprintf(buf, len, "%s/softverbsd", dir);
	}
	if (n < 0 || (size_t)n >= len)
		return -ENAMETOOLONG;
	return access(buf, X_OK) ? -errno : 0;
}

/* The daemon must not keep our caller's pipes or sockets open. */
static void close_fds_from(unsigned int first)
{
	long max = sysconf(_SC_OPEN_MAX);
	long fd;

	if (close_range(first, ~0U, 0) == 0)
		return;
	if (max < 0 || max > 65536)
		max = 65536;
	for (fd = first; fd < max; fd++)
		close((int)fd);
}

/* In the grandchild: become the daemon. Reports exec failure on fd 3. */
static void __attribute__((noreturn))
exec_daemon(const char *exe, int log_fd, int report_fd)
{
	sigset_t all;
	int null_fd, sig, err;

	/* Lift both out of 0..3 first, in case our caller closed stdio. */
	log_fd = fcntl(log_fd, F_DUPFD_CLOEXEC, 10);
	report_fd = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
	null_fd = open("/dev/null", O_RDONLY);
	if (log_fd < 0 || report_fd < 0 || null_fd < 0 ||
	    dup2(null_fd, 0) < 0 || dup2(log_fd, 1) < 0 ||
	    dup2(log_fd, 2) < 0 || dup3(report_fd, 3, O_CLOEXEC) < 0)
		_exit(EXIT_EXEC);
	close_fds_from(4);
	/* Start from a clean slate whatever our caller ignored or blocked. */
	for (sig = 1; sig < NSIG; sig++)
		signal(sig, SIG_DFL);
	sigemptyset(&all);
	sigprocmask(SIG_SETMASK, &all, NULL);
	/* Do not pin the caller's cwd (mount points, temp dirs). */
	if (chdir("/"))
		_exit(EXIT_EXEC);
	execl(exe, "softverbsd", (char *)NULL);
	err = errno;
	dprintf(1, "softverbs: cannot exec %s: %s\n", exe, strerror(err));
	if (write(3, &err, sizeof(err)) < 0)
		_exit(EXIT_EXEC);
	_exit(EXIT_EXEC);
}

/*
 * Double fork so the daemon is nobody's child: a "softverbs run" PROG must
 * not inherit it as a child (zombies, wait()), and setsid() keeps terminal
 * and process-group signals (Ctrl-C, timeout(1)) away from it.
 * The pipe carries the daemon's pid, then an errno if exec failed.
 */
static int spawn_daemon(const char *exe, int log_fd, pid_t *pid)
{
	int pfd[2], err = 0, status;
	pid_t child;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC))
		return -errno;
	child = fork();
	if (child < 0) {
		err = errno;
		close(pfd[0]);
		close(pfd[1]);
		return -err;
	}
	if (child == 0) {
		close(pfd[0]);
		setsid();
		child = fork();
		if (child == 0)
			exec_daemon(exe, log_fd, pfd[1]);
		n = write(pfd[1], &child, sizeof(child));
		_exit(child > 0 && n == sizeof(child) ? 0 : 1);
	}
	close(pfd[1]);
	while (waitpid(child, &status, 0) < 0 && errno == EINTR)
		;
	n = read(pfd[0], pid, sizeof(*pid));
	if (n != sizeof(*pid) || *pid <= 0)
		err = EAGAIN; /* the middle child failed to fork */
	else if (read(pfd[0], &err, sizeof(err)) != sizeof(err))
		err = 0; /* EOF: exec succeeded and closed the pipe */
	close(pfd[0]);
	return -err;
}

/* Show what the daemon logged since 'from', to explain a failed start. */
static void show_log(const char *log, off_t from)
{
	char buf[4096];
	ssize_t n;
	int fd = open(log, O_RDONLY | O_CLOEXEC);
	off_t end;

	if (fd < 0)
		return;
	end = lseek(fd, 0, SEEK_END);
	if (end - from > (off_t)sizeof(buf))
		from = end - sizeof(buf);
	fprintf(stderr, "---- %s ----\n", log);
	while (lseek(fd, from, SEEK_SET) >= 0 &&
	       (n = read(fd, buf, sizeof(buf))) > 0) {
		fwrite(buf, 1, n, stderr);
		from += n;
	}
	fputs("----\n", stderr);
	close(fd);
}

static bool daemon_ready(void)
{
	char sock[PATH_MAX];

	if (!daemon_status_within(NULL, PROBE_TIMEOUT_MS))
		return false;
	if (!rundir_file(sock, sizeof(sock),
			 SV_DEVICES_DIR "/" SV_DEFAULT_DEV "/" SV_DEV_SOCK))
		return false;
	return access(sock, F_OK) == 0;
}

/* Wait for status + the default device socket. 0, or -errno. */
static int wait_ready(pid_t pid)
{
	long deadline = now_ms() + START_TIMEOUT_MS;

	while (now_ms() < deadline) {
		if (daemon_ready())
			return 0;
		if (!pid_alive(pid))
			return -ESRCH;
		sleep_ms(POLL_MS);
	}
	return daemon_ready() ? 0 : -ETIMEDOUT;
}

static int open_log(char *log, size_t len, off_t *start)
{
	char stamp[64];
	time_t now = time(NULL);
	int fd;

	if (!rundir_file(log, len, SV_LOG_FILE))
		return -ENAMETOOLONG;
	fd = open(log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	*start = lseek(fd, 0, SEEK_END);
	strftime(stamp, sizeof(stamp), "%F %T", localtime(&now));
	dprintf(fd, "---- softverbs start at %s ----\n", stamp);
	return fd;
}

static const char *start_error(int ret)
{
	static char msg[48];

	if (ret == -ESRCH)
		return "it exited";
	if (ret != -ETIMEDOUT)
		return strerror(-ret);
	snprintf(msg, sizeof(msg), "not ready within %d s",
		 START_TIMEOUT_MS / 1000);
	return msg;
}

static int launch(bool verbose)
{
	char exe[PATH_MAX] = "", log[PATH_MAX];
	off_t log_start = 0;
	pid_t pid = 0;
	int log_fd, ret;

	ret = find_daemon(exe, sizeof(exe));
	if (ret) {
		err_msg("cannot find softverbsd (%s): %s",
			exe[0] ? exe : "next to softverbs", strerror(-ret));
		return EXIT_FAILURE;
	}
	log_fd = open_log(log, sizeof(log), &log_start);
	if (log_fd < 0) {
		err_msg("cannot open log in %s: %s", rundir, strerror(-log_fd));
		return EXIT_FAILURE;
	}
	ret = spawn_daemon(exe, log_fd, &pid);
	close(log_fd);
	if (!ret)
		ret = wait_ready(pid);
	if (ret) {
		err_msg("starting %s failed: %s", exe, start_error(ret));
		show_log(log, log_start);
		return EXIT_FAILURE;
	}
	if (verbose)
		printf("softverbsd started (pid %d, rundir %s)\n", (int)pid,
		       rundir);
	return EXIT_SUCCESS;
}

/*
 * Serialise starters: two "softverbs run" at once must not both spawn a
 * daemon. The lock is dropped on exit (and not inherited: O_CLOEXEC).
 */
static int start_lock(void)
{
	char path[PATH_MAX];
	int fd;

	if (!rundir_file(path, sizeof(path), "start.lock"))
		return -ENAMETOOLONG;
	fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	while (flock(fd, LOCK_EX)) {
		if (errno != EINTR) {
			close(fd);
			return -errno;
		}
	}
	return fd;
}

static int prepare_rundir(void)
{
	int ret = sv_mkdir_p(rundir, sv_rundir_mode());

	if (ret)
		err_msg("cannot create %s: %s", rundir, strerror(-ret));
	return ret;
}

static bool dev_sock_connects(const char *dev)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd, n = snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s/%s/%s",
			     rundir, SV_DEVICES_DIR, dev, SV_DEV_SOCK);
	bool ok;

	if (n < 0 || (size_t)n >= sizeof(sa.sun_path))
		return false;
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return false;
	ok = !connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	close(fd);
	return ok;
}

/*
 * "run" needs a daemon that serves the program, not one this user may
 * drive: root's daemon serves every user through its device sockets (mode
 * 0666, like /dev/infiniband/uverbs*) but answers a stranger's control
 * requests with EPERM. It will do if one of its device sockets connects.
 */
static bool foreign_daemon_serves(void)
{
	char path[PATH_MAX];
	struct dirent *de;
	bool ok = false;
	DIR *dir;

	if (!rundir_file(path, sizeof(path), SV_DEVICES_DIR))
		return false;
	dir = opendir(path);
	if (!dir)
		return false;
	while (!ok && (de = readdir(dir)))
		ok = de->d_name[0] != '.' && dev_sock_connects(de->d_name);
	closedir(dir);
	return ok;
}

/*
 * Make sure a daemon runs: 0 = it does, else an exit code. With 'served',
 * another user's daemon that serves us is enough.
 */
static int ensure_daemon(bool verbose, bool served)
{
	enum daemon_state st;
	pid_t pid = 0;
	int lock, ret;

	st = daemon_probe(&pid, CTL_TIMEOUT_MS, &ret);
	if (st == DAEMON_RUNNING)
		goto running;
	if (st == DAEMON_DENIED && served && foreign_daemon_serves())
		return EXIT_SUCCESS;
	/* A hung or foreign daemon holds the directory: say so, start none. */
	if (st == DAEMON_DENIED || st == DAEMON_NOT_RESPONDING)
		return report_state(st, ret);
	if (prepare_rundir())
		return EXIT_FAILURE;
	lock = start_lock();
	if (lock < 0) {
		err_msg("cannot lock %s: %s", rundir, strerror(-lock));
		return EXIT_FAILURE;
	}
	/* Another starter may have won while we waited for the lock. */
	if (daemon_status(&pid)) {
		close(lock);
		goto running;
	}
	ret = launch(verbose);
	close(lock);
	return ret;
running:
	if (verbose)
		printf("softverbsd is already running (pid %d, rundir %s)\n",
		       (int)pid, rundir);
	return EXIT_SUCCESS;
}

/* ---------------------------------------------------------------------- */
/* Commands                                                                */
/* ---------------------------------------------------------------------- */

static int cmd_start(int argc, char **argv)
{
	char exe[PATH_MAX];
	pid_t pid;
	int ret;

	if (argc == 1)
		return ensure_daemon(true, false);
	if (argc != 2 || strcmp(argv[1], "--foreground"))
		return bad_usage("start: unexpected argument '%s'", argv[1]);
	if (daemon_status(&pid)) {
		printf("softverbsd is already running (pid %d, rundir %s)\n",
		       (int)pid, rundir);
		return EXIT_SUCCESS;
	}
	ret = find_daemon(exe, sizeof(exe));
	if (ret || prepare_rundir()) {
		if (ret)
			err_msg("cannot find softverbsd: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	fflush(NULL);
	execl(exe, "softverbsd", (char *)NULL);
	err_msg("cannot exec %s: %s", exe, strerror(errno));
	return EXIT_EXEC;
}

static int cmd_stop(int argc, char **argv)
{
	long deadline = now_ms() + STOP_TIMEOUT_MS;
	pid_t pid = 0;
	int ret;

	enum daemon_state st;

	if (argc != 1)
		return bad_usage("stop: unexpected argument '%s'", argv[1]);
	st = daemon_probe(&pid, CTL_TIMEOUT_MS, &ret);
	if (st != DAEMON_RUNNING)
		return report_state(st, ret);
	ret = ctl_call("stop", "stop", NULL);
	if (ret)
		return ret;
	while (now_ms() < deadline) {
		if (!pid_alive(pid)) {
			printf("softverbsd stopped (pid %d)\n", (int)pid);
			return EXIT_SUCCESS;
		}
		sleep_ms(POLL_MS);
	}
	err_msg("softverbsd (pid %d) did not exit within 5 s", (int)pid);
	return EXIT_FAILURE;
}

static int cmd_status(int argc, char **argv)
{
	enum daemon_state st;
	int ret;

	if (argc != 1)
		return bad_usage("status: unexpected argument '%s'", argv[1]);
	st = daemon_probe(NULL, CTL_TIMEOUT_MS, &ret);
	if (st == DAEMON_NOT_RUNNING) {
		printf("softverbsd is not running (rundir %s)\n", rundir);
		return EXIT_NOT_RUNNING;
	}
	if (st != DAEMON_RUNNING)
		return report_state(st, ret);
	ret = ctl_call("status", "status", NULL);
	if (!ret)
		printf("rundir=%s\n", rundir);
	return ret;
}

static int check_dev_name(const char *name)
{
	if (sv_dev_name_valid(name))
		return 0;
	return bad_usage("invalid device name '%s' (use 1-63 characters "
			 "of A-Z a-z 0-9 _ -)",
			 name);
}

/* Check one "netdev IF" or "type roce|ib" option of "dev add". */
static int check_dev_opt(const char *key, const char *val)
{
	if (!strcmp(key, "netdev"))
		return sv_netdev_name_valid(val) ?
			       0 :
			       bad_usage("invalid netdev name '%s'", val);
	if (!strcmp(key, "type"))
		return !strcmp(val, "roce") || !strcmp(val, "ib") ?
			       0 :
			       bad_usage("invalid type '%s' (roce or ib)", val);
	return bad_usage("usage: dev add NAME [netdev IF] [type roce|ib]");
}

static int cmd_dev_add(int argc, char **argv)
{
	char req[160];
	size_t used;
	int ret, i;

	if (argc < 2 || argc % 2 || argc > 6)
		return bad_usage("usage: dev add NAME [netdev IF] [type roce|ib]");
	ret = check_dev_name(argv[1]);
	used = snprintf(req, sizeof(req), "dev add %s", argv[1]);
	for (i = 2; !ret && i < argc; i += 2) {
		ret = check_dev_opt(argv[i], argv[i + 1]);
		used += snprintf(req + used, sizeof(req) - used, " %s %s",
				 argv[i], argv[i + 1]);
	}
	return ret ? ret : ctl_call(req, "dev add", NULL);
}

static int cmd_dev(int argc, char **argv)
{
	const char *sub = argc > 1 ? argv[1] : "list";
	char req[128];
	int ret;

	if (!strcmp(sub, "list") || !strcmp(sub, "show")) {
		if (argc > 3 || (argc == 3 && !strcmp(sub, "list")))
			return bad_usage("dev %s: too many arguments", sub);
		if (argc == 3 && (ret = check_dev_name(argv[2])))
			return ret;
		return ctl_call("dev list", "dev", argc == 3 ? argv[2] : NULL);
	}
	if (!strcmp(sub, "add"))
		return cmd_dev_add(argc - 1, argv + 1);
	if (!strcmp(sub, "del")) {
		if (argc != 3)
			return bad_usage("usage: dev del NAME");
		ret = check_dev_name(argv[2]);
		if (ret)
			return ret;
		snprintf(req, sizeof(req), "dev del %s", argv[2]);
		return ctl_call(req, "dev del", NULL);
	}
	if (!strcmp(sub, "stats")) {
		if (argc != 3)
			return bad_usage("usage: dev stats NAME");
		ret = check_dev_name(argv[2]);
		if (ret)
			return ret;
		snprintf(req, sizeof(req), "dev stats %s", argv[2]);
		return ctl_call(req, "dev stats", NULL);
	}
	if (!strcmp(sub, "datadirect")) {
		if (argc != 4 || (strcmp(argv[3], "on") && strcmp(argv[3], "off")))
			return bad_usage("usage: dev datadirect NAME on|off");
		ret = check_dev_name(argv[2]);
		if (ret)
			return ret;
		snprintf(req, sizeof(req), "dev datadirect %s %s", argv[2],
			 argv[3]);
		return ctl_call(req, "dev datadirect", NULL);
	}
	return bad_usage("dev: unknown command '%s'", sub);
}

/* "trace NAME FILE|off": the daemon opens FILE, so send it absolute. */
static int cmd_trace(int argc, char **argv)
{
	char req[CTL_REQ_MAX], cwd[PATH_MAX] = "";
	const char *file = argc == 3 ? argv[2] : NULL;
	int ret, n;

	if (argc != 3)
		return bad_usage("usage: trace NAME FILE.pcap|off");
	ret = check_dev_name(argv[1]);
	if (ret)
		return ret;
	if (strcmp(file, "off") && file[0] != '/' && !getcwd(cwd, sizeof(cwd)))
		return bad_usage("trace: cannot resolve '%s'", file);
	if (strchr(file, ' ') || strchr(file, '\n') || strchr(cwd, ' '))
		return bad_usage("trace: no blanks in the file name, please");
	n = snprintf(req, sizeof(req), "trace %s %s%s%s", argv[1], cwd,
		     cwd[0] ? "/" : "", file);
	if (n < 0 || (size_t)n >= sizeof(req))
		return bad_usage("trace: file name too long");
	return ctl_call(req, "trace", NULL);
}

/* Put our ../lib (the drop-in libibverbs.so.1) first in the search path. */
static int prepend_libdir(void)
{
	const char *old = getenv("LD_LIBRARY_PATH");
	char dir[PATH_MAX], *slash, *val;
	int ret;

	ret = self_dir(dir, sizeof(dir));
	if (ret)
		return ret;
	slash = strrchr(dir, '/'); /* build/bin -> build */
	if (slash == dir)
		dir[1] = '\0';
	else if (slash)
		*slash = '\0';
	if (asprintf(&val, "%s/lib%s%s", strcmp(dir, "/") ? dir : "",
		     old && *old ? ":" : "", old && *old ? old : "") < 0)
		return -ENOMEM;
	ret = setenv("LD_LIBRARY_PATH", val, 1) ? -errno : 0;
	free(val);
	return ret;
}

static int cmd_run(int argc, char **argv)
{
	int ret;

	argc--;
	argv++;
	if (argc && !strcmp(argv[0], "--")) {
		argc--;
		argv++;
	}
	if (!argc)
		return bad_usage("usage: run [--] PROG [ARGS...]");
	ret = ensure_daemon(false, true);
	if (ret)
		return ret;
	ret = prepend_libdir();
	if (ret) {
		err_msg("cannot set LD_LIBRARY_PATH: %s", strerror(-ret));
		return EXIT_FAILURE;
	}
	/* Without a namespace the program still runs, as it always did. */
	ret = sv_view_enter(rundir);
	if (ret && ret != -ECANCELED)
		err_msg("note: %s; %s", getenv(SV_VIEW_ENV),
			"/dev/infiniband and /sys/class/infiniband are not "
			"provided (see docs/ucx-mpi.md)");
	fflush(NULL);
	execvp(argv[0], argv);
	err_msg("cannot run %s: %s", argv[0], strerror(errno));
	return EXIT_EXEC;
}

int main(int argc, char **argv)
{
	const char *cmd = argc > 1 ? argv[1] : NULL;
	int ret;

	if (!cmd) {
		usage(stderr);
		return EXIT_USAGE;
	}
	if (!strcmp(cmd, "help") || !strcmp(cmd, "-h") ||
	    !strcmp(cmd, "--help")) {
		usage(stdout);
		return EXIT_SUCCESS;
	}
	ret = sv_rundir_path(rundir, sizeof(rundir));
	if (ret) {
		err_msg("cannot resolve the runtime directory: %s",
			strerror(-ret));
		return EXIT_FAILURE;
	}
	/* Children (the daemon, "run" programs) must agree on it. */
	if (setenv(SV_RUNDIR_ENV, rundir, 1)) {
		err_msg("setenv: %s", strerror(errno));
		return EXIT_FAILURE;
	}
	argc--;
	argv++;
	if (!strcmp(cmd, "start"))
		return cmd_start(argc, argv);
	if (!strcmp(cmd, "stop"))
		return cmd_stop(argc, argv);
	if (!strcmp(cmd, "status"))
		return cmd_status(argc, argv);
	if (!strcmp(cmd, "dev"))
		return cmd_dev(argc, argv);
	if (!strcmp(cmd, "run"))
		return cmd_run(argc, argv);
	if (!strcmp(cmd, "trace"))
		return cmd_trace(argc, argv);
	return bad_usage("unknown command '%s'", cmd);
}
