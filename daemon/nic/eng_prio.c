// SPDX-License-Identifier: MIT
/*
 * The engine thread's scheduling class.
 *
 * Every hop of the daemon path is a wake-up of the engine: the application
 * rings, the engine sleeps in futex_waitv (eng_sched.c), and on a machine
 * whose cores all run busy-polling applications the woken engine must
 * preempt one of them before the message moves. A fair-class thread only
 * preempts if the scheduler judges it owed time, and with autogroups its
 * nice value weighs only against the daemon's own threads; a real-time
 * thread preempts at once. So the engine asks for SCHED_FIFO at the lowest
 * real-time priority when the daemon may (root, CAP_SYS_NICE or
 * RLIMIT_RTPRIO), and falls back to nice -10, then to nothing.
 *
 * Real time only buys the wake-up, never the core:
 * - the engine polls only while a core is free (eng_idle.c); otherwise it
 *   works and sleeps;
 * - a burst of work is real-time for at most ENG_RT_BURST_NS after the
 *   wake-up. A longer one (a stream of large transfers keeps the engine
 *   busy for tens of ms: 128 WRs of 1 MiB) continues in the fair class at
 *   nice -10, and the thread is real-time again when it next sleeps.
 *   Without this a 4 GiB RDMA WRITE stream delayed ordinary threads on
 *   the engine's core by up to 65 ms (against 19 ms with a fair-class
 *   engine); the kernel's own real-time throttling (95 % of each second)
 *   is far too coarse to rely on.
 * SCHED_RESET_ON_FORK keeps the class from leaking into anything the
 * daemon might spawn.
 *
 * SOFTVERBS_ENGINE_RT in the daemon's environment: 0 skips the real-time
 * attempt (for comparisons, or a site policy against real-time threads),
 * 1-99 picks the priority (default 1, below every kernel thread).
 */
#define _GNU_SOURCE
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "eng_idle.h"

#ifndef SCHED_RESET_ON_FORK
#define SCHED_RESET_ON_FORK 0x40000000
#endif

#define ENG_RT_BURST_NS 1000000L /* real time per wake-up, at most */

/* SOFTVERBS_ENGINE_RT: 0 = fair class only, 1-99 = that priority. */
static int rt_priority(void)
{
	const char *v = getenv("SOFTVERBS_ENGINE_RT");
	char *end;
	long n;

	if (!v || !*v)
		return 1;
	n = strtol(v, &end, 10);
	if (*end || n < 0 || n > 99)
		return 1;
	return (int)n;
}

static __thread bool prio_rt; /* this thread is SCHED_FIFO now */

/* The calling thread only (0 = the caller's tid on Linux). */
static bool set_class(int policy, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	if (sched_setscheduler(0, policy | SCHED_RESET_ON_FORK, &sp))
		return false;
	prio_rt = policy == SCHED_FIFO;
	return true;
}

bool eng_prio_rt_now(void)
{
	return prio_rt;
}

void eng_prio_setup(struct eng_prio *p)
{
	/*
	 * nice -10 first (kept under SCHED_FIFO, used again when a long
	 * burst drops to the fair class): on a loaded machine an engine at
	 * nice 0 gets one share among many and every hop waits for it
	 * (test_dp_fair's small WRITE took 16 ms beside a big one at load
	 * 20).
	 */
	bool nice = !setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10);

	memset(p, 0, sizeof(*p));
	p->rt_prio = rt_priority();
	if (p->rt_prio && set_class(SCHED_FIFO, p->rt_prio))
		p->mode = ENG_PRIO_RT;
	else
		p->mode = nice ? ENG_PRIO_NICE : ENG_PRIO_DEFAULT;
}

void eng_prio_woke(struct eng_prio *p, int64_t now)
{
	p->since = now;
}

void eng_prio_worked(struct eng_prio *p, int64_t now)
{
	if (p->mode != ENG_PRIO_RT || p->fair ||
	    now - p->since < ENG_RT_BURST_NS)
		return;
	p->fair = set_class(SCHED_OTHER, 0);
}

void eng_prio_sleeping(struct eng_prio *p)
{
	if (p->fair)
		p->fair = !set_class(SCHED_FIFO, p->rt_prio);
}

void eng_prio_drop(struct eng_prio *p)
{
	if (p->mode == ENG_PRIO_RT && !p->fair)
		p->fair = set_class(SCHED_OTHER, 0);
}

const char *eng_prio_name(enum eng_prio_mode m)
{
	switch (m) {
	case ENG_PRIO_RT:
		return "SCHED_FIFO (bursts over 1 ms: nice -10)";
	case ENG_PRIO_NICE:
		return "nice -10";
	default:
		return "default";
	}
}
