// SPDX-License-Identifier: MIT
/*
 * The engine's CPU steering (daemon/nic/eng_steer.c), on this thread:
 *   1. 64 doorbells from one CPU leave that CPU out of the affinity, and
 *      the thread no longer runs there;
 *   2. doorbells from CPUs by turns (a ping-pong) give the whole mask back;
 *   3. hints out of range or outside the mask never steer;
 *   4. a thread with one CPU is never steered.
 * Exits 77 on a machine with one CPU.
 */
#include <stdio.h>
#include <stdlib.h>

#include "eng_idle.h"
#include "svt_unit.h"

static cpu_set_t mask_now(void)
{
	cpu_set_t m;

	REQUIRE(!sched_getaffinity(0, sizeof(m), &m));
	return m;
}

static void ring(struct eng_steer *s, uint32_t cpu, int n)
{
	while (n--)
		eng_steer_rang(s, cpu);
}

int main(void)
{
	cpu_set_t full = mask_now(), m, one;
	struct eng_steer s;
	int a = -1, b = -1, i;

	for (i = 0; i < CPU_SETSIZE; i++) {
		if (!CPU_ISSET(i, &full))
			continue;
		if (a < 0)
			a = i;
		else if (b < 0)
			b = i;
	}
	if (b < 0) {
		printf("skip: one CPU\n");
		return 77;
	}
	eng_steer_init(&s);
	/* 1 */
	ring(&s, (uint32_t)a, 63);
	REQUIRE(CPU_EQUAL(&full, (m = mask_now(), &m)));
	ring(&s, (uint32_t)a, 1);
	m = mask_now();
	REQUIRE(!CPU_ISSET(a, &m) && CPU_COUNT(&m) == CPU_COUNT(&full) - 1);
	sched_yield();
	REQUIRE(sched_getcpu() != a);
	/* 2 */
	for (i = 0; i < 64; i++)
		eng_steer_rang(&s, (uint32_t)(i & 1 ? a : b));
	REQUIRE(CPU_EQUAL(&full, (m = mask_now(), &m)));
	/* 3 */
	ring(&s, CPU_SETSIZE + 5, 200);
	ring(&s, UINT32_MAX, 200);
	REQUIRE(CPU_EQUAL(&full, (m = mask_now(), &m)));
	/* 4 */
	CPU_ZERO(&one);
	CPU_SET(b, &one);
	REQUIRE(!sched_setaffinity(0, sizeof(one), &one));
	eng_steer_init(&s);
	ring(&s, (uint32_t)b, 200);
	REQUIRE(CPU_EQUAL(&one, (m = mask_now(), &m)));
	printf("unit_eng_steer: ok (CPUs %d and %d)\n", a, b);
	return 0;
}
