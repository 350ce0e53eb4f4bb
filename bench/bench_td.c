// SPDX-License-Identifier: MIT
/*
 * bench_td: message rate of 8 B RDMA WRITEs from N threads (1, 2, 4), each
 * with its own RC QP and CQ, in two layouts measured in the same run:
 *   shared  all QPs and CQs on one plain PD: the context's one doorbell
 *           page, locked post and poll paths (no domain);
 *   td      each thread on its own thread domain: a TD, a parent domain,
 *           its QP and CQ on it: a dedicated doorbell page, no locks.
 * Both paths are measured, each in one process: the daemon path
 * (SOFTVERBS_DIRECT=0, in a child: the library reads the switch once),
 * where every post rings a doorbell page and the daemon's engine does the
 * WRITE, then the direct path (the default), where the library does it.
 * Rounds interleave every (N, layout) cell so each sees the same load;
 * each cell's figure is the median over rounds. Printed per path: the
 * rate, the scaling rate(N) / rate(1) of each layout, td / shared at each
 * N, the CPU time per message (the posting threads' plus the daemon's,
 * from /proc: it does not depend on how much CPU a loaded machine gives
 * the run), the time inside ibv_post_send, the load average, and
 * "TD scales better: PASS|FAIL" (td scaling above shared scaling at every
 * N > 1). The last line is "RESULT <td scaling / shared scaling at the
 * largest N, direct path> x" (0 with --path daemon).
 *
 *   softverbs run -- build/bin/bench_td [--rounds R] [--ms MS]
 *       [--threads 1,2,4] [--mem mapped|va] [--path both|direct|daemon]
 *
 * The WRITEs' targets are a memfd mapping by default (--mem mapped): the
 * direct path and the engine copy with memcpy. --mem va targets private
 * memory, where each WRITE is a system call (pwritev on the target's
 * /proc/PID/mem, process_vm_writev in the engine): that floor of about
 * a microsecond hides what the layouts cost.
 *
 * Each thread posts one WRITE per ibv_post_send (one doorbell per
 * message, as perftest's default post list of 1), inline, signals every
 * 16th and keeps up to 128 in flight. On a 2-core machine the daemon's
 * engine needs a core too, so 2 and 4 threads oversubscribe it; under
 * autogroup scheduling a loaded machine gives the whole process a fixed
 * share, whatever its thread count: then the rate cannot grow with N,
 * and the CPU per message says what the layouts cost.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"
#include "bench_rc.h"

#define DEPTH 128
#define SIGNAL_EVERY 16
#define MAX_THREADS 16
#define MAX_ROUNDS 64

enum layout { SHARED, TD, NLAYOUTS };

/* Aligned: one thread's counters never share a line with another's. */
struct worker {
	struct ibv_context *ctx;
	struct ibv_td *td;
	struct ibv_pd *dom; /* the parent domain (td) or the plain PD */
	struct ibv_cq *cq, *peer_cq;
	struct ibv_qp *qp, *peer;
	struct ibv_mr *peer_mr;
	uint64_t buf[8];
	uint64_t *peer_buf; /* the WRITEs' target (mapped or VA, --mem) */
	uint64_t msgs;
	uint64_t cpu_ns; /* the thread's CPU time while measured */
	uint64_t post_ns, posts; /* time inside ibv_post_send, calls */
	pthread_t thread;
} __attribute__((aligned(128)));

struct cell {
	double rate; /* messages per second */
	double cpu_us; /* posting threads' CPU microseconds per message */
	double dmn_us; /* the daemon's, < 0: unknown */
	double post_ns; /* ns per ibv_post_send call */
};

static struct ibv_context *ctx;
static pid_t daemon_pid; /* 0: unknown (no SOFTVERBS_RUNDIR pid file) */
static struct ibv_pd *pd;
static atomic_int go, stop;

