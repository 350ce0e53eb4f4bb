// SPDX-License-Identifier: MIT
/*
 * The object tree: every module's objects (with their methods) and legacy
 * write commands. Lookup is a linear scan; there are a few dozen entries
 * and commands are not on the data path.
 */
#include "svd.h"

extern const struct svd_module svd_mod_device;
extern const struct svd_module svd_mod_pd;
extern const struct svd_module svd_mod_xrcd;
extern const struct svd_module svd_mod_srq;
extern const struct svd_module svd_mod_srq_tm;
extern const struct svd_module svd_mod_qp;
extern const struct svd_module svd_mod_flow;
extern const struct svd_module svd_mod_wq;
extern const struct svd_module svd_mod_mw;
extern const struct svd_module svd_mod_mr;
extern const struct svd_module svd_mod_db;
extern const struct svd_module svd_mod_cq;
extern const struct svd_module svd_mod_ah;
extern const struct svd_module svd_mod_dm;
extern const struct svd_module svd_mod_dd;
extern const struct svd_module svd_mod_mcast;
extern const struct svd_module svd_mod_direct;
extern const struct svd_module svd_mod_direct_rx;

/* Modules are added here; a method not in any module is EPROTONOSUPPORT. */
static const struct svd_module *const svd_modules[] = {
	&svd_mod_device,
	&svd_mod_pd,
	&svd_mod_xrcd,
	&svd_mod_srq,
	&svd_mod_srq_tm,
	&svd_mod_qp,
	&svd_mod_flow,
	&svd_mod_wq,
	&svd_mod_mw,
	&svd_mod_mr,
	&svd_mod_db,
	&svd_mod_cq,
	&svd_mod_ah,
	&svd_mod_dm,
	&svd_mod_dd,
	&svd_mod_mcast,
	&svd_mod_direct,
	&svd_mod_direct_rx,
};

/*
 * Several modules may add methods to one object (the device object gets
 * core methods from verbs/std_device.c and driver-namespace ones from
 * others, e.g. verbs/std_db.c), so a method is searched across every
 * module's entry for that object.
 *
 * One extra module, for unit tests that declare their own methods.
 */
const struct svd_module *svd_tree_test_module;

static const struct svd_module *module_at(unsigned int i)
{
	if (i < SVD_ARRAY_SIZE(svd_modules))
		return svd_modules[i];
	return svd_tree_test_module;
}

#define for_each_module(i, m)                                                  \
	for (i = 0; i <= SVD_ARRAY_SIZE(svd_modules); i++)                     \
		if (((m) = module_at(i)))

const struct svd_method *svd_tree_find_method(uint16_t object_id,
					      uint16_t method_id)
{
	unsigned int i, j, k;

	const struct svd_module *m;

	for_each_module(i, m) {
		for (j = 0; j < m->nobjects; j++) {
			const struct svd_object *o = m->objects[j];

			if (o->id != object_id)
				continue;
			for (k = 0; k < o->nmethods; k++)
				if (o->methods[k]->id == method_id)
					return o->methods[k];
		}
	}
	return NULL;
}

const struct svd_write_cmd *svd_write_find(uint32_t cmd, bool ex)
{
	unsigned int i, j;

	const struct svd_module *m;

	for_each_module(i, m) {
		for (j = 0; j < m->nwrite_cmds; j++) {
			const struct svd_write_cmd *c = &m->write_cmds[j];

			if (c->cmd == cmd && c->ex == ex)
				return c;
		}
	}
	return NULL;
}
