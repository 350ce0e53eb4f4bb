// SPDX-License-Identifier: MIT
/*
 * The fast control path (issue 17, docs/architecture.md) keeps every
 * property of the slow one:
 *   - ring pool: pages a destroyed QP gave back serve a new QP from zero
 *     (many create/connect/WRITE/destroy cycles, each QP posting past the
 *     ring's first lap);
 *   - fork: neither side carves new rings out of a chunk the other can
 *     see (each side's next QP lands in a memfd it did not have at fork),
 *     the child holds none of the parent's pool fds, and parent and child
 *     run commands on the shared context at the same time without
 *     taking each other's replies;
 *   - a posted RESET->INIT (not waited for) is seen by the next command
 *     (ibv_query_qp says INIT); one the daemon refuses after all (another
 *     process moved the QP meanwhile) fails the QP's next ibv_modify_qp;
 *   - SV_MSG_F_NO_IDENTITY: a command that says it names none of the
 *     sender's memory is refused a VA MR (EINVAL); without the flag the
 *     same registration works; SV_MSG_F_REPLY_HERE answers on the
 *     command socket itself.
 */
#include <dirent.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>

#include <softverbs/abi.h>

#include "svtest.h"
#include "svt_mem.h"

#define MAX_INO 64

/* Inodes of this process's "softverbs-ring" memfd mappings. */
static int ring_inodes(unsigned long *ino, int max)
{
	FILE *f = fopen("/proc/self/maps", "r");
	char line[512];
	int n = 0;

	SVT_CHECK(f);
	while (fgets(line, sizeof(line), f) && n < max) {
		unsigned long i;

		if (!strstr(line, "memfd:softverbs-ring") ||
		    sscanf(line, "%*s %*s %*s %*s %lu", &i) != 1)
			continue;
		ino[n++] = i;
	}
	fclose(f);
	return n;
}

static bool has_inode(const unsigned long *ino, int n, unsigned long i)
{
	while (n--)
		if (ino[n] == i)
			return true;
	return false;
}

/*
 * Does a QP created now land in a ring memfd this process did not map
 * before (its CQ, which has a memfd of its own, is made first)?
 */
static bool next_qp_in_new_memfd(struct ibv_context *ctx, struct ibv_pd *pd)
{
	unsigned long before[MAX_INO], after[MAX_INO];
	struct svt_ep e = { .ctx = ctx, .pd = pd };
	int nb, na, i;
	bool fresh = false;

	e.cq = ibv_create_cq(ctx, 16, NULL, NULL, 0);
	SVT_CHECK(e.cq);
	nb = ring_inodes(before, MAX_INO);
	svt_ep_make(&e);
	na = ring_inodes(after, MAX_INO);
	for (i = 0; i < na; i++)
		fresh |= !has_inode(before, nb, after[i]);
	SVT_CHECK(!ibv_destroy_qp(e.qp) && !ibv_destroy_cq(e.cq));
	return fresh;
}

/* Open fds of this process that are ring memfds. */
static int ring_fds(void)
{
	DIR *d = opendir("/proc/self/fd");
	struct dirent *de;
	char path[300], link[128];
	int n = 0;

	SVT_CHECK(d);
	while ((de = readdir(d))) {
		ssize_t l;

		snprintf(path, sizeof(path), "/proc/self/fd/%s", de->d_name);
		l = readlink(path, link, sizeof(link) - 1);
		if (l > 0) {
			link[l] = '\0';
			n += !!strstr(link, "memfd:softverbs-ring");
		}
	}
	closedir(d);
	return n;
}

/* Create, connect, WRITE past one lap of the SQ, check, destroy: n times. */
static void pool_cycles(struct ibv_context *ctx, struct ibv_pd *pd, int n)
{
	uint8_t *buf = calloc(1, 8192);
	struct ibv_mr *mr = ibv_reg_mr(pd, buf, 8192, SVT_ACCESS_ALL);
	struct svt_ep a, b;
	int i, k;

	SVT_CHECK(buf && mr);
	for (i = 0; i < n; i++) {
		struct ibv_sge s = svt_sge(buf, 64, mr->lkey);

		memset(buf, i + 1, 64);
		svt_mem_pair(ctx, pd, &a, NULL, &b);
		/* 70 WRITEs through a 64-entry SQ: indices must start at 0. */
		for (k = 0; k < 70; k++)
			SVT_CHECK(svt_rdma(&a, IBV_WR_RDMA_WRITE, &s,
					   (uintptr_t)buf + 4096 + 64 * (k % 8),
					   mr->rkey, 0, 0) == IBV_WC_SUCCESS);
		SVT_CHECK(!memcmp(buf, buf + 4096, 64));
		SVT_CHECK(!ibv_destroy_qp(a.qp) && !ibv_destroy_qp(b.qp));
		SVT_CHECK(!ibv_destroy_cq(a.cq) && !ibv_destroy_cq(b.cq));
	}
	SVT_CHECK(!ibv_dereg_mr(mr));
	free(buf);
	printf("ring pool: %d create/connect/70 WRITEs/destroy cycles\n", n);
}

