/* SPDX-License-Identifier: MIT */
/*
 * The engine's waiting policy (eng_idle.c): may it keep polling, or must it
 * sleep so that the applications get the cores?
 */
#ifndef ENG_IDLE_H
#define ENG_IDLE_H

#include <sched.h>
#include <stdbool.h>
#include <stdint.h>

struct eng_idle {
	int64_t last_work; /* ns: the last pass that found work */
	int64_t checked; /* ns: when free_core was last sampled */
	bool free_core; /* then: a CPU had no runnable thread to take */
	bool reply; /* the last work came from a process on the engine's CPU */
};

/* A pass found work at now (ns). */
void eng_idle_work(struct eng_idle *s, int64_t now);
/*
 * The work of that pass came from a process on the engine's own CPU
 * (reply: wait a moment for the answer it expects, eng_idle.c) or not.
 */
void eng_idle_reply(struct eng_idle *s, bool reply);

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
/* A CPU with nothing runnable on it: another thread woken now runs at
 * once instead of taking turns with a running one (mem_va_pair.c). */
bool eng_idle_core_spare(void);

/* The engine thread's CPUs: off a streaming ringer's (eng_steer.c). */
struct eng_steer {
	cpu_set_t mask; /* the thread's own affinity, at the start */
	bool ok; /* it has more than one CPU */
	int left_out; /* the CPU left out of it now, -1: none */
	int last; /* the CPU of the last doorbell */
	uint32_t same; /* doorbells from it in a row */
	uint32_t mixed; /* passes whose doorbell came from another CPU */
};

/* Call on the engine thread. */
void eng_steer_init(struct eng_steer *s);
/* A pass found work rung from ring_cpu (the library's hint). */
void eng_steer_rang(struct eng_steer *s, uint32_t ring_cpu);

/* The engine thread's scheduling class (eng_prio.c). */
enum eng_prio_mode {
	ENG_PRIO_DEFAULT, /* neither was allowed */
	ENG_PRIO_NICE, /* nice -10 */
	ENG_PRIO_RT, /* SCHED_FIFO for the start of each burst */
};

struct eng_prio {
	enum eng_prio_mode mode;
	int rt_prio; /* its SCHED_FIFO priority */
	bool fair; /* RT mode, in the fair class for the rest of a burst */
	int64_t since; /* ns: the wake-up that started this burst */
};

/* Give the calling thread the best class the daemon may (p->mode). */
void eng_prio_setup(struct eng_prio *p);
/* The thread woke at now (ns): a burst starts. */
void eng_prio_woke(struct eng_prio *p, int64_t now);
/* A pass did work at now (ns): past the burst's real time, go fair. */
void eng_prio_worked(struct eng_prio *p, int64_t now);
/* About to sleep: real time again for the next wake-up. */
void eng_prio_sleeping(struct eng_prio *p);
/*
 * The fair class now, whatever is left of the budget (nic/dd.c's worker
 * between the jobs of a long transfer); eng_prio_sleeping() makes the
 * thread real-time again.
 */
void eng_prio_drop(struct eng_prio *p);
/*
 * Is the calling thread real-time now (set by the calls above)? For
 * nic/dd.c: the data-direct worker takes the class its caller has.
 */
bool eng_prio_rt_now(void);
const char *eng_prio_name(enum eng_prio_mode m);

#endif