static struct ibv_cq *worker_cq(struct worker *w, enum layout l)
{
	struct ibv_cq_init_attr_ex a = {
		.cqe = DEPTH, .wc_flags = IBV_WC_STANDARD_FLAGS,
		.comp_mask = IBV_CQ_INIT_ATTR_MASK_PD, .parent_domain = w->dom,
	};
	struct ibv_cq_ex *cq;

	if (l == SHARED)
		return ibv_create_cq(ctx, DEPTH, NULL, NULL, 0);
	cq = ibv_create_cq_ex(ctx, &a);
	return cq ? ibv_cq_ex_to_cq(cq) : NULL;
}

static struct ibv_qp *worker_qp(struct ibv_pd *on, struct ibv_cq *cq)
{
	struct ibv_qp_init_attr a = {
		.send_cq = cq, .recv_cq = cq, .qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = DEPTH, .max_recv_wr = 1,
			 .max_send_sge = 1, .max_recv_sge = 1,
			 .max_inline_data = 64 },
	};
	struct ibv_qp *qp = ibv_create_qp(on, &a);

	if (!qp)
		bench_die("ibv_create_qp");
	return qp;
}

/*
 * The WRITEs' targets, one page per thread. Mapped (a memfd, MAP_SHARED:
 * the default): the direct path and the engine copy with memcpy through
 * their own mapping of the file. VA (--mem va, private memory): each WRITE
 * is a pwritev/process_vm_writev system call on either path, a floor of
 * microseconds that hides what the layouts cost.
 */
static uint8_t *targets;

static void targets_make(bool mapped)
{
	size_t len = (size_t)MAX_THREADS * 4096;
	int fd;

	if (!mapped) {
		targets = aligned_alloc(4096, len);
		if (!targets)
			bench_die("aligned_alloc");
		memset(targets, 0, len);
		return;
	}
	fd = memfd_create("bench-td", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)len))
		bench_die("memfd");
	targets = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (targets == MAP_FAILED)
		bench_die("mmap memfd");
	/* fd stays open: ibv_reg_mr finds the file behind the mapping
	 * through it (without privileges /proc/self/map_files is closed). */
}

static void worker_setup(struct worker *w, enum layout l, int i)
{
	struct ibv_td_init_attr ta = {};
	struct ibv_parent_domain_init_attr pa = { .pd = pd };

	memset(w, 0, sizeof(*w));
	w->peer_buf = (uint64_t *)(targets + (size_t)i * 4096);
	w->dom = pd;
	if (l == TD) {
		w->td = pa.td = ibv_alloc_td(ctx, &ta);
		if (!w->td)
			bench_die("ibv_alloc_td");
		w->dom = ibv_alloc_parent_domain(ctx, &pa);
		if (!w->dom)
			bench_die("ibv_alloc_parent_domain");
	}
	w->cq = worker_cq(w, l);
	w->peer_cq = ibv_create_cq(ctx, 4, NULL, NULL, 0);
	if (!w->cq || !w->peer_cq)
		bench_die("ibv_create_cq");
	w->qp = worker_qp(w->dom, w->cq);
	w->peer = worker_qp(pd, w->peer_cq); /* the target only */
	w->peer_mr = ibv_reg_mr(pd, w->peer_buf, 64,
				BENCH_RC_ACCESS);
	if (!w->peer_mr)
		bench_die("ibv_reg_mr");
	bench_rc_pair(ctx, w->qp, w->peer);
}

static void worker_teardown(struct worker *w)
{
	if (ibv_destroy_qp(w->qp) || ibv_destroy_qp(w->peer) ||
	    ibv_dereg_mr(w->peer_mr) || ibv_destroy_cq(w->cq) ||
	    ibv_destroy_cq(w->peer_cq))
		bench_die("teardown");
	if (w->td && (ibv_dealloc_pd(w->dom) || ibv_dealloc_td(w->td)))
		bench_die("teardown (domain)");
}

