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
 * Real time never means spinning on a core an application needs: the
 * engine polls only while a core is free (eng_idle.c), otherwise it works
 * and sleeps. Its work per wake-up is bounded (ENG_BUDGET steps per QP,
 * transfers cut into chunks), and the kernel's real-time throttling
 * (sched_rt_runtime_us, 95 % by default) leaves the rest of each period to
 * the fair class whatever a client posts. SCHED_RESET_ON_FORK keeps the
 * class from leaking into anything the daemon might spawn.
 *
 * SOFTVERBS_ENGINE_RT=0 in the daemon's environment skips the real-time
 * attempt (for comparisons, or a site policy against real-time threads).
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

static bool rt_wanted(void)
{
	const char *v = getenv("SOFTVERBS_ENGINE_RT");

	return !v || strcmp(v, "0");
}

/* The calling thread only (0 = the caller's tid on Linux). */
static bool set_fifo(void)
{
	struct sched_param sp = { .sched_priority = 1 };

	return !sched_setscheduler(0, SCHED_FIFO | SCHED_RESET_ON_FORK, &sp);
}

enum eng_prio eng_prio_setup(void)
{
	if (rt_wanted() && set_fifo())
		return ENG_PRIO_RT;
	/*
	 * A better nice value: on a loaded machine an engine at nice 0 gets
	 * one share among many and every hop waits for it (test_dp_fair's
	 * small WRITE took 16 ms beside a big one at load 20).
	 */
	if (!setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), -10))
		return ENG_PRIO_NICE;
	return ENG_PRIO_DEFAULT;
}

const char *eng_prio_name(enum eng_prio p)
{
	switch (p) {
	case ENG_PRIO_RT:
		return "SCHED_FIFO 1";
	case ENG_PRIO_NICE:
		return "nice -10";
	default:
		return "default";
	}
}
