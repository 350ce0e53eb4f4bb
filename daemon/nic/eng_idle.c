// SPDX-License-Identifier: MIT
/*
 * When the engine may poll and when it must sleep.
 *
 * On a machine with few cores the engine competes with busy-polling
 * applications (perftest, UCX, MPI all spin on their CQ). An engine that
 * polls for work on a core such an application needs delays the very
 * application it serves: whatever it does there (spinning, sched_yield)
 * the application only runs when the scheduler takes the core back, a
 * slice later. So the engine polls after work only while a core is free,
 * i.e. while the kernel's count of runnable threads (the engine included)
 * does not exceed the online CPUs. Otherwise it sleeps in futex_waitv at
 * once: a doorbell then wakes it, and a waking thread preempts a polling
 * one promptly, which a spinning thread never does.
 *
 * One exception, whatever the count: when the work came from a process on
 * the engine's own CPU (the library writes its CPU beside the ring word),
 * that process is now preempted by the engine and typically waits for an
 * answer from a peer on another CPU (a ping-pong, a READ's requester).
 * If the answer is rung while the engine is still awake it costs nothing;
 * rung after it sleeps, it costs a futex wake across CPUs (about 20 us on
 * the 2-core CI VM, against 3 us on the same CPU). So the engine polls
 * for up to ENG_REPLY_NS more: the thread it delays is the one waiting,
 * and the bound is less than the wake-up it saves.
 *
 * The count is the 4th field of /proc/loadavg ("running/total"), the
 * instantaneous nr_running, about 1 us to read. It is sampled at most every
 * ENG_IDLE_RECHECK_NS while polling, and every ENG_IDLE_BUSY_NS once it
 * said no core was free.
 */
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "eng_idle.h"

#define ENG_SPIN_NS 50000L /* poll this long after the last work */
#define ENG_REPLY_NS 5000L /* wait this long for a reply to a local ringer */
#define ENG_IDLE_RECHECK_NS 5000L /* re-sample while polling */
#define ENG_IDLE_BUSY_NS 500000L /* re-sample after finding no core free */

static int loadavg_fd = -1;
static long ncpus = 1;
static pthread_once_t idle_once = PTHREAD_ONCE_INIT;

static void idle_init(void)
{
	long n = sysconf(_SC_NPROCESSORS_ONLN);

	ncpus = n > 0 ? n : 1;
	loadavg_fd = open("/proc/loadavg", O_RDONLY | O_CLOEXEC);
}

/* "0.52 0.58 0.59 3/467 12345": the 3. -1 if unreadable. */
static long runnable_threads(void)
{
	char buf[128], *p;
	ssize_t n;

	if (loadavg_fd < 0)
		return -1;
	n = pread(loadavg_fd, buf, sizeof(buf) - 1, 0);
	if (n <= 0)
		return -1;
	buf[n] = '\0';
	p = strchr(buf, '/');
	while (p && p > buf && p[-1] != ' ')
		p--;
	return p ? strtol(p, NULL, 10) : -1;
}

/* Runnable threads, at most ncpus + slack; 0 when unknown. */
static long runnable_now(long slack)
{
	long r;

	pthread_once(&idle_once, idle_init);
	r = runnable_threads();
	/* Unknown: assume the worst, sleeping is always correct. */
	return r > 0 && r <= ncpus + slack ? r : 0;
}

bool eng_idle_core_free(void)
{
	return runnable_now(0) > 0;
}

bool eng_idle_core_spare(void)
{
	return runnable_now(-1) > 0;
}

void eng_idle_work(struct eng_idle *s, int64_t now)
{
	s->last_work = now;
}

void eng_idle_reply(struct eng_idle *s, bool reply)
{
	s->reply = reply;
}

bool eng_idle_may_spin(struct eng_idle *s, int64_t now, int64_t deadline)
{
	if (s->reply && now - s->last_work < ENG_REPLY_NS)
		return true;
	if (now - s->last_work >= ENG_SPIN_NS && deadline - now >= ENG_SPIN_NS)
		return false; /* idle a while, no timer close: sleep */
	/*
	 * Polling: re-sample often, to leave a core as soon as someone wants
	 * it. Sleeping: the answer was "no core free" a moment ago, and
	 * reading it again (about 1 us of /proc formatting) would sit on the
	 * critical path of every wake-up, delaying the application the engine
	 * preempted. A core that frees up is noticed within ENG_IDLE_BUSY_NS.
	 */
	if (now - s->checked >= (s->free_core ? ENG_IDLE_RECHECK_NS :
						ENG_IDLE_BUSY_NS)) {
		s->free_core = eng_idle_core_free();
		s->checked = now;
	}
	return s->free_core;
}

void eng_idle_relax(void)
{
	int i;

	for (i = 0; i < 64; i++) {
#if defined(__x86_64__) || defined(__i386__)
		__builtin_ia32_pause();
#elif defined(__aarch64__)
		__asm__ __volatile__("yield");
#else
		__asm__ __volatile__("" ::: "memory");
#endif
	}
}
