// SPDX-License-Identifier: MIT
/*
 * Issue 18, cross-user isolation. Runs as root with a second user made for
 * the test ("svtest-peer", created with useradd if missing; skip 77 when
 * not root or when the machine has no useradd).
 *
 * Root (the first user) owns a daemon, a registered buffer, an RC QP V
 * connected to its own V0, a UD QP U, and an RC QP W that root connects to
 * the peer's QP A2. The peer knows every number and key (as if guessed):
 *   - its RC QP aimed at V: RDMA READ and WRITE fail, V stays usable;
 *   - its UD QP sending to U with the right Q_Key: nothing arrives;
 *   - the daemon counts both refusals (refused= in `dev list`);
 *   - through W, the connection root made to it: WRITE and READ work;
 *   - control.sock: the file mode refuses it, and with the mode opened,
 *     SO_PEERCRED does: stop, dev add and dev del answer EPERM, and
 *     `softverbs stop` fails; the daemon and its device are still there.
 *
 * The policy is the daemon owner's to lift: under a daemon started with
 * --cross-user=allow the same UD send from the peer arrives (run first,
 * in a child of its own, since the library keeps the first daemon it
 * found).
 */
#include <infiniband/verbs.h>
#include <grp.h>
#include <pwd.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_ud.h"
#include "svt_user.h"

#define BUF 8192
#define QKEY 0x1234

struct info { /* root -> peer */
	uint32_t v_qpn, w_qpn, u_qpn, rkey;
	uint64_t addr;
};

static int to_peer[2], to_root[2];

static void put(int fd, const void *p, size_t n)
{
	SVT_CHECK(write(fd, p, n) == (ssize_t)n);
}

static void get(int fd, void *p, size_t n)
{
	SVT_CHECK(read(fd, p, n) == (ssize_t)n);
}


static const char *ctl_ask(const char *rundir, const char *req, char *rep,
			   size_t len)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM, 0);
	ssize_t n;

	SVT_CHECK(fd >= 0);
	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/control.sock", rundir);
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa))) {
		snprintf(rep, len, "connect: %s", strerrorname_np(errno));
		close(fd);
		return rep;
	}
	/* The daemon may answer EPERM and close before reading: no SIGPIPE. */
	send(fd, req, strlen(req), MSG_NOSIGNAL);
	n = read(fd, rep, len - 1);
	rep[n > 0 ? n : 0] = '\0';
	close(fd);
	return rep;
}

static void peer_control(const char *rundir)
{
	char rep[256], c = 'c';

	SVT_CHECK(!strcmp(ctl_ask(rundir, "stop\n", rep, sizeof(rep)),
			  "connect: EACCES"));
	put(to_root[1], &c, 1); /* root opens the file mode */
	get(to_peer[0], &c, 1);
	SVT_CHECK(!strncmp(ctl_ask(rundir, "stop\n", rep, sizeof(rep)),
			   "ERR EPERM", 9));
	SVT_CHECK(!strncmp(ctl_ask(rundir, "dev add evil\n", rep, sizeof(rep)),
			   "ERR EPERM", 9));
	SVT_CHECK(!strncmp(ctl_ask(rundir, "dev del softverbs0\n", rep,
				   sizeof(rep)), "ERR EPERM", 9));
	SVT_CHECK(system(SVT_BINDIR "/softverbs stop >/dev/null 2>&1") != 0);
}

static void peer_ud(struct svt_ep *e, const struct info *in, char *buf,
		    struct ibv_mr *mr)
{
	struct ibv_ah_attr aa = { .is_global = 1, .port_num = 1,
				  .grh = { .dgid = e->gid, .hop_limit = 1,
					   .sgid_index = (uint8_t)e->gid_index } };
	struct ibv_sge s = { (uintptr_t)buf, 32, mr->lkey };
	struct ibv_send_wr wr = { .sg_list = &s, .num_sge = 1,
				  .opcode = IBV_WR_SEND,
				  .send_flags = IBV_SEND_SIGNALED }, *bad;
	struct ibv_qp *qp = svt_ud_qp(e->pd, e->cq, QKEY, 4, 0);