/* Post one 8 B inline WRITE; every SIGNAL_EVERY-th is signaled. */
static void post_one(struct worker *w, uint64_t n)
{
	struct ibv_sge s = { (uintptr_t)w->buf, 8, 0 };
	struct ibv_send_wr wr = {
		.wr_id = n, .sg_list = &s, .num_sge = 1,
		.opcode = IBV_WR_RDMA_WRITE,
		.send_flags = IBV_SEND_INLINE |
			      ((n + 1) % SIGNAL_EVERY ? 0 : IBV_SEND_SIGNALED),
	}, *bad;

	w->buf[0] = n;
	wr.wr.rdma.remote_addr = (uintptr_t)w->peer_buf;
	wr.wr.rdma.rkey = w->peer_mr->rkey;
	if (ibv_post_send(w->qp, &wr, &bad))
		bench_die("ibv_post_send");
}

/*
 * post_one; every POST_SAMPLE-th call is timed. clock_gettime costs as
 * much as a direct post on some VMs (no vDSO clock source): timing every
 * call would measure the clock.
 */
#define POST_SAMPLE 64

static void timed_post(struct worker *w, uint64_t n)
{
	uint64_t t;

	if (n % POST_SAMPLE) {
		post_one(w, n);
		return;
	}
	t = bench_now_ns();
	post_one(w, n);
	w->post_ns += bench_now_ns() - t;
	w->posts++;
}

static uint64_t thread_cpu_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

static void *worker_run(void *arg)
{
	struct worker *w = arg;
	uint64_t posted = 0, done = 0, cpu0;
	struct ibv_wc wc[8];
	int i, n;

	while (!atomic_load_explicit(&go, memory_order_acquire))
		;
	cpu0 = thread_cpu_ns();
	while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
		if (posted - done < DEPTH)
			timed_post(w, posted++);
		n = ibv_poll_cq(w->cq, 8, wc);
		for (i = 0; i < n; i++) {
			if (wc[i].status != IBV_WC_SUCCESS)
				bench_die("WRITE completion");
			done += SIGNAL_EVERY;
		}
	}
	w->msgs = done;
	w->cpu_ns = thread_cpu_ns() - cpu0;
	return NULL;
}

/* The daemon's pid from $SOFTVERBS_RUNDIR/softverbsd.pid, or 0. */
static pid_t find_daemon(void)
{
	const char *dir = getenv("SOFTVERBS_RUNDIR");
	char path[512];
	FILE *f;
	int pid = 0;

	if (!dir)
		return 0;
	snprintf(path, sizeof(path), "%s/softverbsd.pid", dir);
	f = fopen(path, "r");
	if (!f)
		return 0;
	if (fscanf(f, "%d", &pid) != 1)
		pid = 0;
	fclose(f);
	return pid;
}

/*
 * The daemon's CPU time (all threads) in ns; DMN_UNKNOWN if unknown (0 is
 * a real value: a fresh daemon has used no clock tick yet).
 */
#define DMN_UNKNOWN UINT64_MAX
static uint64_t daemon_cpu_ns(void)
{
	unsigned long long ut = 0, st = 0;
	char path[64], buf[1024], *p;
	FILE *f;
	size_t n;

	if (!daemon_pid)
		return DMN_UNKNOWN;
	snprintf(path, sizeof(path), "/proc/%d/stat", (int)daemon_pid);
	f = fopen(path, "r");
	if (!f)
		return DMN_UNKNOWN;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	p = strrchr(buf, ')'); /* the name may hold spaces */
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u "
			 "%llu %llu", &ut, &st) != 2)
		return DMN_UNKNOWN;
	return (ut + st) * 1000000000ull / (uint64_t)sysconf(_SC_CLK_TCK);
}

/* Rate and CPU cost of nthreads in layout l, for ms milliseconds. */
static struct cell run_cell(int nthreads, enum layout l, unsigned int ms)
{
	static struct worker w[MAX_THREADS];
	uint64_t t0, t1, d0, d1, msgs = 0, cpu = 0, post_ns = 0, posts = 0;
	struct cell c;
	int i;

