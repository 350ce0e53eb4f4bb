/* SPDX-License-Identifier: MIT */
/*
 * Two processes joined by two pipes, for tests whose sides exchange
 * addresses and step signals. Include after svtest.h.
 */
#ifndef SVT_FORK_H
#define SVT_FORK_H

#include <sys/wait.h>
#include <unistd.h>

/*
 * Fork: the child's pid in the parent, 0 in the child. *out and *in are
 * this side's ends (write to the other side, read from it); each side
 * keeps only its own, so a death is EOF, not a hang.
 */
static inline pid_t svt_fork_pipes(int *out, int *in)
{
	int to_child[2], to_parent[2];
	pid_t pid;

	SVT_CHECK(!pipe(to_child) && !pipe(to_parent));
	pid = fork();
	SVT_CHECK(pid >= 0);
	close(pid ? to_child[0] : to_child[1]);
	close(pid ? to_parent[1] : to_parent[0]);
	*out = pid ? to_child[1] : to_parent[1];
	*in = pid ? to_parent[0] : to_child[0];
	return pid;
}

/* The parent's end: the child exited with SVT_PASS. */
static inline void svt_wait_pass(pid_t pid)
{
	int status;

	SVT_CHECK(waitpid(pid, &status, 0) == pid);
	SVT_CHECK(WIFEXITED(status) && WEXITSTATUS(status) == SVT_PASS);
}

#endif
