// SPDX-License-Identifier: MIT
/*
 * Keeping the engine thread off the CPU of the process that feeds it.
 *
 * A process that streams work requests (ib_write_bw) is often pinned to
 * one CPU (perftest's own examples, taskset) and rings from there. A
 * doorbell's futex wake-up puts the engine on the CPU it last ran on, and
 * a real-time engine (eng_prio.c) that lands on the streamer's CPU stays
 * there: real-time placement never moves a running thread to an idle CPU
 * for the sake of a fair-class one. Then the engine, polling for the next
 * doorbell, holds the very CPU the next doorbell must come from:
 * measured on a 2-core VM, ib_write_bw -s 4096 on the daemon path at 57
 * MiB/s (one work request per 69 us, the streamer's CPU time a tenth of
 * its wall time), with the other CPU idle.
 *
 * So when the last STEER_AFTER doorbells all came from one CPU, that CPU
 * is left out of the engine's affinity (one sched_setaffinity, which
 * moves it at once), if the daemon's own mask leaves another. A ping-pong
 * rings from two CPUs by turns and never steers; when the rings stop
 * coming from one CPU for STEER_AFTER passes, the mask is whole again.
 * The CPU is the library's hint (struct sv_dbpage's ring_cpu): a wrong
 * one only moves the engine, and is checked against the mask.
 */
#include <string.h>

#include "eng_idle.h"

#define STEER_AFTER 64U /* doorbells from one CPU in a row */

void eng_steer_init(struct eng_steer *s)
{
	memset(s, 0, sizeof(*s));
	s->left_out = -1;
	s->last = -1;
	s->ok = !sched_getaffinity(0, sizeof(s->mask), &s->mask) &&
		CPU_COUNT(&s->mask) > 1;
}

static void steer_set(struct eng_steer *s, int left_out)
{
	cpu_set_t set;

	memcpy(&set, &s->mask, sizeof(set));
	if (left_out >= 0)
		CPU_CLR(left_out, &set);
	if (!sched_setaffinity(0, sizeof(set), &set))
		s->left_out = left_out;
}

void eng_steer_rang(struct eng_steer *s, uint32_t ring_cpu)
{
	int cpu = ring_cpu < CPU_SETSIZE ? (int)ring_cpu : -1;

	if (!s->ok)
		return;
	if (cpu < 0 || !CPU_ISSET(cpu, &s->mask) || cpu != s->last) {
		s->last = cpu;
		s->same = cpu >= 0; /* this doorbell is the first in a row */
		/* Rings from changing CPUs: no CPU is left out for long. */
		if (s->left_out >= 0 && ++s->mixed >= STEER_AFTER)
			steer_set(s, -1);
		return;
	}
	s->mixed = 0;
	if (++s->same >= STEER_AFTER && s->left_out != cpu)
		steer_set(s, cpu);
}