	for (i = 0; i < nthreads; i++)
		worker_setup(&w[i], l, i);
	atomic_store(&go, 0);
	atomic_store(&stop, 0);
	for (i = 0; i < nthreads; i++)
		if (pthread_create(&w[i].thread, NULL, worker_run, &w[i]))
			bench_die("pthread_create");
	d0 = daemon_cpu_ns();
	t0 = bench_now_ns();
	atomic_store_explicit(&go, 1, memory_order_release);
	usleep(ms * 1000);
	atomic_store(&stop, 1);
	t1 = bench_now_ns();
	d1 = daemon_cpu_ns();
	for (i = 0; i < nthreads; i++) {
		pthread_join(w[i].thread, NULL);
		msgs += w[i].msgs;
		cpu += w[i].cpu_ns;
		post_ns += w[i].post_ns;
		posts += w[i].posts;
		worker_teardown(&w[i]);
	}
	c.rate = (double)msgs / ((double)(t1 - t0) / 1e9);
	c.post_ns = posts ? (double)post_ns / (double)posts : 0;
	c.cpu_us = msgs ? (double)cpu / 1e3 / (double)msgs : -1.0;
	c.dmn_us = d0 != DMN_UNKNOWN && d1 != DMN_UNKNOWN && d1 >= d0 && msgs ?
			   (double)(d1 - d0) / 1e3 / (double)msgs :
			   -1.0;
	return c;
}

enum path { PATH_DIRECT = 1, PATH_DAEMON = 2, PATH_BOTH = 3 };

struct opts {
	int rounds;
	unsigned int ms;
	int threads[8], nthreads;
	bool mapped;
	enum path path;
};

static void parse_threads(struct opts *o, char *s)
{
	char *tok, *save = NULL;

	o->nthreads = 0;
	for (tok = strtok_r(s, ",", &save); tok && o->nthreads < 8;
	     tok = strtok_r(NULL, ",", &save)) {
		int n = atoi(tok);

		if (n < 1 || n > MAX_THREADS)
			bench_die("--threads: 1..16 each");
		o->threads[o->nthreads++] = n;
	}
}

static enum path parse_path(const char *v)
{
	if (!strcmp(v, "direct"))
		return PATH_DIRECT;
	if (!strcmp(v, "daemon"))
		return PATH_DAEMON;
	return strcmp(v, "both") ? 0 : PATH_BOTH;
}

/* One "--name value" pair; false if name is unknown or value bad. */
static bool parse_one(struct opts *o, const char *name, char *val)
{
	if (!strcmp(name, "--rounds"))
		o->rounds = atoi(val);
	else if (!strcmp(name, "--ms"))
		o->ms = (unsigned int)atoi(val);
	else if (!strcmp(name, "--threads"))
		parse_threads(o, val);
	else if (!strcmp(name, "--mem") &&
		 (!strcmp(val, "mapped") || !strcmp(val, "va")))
		o->mapped = !strcmp(val, "mapped");
	else if (!strcmp(name, "--path") && parse_path(val))
		o->path = parse_path(val);
	else
		return false;
	return true;
}

static void parse(int argc, char **argv, struct opts *o)
{
	int i;

	*o = (struct opts){ .rounds = 5, .ms = 300, .threads = { 1, 2, 4 },
			    .nthreads = 3, .mapped = true,
			    .path = PATH_BOTH };
	for (i = 1; i + 1 < argc; i += 2)
		if (!parse_one(o, argv[i], argv[i + 1]))
			break;
	if (i < argc || o->rounds < 1 || o->rounds > MAX_ROUNDS || !o->ms) {
		fprintf(stderr, "usage: bench_td [--rounds 1..64] [--ms MS] "
				"[--threads 1,2,4] [--mem mapped|va] "
				"[--path both|direct|daemon]\n");
		exit(2);
	}
}

/* CPU microseconds per message, the daemon's included when known. */
static double cell_cpu(const struct cell *c)
{
	return c->cpu_us + (c->dmn_us > 0 ? c->dmn_us : 0);
}

