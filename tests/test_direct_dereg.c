// SPDX-License-Identifier: MIT
/*
 * Issue 17: a region deregistered while the initiator streams direct
 * RDMA WRITEs into it. The target deregisters its MR and, as soon as
 * ibv_dereg_mr returns, fills the buffer with 0xee: that memory is no
 * longer the device's. The initiator keeps writing 0xab until a WRITE
 * fails; it must fail with IBV_WC_REM_ACCESS_ERR (the daemon path's
 * answer to an unknown rkey), and the buffer must still be all 0xee a
 * while later: no direct write landed after the deregistration.
 */
#include <infiniband/verbs.h>
#include <poll.h>

#include "svtest.h"
#include "svt_ep.h"
#include "svt_direct.h"

#define LEN (1 << 20)
#define CHUNK (64 * 1024)

static void target(struct svt_dx *x)
{
	svt_dx_open(x, LEN);
	svt_dx_link(x);
	svt_dx_dereg_midstream(x, LEN);
	svt_dx_close(x);
}

int main(void)
{
	struct svt_daemon d;
	struct svt_dx x = {};
	struct ibv_wc wc;
	unsigned long ok = 0;
	char c = 1;

	setenv("SOFTVERBS_DIRECT", "1", 1);
	SVT_CHECK(!svt_daemon_start(&d));
	svt_dx_fork(&x, target);
	svt_dx_open(&x, LEN);
	memset(x.buf, 0xab, LEN);
	svt_dx_link(&x);
	svt_dx_put(&x, &c, 1);
	for (;;) {
		svt_dx_post(&x, IBV_WR_RDMA_WRITE, 0, (ok * CHUNK) % LEN,
			    CHUNK, true);
		wc = svt_poll1(x.ep.cq);
		if (wc.status != IBV_WC_SUCCESS)
			break;
		ok++;
	}
	printf("%lu writes before the deregistration stopped them: %s\n", ok,
	       ibv_wc_status_str(wc.status));
	SVT_CHECK(wc.status == IBV_WC_REM_ACCESS_ERR);
	svt_dx_get(&x, &c, 1);
	svt_dx_put(&x, &c, 1);
	svt_dx_get(&x, &c, 1);
	SVT_CHECK(svt_dx_wait(&x) == SVT_PASS);
	svt_dx_close(&x);
	return SVT_PASS;
}
