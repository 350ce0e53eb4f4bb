// SPDX-License-Identifier: MIT
/*
 * The direct path's SIGBUS guard (direct.h). A mapped region is a file
 * its owner may truncate: a copy past the new end raises SIGBUS in the
 * thread that copies -- here, the application's. While a direct copy runs
 * the thread names the mapping it touches; a SIGBUS inside it jumps back
 * and the copy fails (the work request then goes to the daemon, which
 * gives the daemon path's error). Any other SIGBUS goes to the handler the
 * process had before, or kills it as it would have. The handler is
 * installed the first time a region is mapped.
 */
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#include "direct.h"

static __thread sigjmp_buf *volatile guard_jb;
static __thread uintptr_t guard_lo, guard_hi;
static struct sigaction old_bus;

static void pass_on(int sig, siginfo_t *si, void *uc)
{
	if ((old_bus.sa_flags & SA_SIGINFO) && old_bus.sa_sigaction) {
		old_bus.sa_sigaction(sig, si, uc);
	} else if (old_bus.sa_handler == SIG_IGN) {
		return;
	} else if (old_bus.sa_handler != SIG_DFL) {
		old_bus.sa_handler(sig);
	} else {
		signal(sig, SIG_DFL);
		raise(sig);
	}
}

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	uintptr_t a = (uintptr_t)si->si_addr;
	sigjmp_buf *jb = guard_jb;

	if (jb && a >= guard_lo && a < guard_hi)
		siglongjmp(*jb, 1);
	pass_on(sig, si, uc);
}

static void guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bus_handler;
	/* NODEFER: the handler is left by longjmp. */
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
}

void svl_direct_guard_init(void)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;

	pthread_once(&once, guard_install);
}

ssize_t svl_direct_guarded(void *lo, size_t len, ssize_t (*fn)(void *),
			   void *arg)
{
	sigjmp_buf jb;
	ssize_t n;

	if (sigsetjmp(jb, 0)) {
		guard_jb = NULL;
		atomic_signal_fence(memory_order_seq_cst);
		return -1;
	}
	guard_lo = (uintptr_t)lo;
	guard_hi = guard_lo + len;
	atomic_signal_fence(memory_order_seq_cst);
	guard_jb = &jb;
	atomic_signal_fence(memory_order_seq_cst);
	n = fn(arg); /* out of line: a call the compiler cannot move */
	atomic_signal_fence(memory_order_seq_cst);
	guard_jb = NULL;
	atomic_signal_fence(memory_order_seq_cst);
	return n;
}