static void print_cpu(const struct opts *o, struct cell m[][NLAYOUTS])
{
	const struct cell *c;
	int i;

	printf("\n| threads | shared CPU us/msg | td CPU us/msg | "
	       "shared / td |\n|---:|---:|---:|---:|\n");
	for (i = 0; i < o->nthreads; i++) {
		c = m[i];
		printf("| %d | %.3f + %.3f | %.3f + %.3f | %.2f |\n",
		       o->threads[i], c[SHARED].cpu_us, c[SHARED].dmn_us,
		       c[TD].cpu_us, c[TD].dmn_us,
		       cell_cpu(&c[SHARED]) / cell_cpu(&c[TD]));
	}
	printf("(CPU per message: posting threads + the daemon; medians; "
	       "the daemon's share is in 1/%ld s ticks)\n",
	       sysconf(_SC_CLK_TCK));
}

static void print_post(const struct opts *o, struct cell m[][NLAYOUTS])
{
	int i;

	printf("\n| threads | shared ns/post | td ns/post | shared / td |\n"
	       "|---:|---:|---:|---:|\n");
	for (i = 0; i < o->nthreads; i++)
		printf("| %d | %.0f | %.0f | %.2f |\n", o->threads[i],
		       m[i][SHARED].post_ns, m[i][TD].post_ns,
		       m[i][SHARED].post_ns / m[i][TD].post_ns);
	printf("(time inside ibv_post_send per call, 1 call in %d timed, "
	       "all threads; medians)\n", POST_SAMPLE);
}

static void print_table(const struct opts *o, struct cell m[][NLAYOUTS])
{
	double s1 = m[0][SHARED].rate, t1 = m[0][TD].rate;
	int i;

	printf("| threads | shared msg/s | td msg/s | shared scaling | "
	       "td scaling | td / shared |\n");
	printf("|---:|---:|---:|---:|---:|---:|\n");
	for (i = 0; i < o->nthreads; i++)
		printf("| %d | %.0f | %.0f | %.2f | %.2f | %.2f |\n",
		       o->threads[i], m[i][SHARED].rate, m[i][TD].rate,
		       m[i][SHARED].rate / s1, m[i][TD].rate / t1,
		       m[i][TD].rate / m[i][SHARED].rate);
	printf("(scaling: rate at N threads / rate at %d thread(s), same "
	       "layout; medians of %d interleaved rounds of %u ms; %ld "
	       "online CPUs)\n",
	       o->threads[0], o->rounds, o->ms, sysconf(_SC_NPROCESSORS_ONLN));
}

/* Whether a TD message costs less CPU than a shared one at every N. */
static void cheaper(const struct opts *o, struct cell m[][NLAYOUTS])
{
	double lo = 1e9, hi = 0, r;
	int i;

	for (i = 0; i < o->nthreads; i++) {
		r = cell_cpu(&m[i][SHARED]) / cell_cpu(&m[i][TD]);
		lo = r < lo ? r : lo;
		hi = r > hi ? r : hi;
	}
	printf("TD costs less CPU per message at every N: %s (shared / td "
	       "%.2f..%.2f)\n", lo > 1.0 ? "yes" : "no", lo, hi);
}

/*
 * The verdict: at every N beyond the first, the TD layout's scaling is
 * above the shared layout's. Returns the two scalings' ratio at the
 * largest N (> 1: TD scales better there).
 */
static double verdict(const struct opts *o, struct cell m[][NLAYOUTS],
		      const char *name)
{
	bool pass = o->nthreads > 1;
	double ratio = 0;
	int i;

	for (i = 1; i < o->nthreads; i++) {
		ratio = (m[i][TD].rate / m[0][TD].rate) /
			(m[i][SHARED].rate / m[0][SHARED].rate);
		pass = pass && ratio > 1.0;
	}
	printf("\n%s: TD scales better: %s (td scaling / shared scaling at "
	       "%d threads: %.2f)\n", name, pass ? "PASS" : "FAIL",
	       o->threads[o->nthreads - 1], ratio);
	cheaper(o, m);
	return ratio;
}