static void query_many(struct ibv_context *ctx, int n)
{
	struct ibv_port_attr pa;

	while (n--)
		SVT_CHECK(!ibv_query_port(ctx, 1, &pa) &&
			  pa.state == IBV_PORT_ACTIVE);
}

static void fork_sides(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct svt_ep keep = { .ctx = ctx, .pd = pd };
	int status;
	pid_t pid;

	svt_ep_make(&keep); /* a chunk in use across the fork */
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (pid == 0) {
		bool ok = ring_fds() == 0 && next_qp_in_new_memfd(ctx, pd);

		query_many(ctx, 300);
		_exit(ok ? 0 : 1);
	}
	query_many(ctx, 300);
	SVT_CHECK(next_qp_in_new_memfd(ctx, pd));
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0);
	SVT_CHECK(!ibv_destroy_qp(keep.qp) && !ibv_destroy_cq(keep.cq));
	printf("fork: new rings on both sides in fresh memfds, no pool fd "
	       "in the child, concurrent commands\n");
}

static void modify_init(struct ibv_qp *qp, int expect)
{
	struct ibv_qp_attr a = { .qp_state = IBV_QPS_INIT, .port_num = 1,
				 .qp_access_flags = SVT_ACCESS_ALL };

	SVT_CHECK(ibv_modify_qp(qp, &a, IBV_QP_STATE | IBV_QP_PKEY_INDEX |
					    IBV_QP_PORT |
					    IBV_QP_ACCESS_FLAGS) == expect);
}

static enum ibv_qp_state qp_state(struct ibv_qp *qp)
{
	struct ibv_qp_init_attr init;
	struct ibv_qp_attr a;

	SVT_CHECK(!ibv_query_qp(qp, &a, IBV_QP_STATE, &init));
	return a.qp_state;
}

static void posted_init(struct ibv_context *ctx, struct ibv_pd *pd)
{
	struct ibv_qp_attr err = { .qp_state = IBV_QPS_ERR };
	struct svt_ep e = { .ctx = ctx, .pd = pd }, peer = e;
	int status;
	pid_t pid;

	svt_ep_make(&e);
	modify_init(e.qp, 0);
	SVT_CHECK(qp_state(e.qp) == IBV_QPS_INIT);
	SVT_CHECK(!ibv_destroy_qp(e.qp));
	/* Another process moves the QP to RTR behind the library's back. */
	svt_ep_make(&peer);
	e.qp = NULL;
	svt_ep_make(&e);
	pid = fork();
	SVT_CHECK(pid >= 0);
	if (pid == 0) {
		svt_ep_connect(&e, peer.qp->qp_num); /* INIT, RTR, RTS */
		_exit(qp_state(e.qp) == IBV_QPS_RTS ? 0 : 1);
	}
	SVT_CHECK(waitpid(pid, &status, 0) == pid && WIFEXITED(status) &&
		  WEXITSTATUS(status) == 0);
	modify_init(e.qp, 0); /* posted: RTS -> INIT, refused */
	SVT_CHECK(qp_state(e.qp) == IBV_QPS_RTS); /* reads that reply too */
	SVT_CHECK(ibv_modify_qp(e.qp, &err, IBV_QP_STATE) == EINVAL);
	SVT_CHECK(!ibv_modify_qp(e.qp, &err, IBV_QP_STATE)); /* said once */
	SVT_CHECK(!ibv_destroy_qp(e.qp) && !ibv_destroy_qp(peer.qp));
	SVT_CHECK(!ibv_destroy_cq(e.cq) && !ibv_destroy_cq(peer.cq));
	printf("posted RESET->INIT: seen by the next command; refused one "
	       "fails the next modify\n");
}

/* ---- the wire protocol, spoken directly ------------------------------ */

static int conn;
static uint64_t seq;

/*
 * One write() command with flags; the reply comes on the command socket
 * (SV_MSG_F_REPLY_HERE) or on a fresh reply socket.
 */