	wr.wr.ud.ah = ibv_create_ah(e->pd, &aa);
	SVT_CHECK(wr.wr.ud.ah);
	wr.wr.ud.remote_qpn = in->u_qpn;
	wr.wr.ud.remote_qkey = QKEY;
	SVT_CHECK(!ibv_post_send(qp, &wr, &bad));
	(void)svt_poll1(e->cq); /* UD: sent, whatever became of it */
	SVT_CHECK(!ibv_destroy_qp(qp) && !ibv_destroy_ah(wr.wr.ud.ah));
}

static void peer(const struct passwd *pw, const char *rundir)
{
	static char buf[BUF];
	struct svt_ep a1, a2;
	struct ibv_sge s;
	struct ibv_mr *mr;
	struct info in;
	char c;

	close(to_peer[1]);
	close(to_root[0]);
	SVT_CHECK(!svt_become(pw));
	get(to_peer[0], &in, sizeof(in));
	svt_ep_open(&a1);
	a2.ctx = a1.ctx;
	a2.pd = a1.pd;
	a2.cq = NULL;
	svt_ep_make(&a2);
	put(to_root[1], &a2.qp->qp_num, 4);
	mr = ibv_reg_mr(a1.pd, buf, BUF, IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr);
	s = (struct ibv_sge){ (uintptr_t)buf, 64, mr->lkey };
	/* Aimed at V, which root connected to V0: refused. */
	svt_ep_connect(&a1, in.v_qpn);
	SVT_CHECK(svt_rdma(&a1, IBV_WR_RDMA_READ, &s, in.addr, in.rkey, 0, 0) !=
		  IBV_WC_SUCCESS);
	peer_ud(&a1, &in, buf, mr);
	/* Through W, which root connected to A2: allowed. */
	get(to_peer[0], &c, 1);
	svt_ep_connect(&a2, in.w_qpn);
	memset(buf, 0xab, 64);
	SVT_CHECK(svt_rdma(&a2, IBV_WR_RDMA_WRITE, &s, in.addr + 4096, in.rkey,
			   0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(svt_rdma(&a2, IBV_WR_RDMA_READ, &s, in.addr, in.rkey, 0, 0) ==
		  IBV_WC_SUCCESS);
	SVT_CHECK(buf[0] == 0x5a);
	peer_control(rundir);
	exit(SVT_PASS);
}

/* Root's side: everything the peer may aim at. */
struct victim {
	struct svt_ep v, v0, w;
	struct ibv_qp *u;
	struct ibv_mr *mr;
	uint8_t *buf;
};

static void victim_make(struct victim *x, struct info *in)
{
	int acc = IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_READ |
		  IBV_ACCESS_REMOTE_WRITE;
	struct ibv_sge s;
	struct ibv_recv_wr rw = { .sg_list = &s, .num_sge = 1 }, *bad;

	svt_ep_open(&x->v);
	x->v0 = x->v;
	x->v0.cq = NULL;
	svt_ep_make(&x->v0);
	x->w = x->v;
	x->w.cq = NULL;
	svt_ep_make(&x->w);
	x->buf = aligned_alloc(4096, BUF);
	SVT_CHECK(x->buf);
	memset(x->buf, 0x5a, BUF);
	x->mr = ibv_reg_mr(x->v.pd, x->buf, BUF, acc);
	SVT_CHECK(x->mr);
	svt_ep_connect(&x->v, x->v0.qp->qp_num);
	svt_ep_connect(&x->v0, x->v.qp->qp_num);
	x->u = svt_ud_qp(x->v0.pd, x->v0.cq, QKEY, 4, 0);
	s = (struct ibv_sge){ (uintptr_t)x->buf + 6000, 512, x->mr->lkey };
	SVT_CHECK(!ibv_post_recv(x->u, &rw, &bad));
	*in = (struct info){ x->v.qp->qp_num, x->w.qp->qp_num,
			     x->u->qp_num, x->mr->rkey, (uintptr_t)x->buf };
}

/* softverbs0's refused= count in the daemon's device list. */
static unsigned long refused_count(const char *rundir)
{
	char rep[1024];
	const char *p = strstr(ctl_ask(rundir, "dev list\n", rep, sizeof(rep)),
			       " refused=");

	SVT_CHECK(p);
	return strtoul(p + 9, NULL, 10);
}

static void victim_check(struct victim *x, struct svt_daemon *d)
{
	struct ibv_sge s = { (uintptr_t)x->buf + 100, 64, x->mr->lkey };
	struct ibv_wc wc;

	/* The RC READ (first try and retry) and the UD send were counted. */
	SVT_CHECK(refused_count(d->rundir) >= 2);

	for (int i = 0; i < BUF; i++)
		if (i < 4096 || i >= 4096 + 64)
			SVT_CHECK(x->buf[i] == 0x5a);
	SVT_CHECK(x->buf[4096] == 0xab); /* the consented write */
	SVT_CHECK(ibv_poll_cq(x->v0.cq, 1, &wc) == 0); /* no UD delivery */
	/* V was never moved to ERROR: it still works with its real peer. */
	SVT_CHECK(svt_rdma(&x->v, IBV_WR_RDMA_WRITE, &s, (uintptr_t)x->buf,
			   x->mr->rkey, 0, 0) == IBV_WC_SUCCESS);
	SVT_CHECK(kill(d->pid, 0) == 0);
	SVT_CHECK(svt_exists(d->rundir, "devices/softverbs0/sock"));
}

/* Under --cross-user=allow, the peer's UD send to root's U arrives. */
static void allowed_child(void)
{
	static const char *const args[] = { "--cross-user=allow", NULL };
	static char buf[BUF];
	struct svt_daemon d;
	struct victim x;
	struct passwd *pw = svt_xuser_start(&d, args);
	struct info in;
	struct ibv_wc wc;
	int status;
	pid_t pid;

	victim_make(&x, &in);
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid) {
		struct svt_ep a;
		struct ibv_mr *mr;

		SVT_CHECK(!svt_become(pw));
		svt_ep_open(&a);
		mr = ibv_reg_mr(a.pd, buf, BUF, IBV_ACCESS_LOCAL_WRITE);
		SVT_CHECK(mr);
		peer_ud(&a, &in, buf, mr);
		exit(SVT_PASS);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
	wc = svt_poll1(x.v0.cq);
	SVT_CHECK(wc.status == IBV_WC_SUCCESS && wc.opcode == IBV_WC_RECV);
	svt_daemon_stop(&d);
	exit(SVT_PASS);
}

static int allowed(void)
{
	int status;
	pid_t pid = fork();

	SVT_CHECK(pid >= 0);
	if (!pid)
		allowed_child();
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status));
	if (WEXITSTATUS(status) == SVT_PASS)
		printf("--cross-user=allow: the peer's UD send arrives\n");
	fflush(stdout); /* not again from the peer this process forks next */
	return WEXITSTATUS(status);
}

int main(void)
{
	struct svt_daemon d;
	struct victim x;
	struct passwd *pw;
	struct info in;
	char path[512], c;
	int status;
	pid_t pid;

	status = allowed();
	if (status != SVT_PASS)
		return status; /* 77: no second user here */
	pw = svt_xuser_start(&d, NULL);
	SVT_CHECK(!pipe(to_peer) && !pipe(to_root));
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (!pid)
		peer(pw, d.rundir);
	/* A failing peer must end our reads (EOF), not hang them. */
	close(to_peer[0]);
	close(to_root[1]);
	victim_make(&x, &in);
	put(to_peer[1], &in, sizeof(in));
	get(to_root[0], &in.v_qpn, 4); /* A2's number */
	svt_ep_connect(&x.w, in.v_qpn);
	put(to_peer[1], &c, 1);
	get(to_root[0], &c, 1);
	snprintf(path, sizeof(path), "%s/control.sock", d.rundir);
	SVT_CHECK(!chmod(path, 0666));
	put(to_peer[1], &c, 1);
	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
	victim_check(&x, &d);
	svt_daemon_stop(&d);
	printf("cross-user: refused without consent, allowed through it\n");
	return SVT_PASS;
}