/*
 * The median of each field over n rounds; the daemon's CPU over the
 * rounds that know it (-1 if none does).
 */
static struct cell cell_median(const struct cell *c, int n)
{
	double v[4][MAX_ROUNDS];
	size_t known = 0;
	int r;

	for (r = 0; r < n; r++) {
		v[0][r] = c[r].rate;
		v[1][r] = c[r].cpu_us;
		if (c[r].dmn_us >= 0)
			v[2][known++] = c[r].dmn_us;
		v[3][r] = c[r].post_ns;
	}
	return (struct cell){ bench_median(v[0], (size_t)n),
			      bench_median(v[1], (size_t)n),
			      known ? bench_median(v[2], known) : -1.0,
			      bench_median(v[3], (size_t)n) };
}

/* Every (N, layout) cell, rounds times, interleaved; the medians. */
static void measure(const struct opts *o, struct cell m[][NLAYOUTS])
{
	static struct cell c[8][NLAYOUTS][MAX_ROUNDS];
	int r, i, l;

	/* Odd rounds run td first: neither layout always follows the other. */
	for (r = 0; r < o->rounds; r++)
		for (i = 0; i < o->nthreads; i++)
			for (l = 0; l < NLAYOUTS; l++) {
				enum layout x = (enum layout)((r + l) % NLAYOUTS);

				c[i][x][r] = run_cell(o->threads[i], x, o->ms);
			}
	for (i = 0; i < o->nthreads; i++)
		for (l = 0; l < NLAYOUTS; l++)
			m[i][l] = cell_median(c[i][l], o->rounds);
}

static void print_load(const char *when)
{
	double l1 = -1, l5 = -1;
	FILE *f = fopen("/proc/loadavg", "r");

	if (f) {
		if (fscanf(f, "%lf %lf", &l1, &l5) != 2)
			l1 = l5 = -1;
		fclose(f);
	}
	printf("load average %s: %.2f (1 min), %.2f (5 min)\n", when, l1, l5);
}

/* One path's tables and verdict (SOFTVERBS_DIRECT is set already). */
static double run_path(const struct opts *o, const char *name)
{
	struct cell m[8][NLAYOUTS];
	double ratio;

	ctx = bench_open(NULL);
	daemon_pid = find_daemon();
	pd = ibv_alloc_pd(ctx);
	if (!pd)
		bench_die("ibv_alloc_pd");
	printf("\n## %s, %s targets\n\n", name,
	       o->mapped ? "mapped (memfd)" : "VA (private)");
	print_load("before");
	measure(o, m);
	print_load("after");
	print_table(o, m);
	if (daemon_pid)
		print_cpu(o, m);
	print_post(o, m);
	ratio = verdict(o, m, name);
	ibv_dealloc_pd(pd);
	ibv_close_device(ctx);
	fflush(stdout);
	return ratio;
}

/* The daemon path in a child (the library reads SOFTVERBS_DIRECT once). */
static void daemon_path_child(const struct opts *o)
{
	int status;
	pid_t pid = fork();

	if (pid < 0)
		bench_die("fork");
	if (!pid) {
		setenv("SOFTVERBS_DIRECT", "0", 1);
		run_path(o, "daemon path (SOFTVERBS_DIRECT=0)");
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status) ||
	    WEXITSTATUS(status))
		bench_die("the daemon path's run");
}

int main(int argc, char **argv)
{
	double ratio = 0.0;
	struct opts o;

	parse(argc, argv, &o);
	bench_watchdog(600);
	targets_make(o.mapped);
	if (o.path & PATH_DAEMON)
		daemon_path_child(&o);
	if (o.path & PATH_DIRECT) {
		setenv("SOFTVERBS_DIRECT", "1", 1);
		ratio = run_path(&o, "direct path (default)");
	}
	/* RESULT: td scaling / shared scaling at the largest N, of the
	 * direct path (the default; 0 when only the daemon path ran). */
	bench_result(ratio, "x");
	return 0;
}
