/* SPDX-License-Identifier: MIT */
/*
 * The engine's waiting policy (eng_idle.c): may it keep polling, or must it
 * sleep so that the applications get the cores?
 */
#ifndef ENG_IDLE_H
#define ENG_IDLE_H

#include <stdbool.h>
#include <stdint.h>

struct eng_idle {
	int64_t last_work; /* ns: the last pass that found work */
	int64_t checked; /* ns: when free_core was last sampled */
	bool free_core; /* then: a CPU had no runnable thread to take */
};

/* A pass found work at now (ns). */
void eng_idle_work(struct eng_idle *s, int64_t now);

/*
 * No work in the last pass at now (ns); the next timer is due at
 * deadline. True: poll again (a core is free and work was recent or a
 * timer is close); false: sleep now.
 */
bool eng_idle_may_spin(struct eng_idle *s, int64_t now, int64_t deadline);

/* A short pause between two polling passes (no system call). */
void eng_idle_relax(void);

/*
 * Runnable threads in the system (the caller included) against online
 * CPUs: true if every runnable thread has a CPU of its own. Exposed for
 * the test of the policy.
 */
bool eng_idle_core_free(void);

/* The engine thread's scheduling class (eng_prio.c). */
enum eng_prio {
	ENG_PRIO_DEFAULT, /* neither was allowed */
	ENG_PRIO_NICE, /* nice -10 */
	ENG_PRIO_RT, /* SCHED_FIFO, lowest priority */
};

/* Give the calling thread the best class the daemon may; which one. */
enum eng_prio eng_prio_setup(void);
const char *eng_prio_name(enum eng_prio p);

#endif