static int raw_cmd(uint32_t flags, const void *body, size_t len, void *rep,
		   size_t rlen)
{
	uint8_t buf[512], rbuf[4096];
	struct sv_msg_hdr *h = (void *)buf;
	struct sv_reply_hdr *rh = (void *)rbuf;
	char cb[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { buf, sizeof(*h) + len };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int sv[2] = { -1, -1 }, rfd = conn;
	ssize_t n;

	*h = (struct sv_msg_hdr){ .type = SV_MSG_WRITE,
				  .len = (uint32_t)(sizeof(*h) + len),
				  .seq = ++seq, .flags = flags };
	memcpy(h + 1, body, len);
	if (!(flags & SV_MSG_F_REPLY_HERE)) {
		struct cmsghdr *c;

		SVT_CHECK(!socketpair(AF_UNIX, SOCK_SEQPACKET, 0, sv));
		mh.msg_control = cb;
		mh.msg_controllen = sizeof(cb);
		c = CMSG_FIRSTHDR(&mh);
		c->cmsg_level = SOL_SOCKET;
		c->cmsg_type = SCM_RIGHTS;
		c->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(c), &sv[1], sizeof(int));
		h->nfds = 1;
		rfd = sv[0];
	}
	SVT_CHECK(sendmsg(conn, &mh, 0) == (ssize_t)h->len);
	n = recv(rfd, rbuf, sizeof(rbuf), 0);
	if (sv[0] >= 0) {
		close(sv[0]);
		close(sv[1]);
	}
	SVT_CHECK(n >= (ssize_t)sizeof(*rh) && rh->seq == seq);
	if (!rh->err && rep)
		memcpy(rep, rh + 1, rlen);
	return rh->err;
}

static uint32_t raw_context_pd(void)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_get_context c;
	} gc = { { IB_USER_VERBS_CMD_GET_CONTEXT, sizeof(gc) / 4,
		   (sizeof(struct ib_uverbs_get_context_resp) +
		    sizeof(struct sv_alloc_ucontext_resp)) / 4 } };
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_alloc_pd c;
	} ap = { { IB_USER_VERBS_CMD_ALLOC_PD, sizeof(ap) / 4,
		   sizeof(struct ib_uverbs_alloc_pd_resp) / 4 } };
	struct ib_uverbs_alloc_pd_resp pr = {};

	/* Here, the async fd is the only fd of the reply: dropped below. */
	SVT_CHECK(raw_cmd(SV_MSG_F_REPLY_HERE, &gc, sizeof(gc), NULL, 0) == 0);
	SVT_CHECK(raw_cmd(SV_MSG_F_REPLY_HERE, &ap, sizeof(ap), &pr,
			  sizeof(pr)) == 0);
	return pr.pd_handle;
}

static int raw_reg_mr(uint32_t flags, uint32_t pd, void *addr, size_t len)
{
	struct {
		struct ib_uverbs_cmd_hdr hdr;
		struct ib_uverbs_reg_mr c;
	} cmd = { { IB_USER_VERBS_CMD_REG_MR, sizeof(cmd) / 4,
		    sizeof(struct ib_uverbs_reg_mr_resp) / 4 } };

	cmd.c.start = cmd.c.hca_va = (uintptr_t)addr;
	cmd.c.length = len;
	cmd.c.pd_handle = pd;
	cmd.c.access_flags = IBV_ACCESS_LOCAL_WRITE;
	return raw_cmd(flags, &cmd, sizeof(cmd), NULL, 0);
}

static void identity_flag(const struct svt_daemon *d)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	void *buf = aligned_alloc(4096, 4096);
	uint32_t pd;

	SVT_CHECK(buf && strlen(d->rundir) + 30 < sizeof(sa.sun_path));
	memset(buf, 0, 4096);
	snprintf(sa.sun_path, sizeof(sa.sun_path),
		 "%s/devices/softverbs0/sock", d->rundir);
	conn = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	SVT_CHECK(conn >= 0 && !connect(conn, (void *)&sa, sizeof(sa)));
	pd = raw_context_pd();
	SVT_CHECK(raw_reg_mr(SV_MSG_F_NO_IDENTITY | SV_MSG_F_REPLY_HERE, pd,
			     buf, 4096) == -EINVAL);
	SVT_CHECK(raw_reg_mr(SV_MSG_F_NO_IDENTITY, pd, buf, 4096) == -EINVAL);
	SVT_CHECK(raw_reg_mr(SV_MSG_F_REPLY_HERE, pd, buf, 4096) == 0);
	SVT_CHECK(raw_reg_mr(0, pd, buf, 4096) == 0);
	close(conn);
	free(buf);
	printf("NO_IDENTITY: a VA MR is refused (EINVAL), registered "
	       "without it; REPLY_HERE answers on the command socket\n");
}

int main(void)
{
	struct svt_daemon d;
	struct ibv_context *ctx;
	struct ibv_pd *pd;

	setvbuf(stdout, NULL, _IONBF, 0);
	ctx = svt_start(&d);
	pd = ibv_alloc_pd(ctx);
	SVT_CHECK(pd);
	pool_cycles(ctx, pd, 40);
	fork_sides(ctx, pd);
	posted_init(ctx, pd);
	identity_flag(&d);
	SVT_CHECK(!ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(ctx));
	svt_daemon_stop(&d);
	return SVT_PASS;
}
