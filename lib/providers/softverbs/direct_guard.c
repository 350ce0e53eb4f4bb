// SPDX-License-Identifier: MIT
/*
 * The direct path's SIGBUS guard (direct.h). A mapped region is a file
 * its owner may truncate: a copy past the new end raises SIGBUS in the
 * thread that copies -- here, the application's.
 *
 * Each mapping the direct path copies through is registered here with a
 * fault word. A SIGBUS inside a registered mapping sets its word, then
 * puts private anonymous memory over the whole mapping and returns: the
 * faulting copy finishes, harmlessly, in memory of our own. The copier
 * reads the word after every copy and fails the copy when it is set (the
 * work request then goes to the daemon, which gives the daemon path's
 * error), and so does every later copy through that mapping. A copy
 * costs no set-up (no sigsetjmp, no thread-local state): one load after
 * it. The word is set before the mapping is replaced, so a copy that
 * touched the replacement reads it set.
 *
 * Any other SIGBUS goes to the handler the process had before, or kills
 * it as it would have. The handler is installed the first time a mapping
 * is registered.
 */
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>

#include "direct.h"

/* Mappings guarded at once; past that, regions stay on the daemon path. */
#define GUARDS 1024

struct gslot {
	_Atomic uintptr_t lo, hi;
	_Atomic(uint32_t *) word; /* NULL: free */
};

static struct gslot gslots[GUARDS];
static pthread_mutex_t gslots_lock = PTHREAD_MUTEX_INITIALIZER;
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

/* The guarded mapping holding a, replaced; false if a is in none. */
static bool patch(uintptr_t a)
{
	unsigned int i;

	for (i = 0; i < GUARDS; i++) {
		struct gslot *g = &gslots[i];
		uint32_t *w = atomic_load(&g->word);
		uintptr_t lo = atomic_load(&g->lo), hi = atomic_load(&g->hi);

		if (!w || a < lo || a >= hi)
			continue;
		atomic_store((_Atomic uint32_t *)w, 1);
		/* mmap is a bare system call: safe in a handler on Linux. */
		return mmap((void *)lo, hi - lo, PROT_READ | PROT_WRITE,
			    MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED |
				    MAP_NORESERVE,
			    -1, 0) != MAP_FAILED;
	}
	return false;
}

static void bus_handler(int sig, siginfo_t *si, void *uc)
{
	if (!patch((uintptr_t)si->si_addr))
		pass_on(sig, si, uc);
}

static void guard_install(void)
{
	struct sigaction sa;

	memset(&sa, 0, sizeof(sa));
	sa.sa_sigaction = bus_handler;
	sa.sa_flags = SA_SIGINFO;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGBUS, &sa, &old_bus);
}

int svl_direct_guard_add(void *lo, size_t len, uint32_t *word)
{
	static pthread_once_t once = PTHREAD_ONCE_INIT;
	int i, slot = -1;

	pthread_once(&once, guard_install);
	*word = 0;
	pthread_mutex_lock(&gslots_lock);
	for (i = 0; i < GUARDS && slot < 0; i++) {
		if (atomic_load(&gslots[i].word))
			continue;
		atomic_store(&gslots[i].lo, (uintptr_t)lo);
		atomic_store(&gslots[i].hi, (uintptr_t)lo + len);
		atomic_store(&gslots[i].word, word); /* published last */
		slot = i;
	}
	pthread_mutex_unlock(&gslots_lock);
	return slot;
}

void svl_direct_guard_del(int slot)
{
	if (slot < 0 || slot >= GUARDS)
		return;
	pthread_mutex_lock(&gslots_lock);
	atomic_store(&gslots[slot].word, NULL);
	pthread_mutex_unlock(&gslots_lock);
}
