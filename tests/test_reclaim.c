// SPDX-License-Identifier: MIT
/*
 * A client holding a PD, MR, CQ and QP is killed with SIGKILL: the daemon
 * must reclaim every object it held and keep serving other clients.
 * Object counts come from the daemon's control socket ("dev list").
 */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include <infiniband/verbs.h>

#include "svtest.h"

static struct svt_daemon d;

/* Ask the daemon for softverbs0's live contexts and objects. */
static int dev_counts(unsigned int *ctxs, unsigned int *objs)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	char buf[4096] = { 0 }, *p;
	ssize_t n, got = 0;
	int fd;

	if (strlen(d.rundir) + 14 >= sizeof(sa.sun_path))
		return -1;
	strcpy(sa.sun_path, d.rundir);
	strcat(sa.sun_path, "/control.sock");
	fd = socket(AF_UNIX, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		return -1;
	if (write(fd, "dev list\n", 9) != 9)
		return -1;
	while ((n = read(fd, buf + got, sizeof(buf) - 1 - got)) > 0)
		got += n;
	close(fd);
	p = strstr(buf, "softverbs0 ");
	if (!p || !(p = strstr(p, "contexts=")))
		return -1;
	return sscanf(p, "contexts=%u objects=%u", ctxs, objs) == 2 ? 0 : -1;
}

/* The victim: build one of each object, report ready, then wait to die. */
static void victim(int ready_fd)
{
	static char buf[1 << 16];
	struct ibv_qp_init_attr qa = {
		.qp_type = IBV_QPT_RC,
		.cap = { .max_send_wr = 16, .max_recv_wr = 16,
			 .max_send_sge = 1, .max_recv_sge = 1 },
	};
	struct ibv_context *c = svt_open_dev(NULL);
	struct ibv_pd *pd = c ? ibv_alloc_pd(c) : NULL;
	struct ibv_mr *mr = pd ? ibv_reg_mr(pd, buf, sizeof(buf),
					    IBV_ACCESS_LOCAL_WRITE) : NULL;
	struct ibv_cq *cq = c ? ibv_create_cq(c, 16, NULL, NULL, 0) : NULL;
	struct ibv_qp *qp;
	char ok;

	/* Never outlive a failed test. */
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	qa.send_cq = qa.recv_cq = cq;
	qp = (pd && cq) ? ibv_create_qp(pd, &qa) : NULL;
	ok = (mr && qp) ? 'y' : 'n';
	if (write(ready_fd, &ok, 1) != 1)
		_exit(1);
	for (;;)
		pause();
}

int main(void)
{
	unsigned int ctxs = 99, objs = 99, base_objs;
	struct ibv_context *mine;
	struct ibv_pd *pd;
	struct ibv_mr *mr;
	static char buf[4096];
	int p[2], i;
	pid_t pid;
	char ok = 0;

	mine = svt_start(&d);
	SVT_CHECK(mine != NULL);
	pd = ibv_alloc_pd(mine);
	SVT_CHECK(pd != NULL);
	SVT_CHECK(!dev_counts(&ctxs, &base_objs));

	SVT_CHECK(!pipe(p));
	pid = fork();
	if (!pid)
		victim(p[1]);
	close(p[1]); /* a victim that dies early gives EOF, not a hang */
	SVT_CHECK(read(p[0], &ok, 1) == 1 && ok == 'y');
	SVT_CHECK(!dev_counts(&ctxs, &objs));
	SVT_CHECK(ctxs == 2 && objs >= base_objs + 4);

	kill(pid, SIGKILL);
	waitpid(pid, NULL, 0);
	for (i = 0; i < 200; i++) {
		if (!dev_counts(&ctxs, &objs) && ctxs == 1 &&
		    objs == base_objs)
			break;
		usleep(10000);
	}
	printf("after SIGKILL: contexts=%u objects=%u (before: %u)\n", ctxs,
	       objs, base_objs);
	SVT_CHECK(ctxs == 1 && objs == base_objs);

	/* The survivor and new clients are still served. */
	mr = ibv_reg_mr(pd, buf, sizeof(buf), IBV_ACCESS_LOCAL_WRITE);
	SVT_CHECK(mr != NULL);
	SVT_CHECK(!ibv_dereg_mr(mr));
	SVT_CHECK(!ibv_dealloc_pd(pd));
	SVT_CHECK(!ibv_close_device(mine));
	mine = svt_open_dev(NULL);
	SVT_CHECK(mine && (pd = ibv_alloc_pd(mine)));
	SVT_CHECK(!ibv_dealloc_pd(pd) && !ibv_close_device(mine));
	svt_daemon_stop(&d);
	return 0;
}
