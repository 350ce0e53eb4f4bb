// SPDX-License-Identifier: MIT
/*
 * bench_import: what a worker saves by importing a shared MR instead of
 * registering the memory again (seed 000's use case), as a ratio measured
 * in one run (docs/sharing.md).
 *
 * A primary process opens the device, allocates a PD and registers an MR
 * over a 1 GiB shared memory region (a memfd mapped MAP_SHARED), then
 * sends its command FD to a worker over a UNIX socket. The worker imports
 * the device and the PD once, then alternates, for each round:
 *
 *   import    ibv_import_mr(pd, handle)       (then ibv_unimport_mr)
 *   register  ibv_reg_mr(pd, region, 1 GiB)    (then ibv_dereg_mr)
 *
 * over the same region (the worker has it mapped too). Each figure is the
 * median over rounds; interleaving gives both the same load.
 *
 *   bench_import [-r ROUNDS] [-s SIZE]
 *
 * Run it under "softverbs run". Last line: RESULT = register time /
 * import time (how many times faster the import is).
 */
#define _GNU_SOURCE
#include <infiniband/verbs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench.h"

#define MAX_ROUNDS 1000

struct opts {
	int rounds;
	size_t size;
};

struct shared {
	uint32_t pd, mr;
};

static int send_fd(int sock, int fd, const struct shared *s)
{
	char cbuf[CMSG_SPACE(sizeof(int))] = { 0 };
	struct iovec iov = { (void *)s, sizeof(*s) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c = CMSG_FIRSTHDR(&mh);

	c->cmsg_level = SOL_SOCKET;
	c->cmsg_type = SCM_RIGHTS;
	c->cmsg_len = CMSG_LEN(sizeof(int));
	memcpy(CMSG_DATA(c), &fd, sizeof(int));
	return sendmsg(sock, &mh, 0) == (ssize_t)sizeof(*s) ? 0 : -1;
}

static int recv_fd(int sock, struct shared *s)
{
	char cbuf[CMSG_SPACE(sizeof(int))];
	struct iovec iov = { s, sizeof(*s) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1,
			     .msg_control = cbuf,
			     .msg_controllen = sizeof(cbuf) };
	struct cmsghdr *c;
	int fd;

	if (recvmsg(sock, &mh, 0) != (ssize_t)sizeof(*s))
		return -1;
	c = CMSG_FIRSTHDR(&mh);
	if (!c || c->cmsg_type != SCM_RIGHTS)
		return -1;
	memcpy(&fd, CMSG_DATA(c), sizeof(int));
	return fd;
}

/* Primary: register the region, hand over the FD, wait for the worker. */
static int primary(int sock, void *region, size_t size)
{
	struct ibv_device **list = ibv_get_device_list(NULL);
	struct ibv_context *ctx = list && list[0] ? ibv_open_device(list[0])
						  : NULL;
	struct ibv_pd *pd = ctx ? ibv_alloc_pd(ctx) : NULL;
	struct ibv_mr *mr;
	struct shared s;
	char x;

	if (!pd) {
		fprintf(stderr, "bench_import: no device (softverbs run?)\n");
		return -1;
	}
	mr = ibv_reg_mr(pd, region, size,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ);
	if (!mr) {
		perror("bench_import: ibv_reg_mr");
		return -1;
	}
	s = (struct shared){ pd->handle, mr->handle };
	if (send_fd(sock, ctx->cmd_fd, &s))
		return -1;
	return read(sock, &x, 1) == 1 ? 0 : -1;
}

/* One round: import + unimport, then register + deregister. */
static int round_once(struct ibv_pd *pd, const struct shared *s,
		      void *region, size_t size, double *imp, double *reg)
{
	uint64_t t0, t1;
	struct ibv_mr *mr;

	t0 = bench_now_ns();
	mr = ibv_import_mr(pd, s->mr);
	t1 = bench_now_ns();
	if (!mr)
		return -1;
	ibv_unimport_mr(mr);
	*imp = (double)(t1 - t0);
	t0 = bench_now_ns();
	mr = ibv_reg_mr(pd, region, size,
			IBV_ACCESS_LOCAL_WRITE | IBV_ACCESS_REMOTE_WRITE |
				IBV_ACCESS_REMOTE_READ);
	t1 = bench_now_ns();
	if (!mr)
		return -1;
	ibv_dereg_mr(mr);
	*reg = (double)(t1 - t0);
	return 0;
}

static int worker(int sock, void *region, const struct opts *o)
{
	static double imp[MAX_ROUNDS], reg[MAX_ROUNDS];
	struct ibv_context *ctx;
	struct ibv_pd *pd;
	struct shared s;
	double mi, mr;
	int fd, i;

	fd = recv_fd(sock, &s);
	ctx = fd < 0 ? NULL : ibv_import_device(fd);
	pd = ctx ? ibv_import_pd(ctx, s.pd) : NULL;
	if (!pd) {
		perror("bench_import: import");
		return -1;
	}
	for (i = 0; i < o->rounds; i++)
		if (round_once(pd, &s, region, o->size, &imp[i], &reg[i]))
			return -1;
	mi = bench_median(imp, (size_t)o->rounds);
	mr = bench_median(reg, (size_t)o->rounds);
	fprintf(stderr, "%zu MiB region, %d rounds: import %.1f us, "
		"register %.1f us\n", o->size >> 20, o->rounds, mi / 1e3,
		mr / 1e3);
	bench_result(mr / mi, "x");
	return write(sock, "x", 1) == 1 ? 0 : -1;
}

static int parse(int argc, char **argv, struct opts *o)
{
	int c;

	*o = (struct opts){ .rounds = 50, .size = 1UL << 30 };
	while ((c = getopt(argc, argv, "r:s:")) != -1) {
		if (c == 'r')
			o->rounds = atoi(optarg);
		else if (c != 's' || bench_parse_size(optarg, &o->size))
			return -1;
	}
	return o->rounds > 0 && o->rounds <= MAX_ROUNDS && o->size ? 0 : -1;
}

int main(int argc, char **argv)
{
	struct opts o;
	void *region;
	int sv[2], fd, st, ret;
	pid_t pid;

	if (parse(argc, argv, &o)) {
		fprintf(stderr, "usage: bench_import [-r ROUNDS] [-s SIZE]\n");
		return 2;
	}
	bench_watchdog(300);
	fd = memfd_create("bench-import", MFD_CLOEXEC);
	if (fd < 0 || ftruncate(fd, (off_t)o.size) ||
	    socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
		return 1;
	region = mmap(NULL, o.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	if (region == MAP_FAILED)
		return 1;
	pid = fork();
	if (pid < 0)
		return 1;
	if (pid == 0)
		_exit(worker(sv[1], region, &o) ? 1 : 0);
	ret = primary(sv[0], region, o.size);
	if (waitpid(pid, &st, 0) != pid || !WIFEXITED(st) ||
	    WEXITSTATUS(st))
		ret = -1;
	return ret ? 1 : 0;
}
