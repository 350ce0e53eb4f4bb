// SPDX-License-Identifier: MIT
/*
 * For tests/wire_cm_resolve.sh: rdma_resolve_addr(NULL, ADDR, TIMEOUT_MS)
 * through softverbs' librdmacm, then prints the event it got, its status
 * and the milliseconds it took:  "ADDR_ERROR -110 503".
 * usage: cm_resolve ADDR TIMEOUT_MS     (exit 0 once an event came)
 */
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <rdma/rdma_cma.h>

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int main(int argc, char **argv)
{
	struct addrinfo hints = { .ai_flags = AI_NUMERICHOST }, *ai;
	struct rdma_event_channel *ch;
	struct rdma_cm_event *ev;
	struct rdma_cm_id *id;
	long t0;

	if (argc != 3 || getaddrinfo(argv[1], NULL, &hints, &ai)) {
		fprintf(stderr, "usage: cm_resolve ADDR TIMEOUT_MS\n");
		return 2;
	}
	ch = rdma_create_event_channel();
	if (!ch || rdma_create_id(ch, &id, NULL, RDMA_PS_TCP)) {
		perror("rdma_create_id");
		return 1;
	}
	t0 = now_ms();
	if (rdma_resolve_addr(id, NULL, ai->ai_addr, atoi(argv[2]))) {
		perror("rdma_resolve_addr");
		return 1;
	}
	if (rdma_get_cm_event(ch, &ev)) {
		perror("rdma_get_cm_event");
		return 1;
	}
	printf("%s %d %ld\n", rdma_event_str(ev->event) + strlen("RDMA_CM_EVENT_"),
	       ev->status, now_ms() - t0);
	rdma_ack_cm_event(ev);
	rdma_destroy_id(id);
	rdma_destroy_event_channel(ch);
	freeaddrinfo(ai);
	return 0;
}
