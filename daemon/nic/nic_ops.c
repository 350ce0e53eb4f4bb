// SPDX-License-Identifier: MIT
/*
 * The software NIC's side of verbs/svd_nic.h: the one table through which
 * the verbs objects reach the engine. Naming each function here makes a
 * missing hook a link error.
 */
#include "eng_db.h"
#include "engine.h"
#include "svd_nic.h"
#include "wire.h"

const struct svd_nic_ops svd_soft_nic_ops = {
	.quiesce = svd_engine_quiesce,
	.drain = svd_engine_drain,
	.qp_modified = svd_engine_qp_modified,
	.qp_send_out = svd_engine_qp_send_out,
	.ah_send_out = svd_engine_ah_send_out,
	.qp_destroy = svd_engine_qp_destroy,
	.srq_destroy = svd_engine_srq_destroy,
	.db_add = svd_engine_db_add,
	.db_del = svd_engine_db_del,
	.db_page_qps = svd_engine_db_page_qps,
	.port_changed = wire_port_changed,
	.port_gone = wire_port_gone,
};
