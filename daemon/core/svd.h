/* SPDX-License-Identifier: MIT */
/*
 * softverbsd internals: devices, ufiles, ucontexts, uobjects and the
 * command framework (method tree, attribute specs, validator, bundles).
 *
 * Prefixes: svd_dev_* device model, svd_uobj_* handle table, svd_attr_*
 * attribute accessors for handlers, svd_umem_* buffers (seed 001),
 * svd_mem_* DMA, svd_eng_* data path engine.
 */
#ifndef SVD_H
#define SVD_H

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <softverbs/abi.h>

#define SVD_ARRAY_SIZE(a) (sizeof(a) / sizeof((a)[0]))

/* Kernel-style error pointers keep constructors to one return value. */
#define SVD_MAX_ERRNO 4095
static inline void *svd_err_ptr(long err)
{
	return (void *)err;
}
static inline long svd_ptr_err(const void *p)
{
	return (long)p;
}
static inline bool svd_is_err(const void *p)
{
	return (unsigned long)p >= (unsigned long)-SVD_MAX_ERRNO;
}

/* ---------------------------------------------------------------------- */
/* Devices                                                                 */
/* ---------------------------------------------------------------------- */

#define SVD_MAX_GIDS 16
#define SVD_NAME_MAX 64

struct svd_gid_entry {
	uint8_t gid[16];
	uint32_t gid_type; /* IB_UVERBS_GID_TYPE_* */
	uint32_t netdev_ifindex;
	bool valid;
};

struct svd_port {
	struct ib_uverbs_query_port_resp attr; /* kernel layout, as reported */
	struct svd_gid_entry gids[SVD_MAX_GIDS];
	/* Changes whenever gids[] does (every reply carries it: dev_gen). */
	uint32_t gid_gen;
	char netdev[SVD_NAME_MAX];
};

struct svd_nic_ops;

struct svd_device {
	char name[SVD_NAME_MAX];
	uint64_t node_guid;
	uint64_t sys_image_guid;
	struct ib_uverbs_query_device_resp attr; /* kernel layout */
	struct svd_port port; /* port 1: softverbs devices have one */
	int listen_fd; /* device socket in the runtime dir */
	char sock_path[256];
	uint32_t next_qpn; /* QP numbers are device-wide */
	uint32_t next_key; /* lkey/rkey index source */
	uint32_t max_db_pages;
	atomic_uint db_pages_used;
	_Atomic uint64_t dm_used; /* device memory bytes allocated (std_dm.c) */
	struct svd_dd *dd; /* data-direct DMA device (std_dd.c), or NULL */
	pthread_mutex_t lock; /* device-wide object maps (qpn, keys) */
	atomic_uint lock_wanted; /* commands blocked on lock (svd_dev_lock) */
	/* The NIC behind the device (verbs/svd_nic.h), set at creation. */
	const struct svd_nic_ops *nic;
	void *engine; /* struct svd_engine *, owned by nic/engine.c */
	void *wire; /* struct wire * (nic/wire.h): netdev devices only */
	void *ev_tag; /* main.c's epoll tag */
	/* Live counts, for "softverbs dev list" and the reclaim tests. */
	atomic_uint nr_ucontexts;
	atomic_uint nr_uobjects;
	uint32_t nr_qps; /* under lock: attr.max_qp is enforced */
	atomic_ulong pkts_refused; /* nic/xuser.c: policy or path refused */
	/* Raw Ethernet: steering rules (verbs/std_flow.c) and frame counts
	 * (nic/eng_raw.c), both under lock. */
	struct svd_flow *flows;
	uint64_t raw_tx_frames, raw_rx_frames, raw_rx_dropped;
	struct svd_device *next;
};

/*
 * dev->lock for a command (core/devlock.c). A waiter says so, and the
 * engine hands the lock over between two units of work (nic/eng_qp.c)
 * instead of taking it straight back: glibc's mutex lets the unlocking
 * thread win again, and an engine busy with a large transfer kept a
 * reg_mr waiting for tens of milliseconds, one 64 KiB piece at a time.
 */
void svd_dev_lock_contended(struct svd_device *dev);

static inline void svd_dev_lock(struct svd_device *dev)
{
	if (pthread_mutex_trylock(&dev->lock))
		svd_dev_lock_contended(dev);
}

/* Port link layers (IB_LINK_LAYER_*). */
#define SVD_LINK_IB 1
#define SVD_LINK_ETH 2
/* The daemon is the subnet manager of its IB ports; LIDs start above it. */
#define SVD_SM_LID 1
#define SVD_MAX_UCAST_LID 0xbfff

/* Device model (device.c); the fact files are written by sysfs.c. */
struct svd_device *svd_dev_create(const char *name, const char *netdev,
				  bool ib);
int svd_dev_assign_lid(struct svd_device *dev,
		       const struct svd_device *others);
bool svd_dev_addr_is_local(const struct svd_device *dev, uint16_t dlid,
			   const uint8_t *dgid);
void svd_dev_destroy(struct svd_device *dev);
int svd_dev_write_facts(const struct svd_device *dev, const char *rundir);
void svd_dev_remove_facts(const struct svd_device *dev, const char *rundir);
int svd_dev_refresh_gids(struct svd_device *dev);
/* Devices bound to interfaces follow their addresses (verbs/netdev.c). */
int svd_netdev_open(void);
bool svd_netdev_event(int fd);
int svd_netdev_refresh(struct svd_device *dev);

/* The daemon's device list (main.c). */
struct svd_device *svd_devices(void);
int svd_daemon_dev_add(const char *name, const char *netdev, bool ib);
int svd_daemon_dev_del(const char *name);
const char *svd_rundir(void);

/* ---------------------------------------------------------------------- */
/* ufiles and ucontexts                                                    */
/* ---------------------------------------------------------------------- */

struct svd_uobj;
struct svd_obj_type;

/* One connection on a device socket: the command FD's daemon end. */
struct svd_ufile {
	struct svd_device *dev;
	int fd;
	pid_t creator_pid; /* SO_PEERCRED at connect */
	uid_t uid;
	struct svd_ucontext *uctx; /* NULL until GET_CONTEXT */
	void *ev_tag; /* main.c's epoll tag */
	atomic_uint *charge; /* per-user connection count (svd_limits.h) */
	bool pidfd_on; /* SO_PASSPIDFD set now (ufile.c) */
	bool pidfd_known; /* the kernel has SO_PASSPIDFD */
};

struct svd_ucontext {
	struct svd_device *dev;
	struct svd_ufile *ufile;
	pthread_mutex_t lock; /* handle table */
	struct svd_uobj **handles; /* handle -> uobj, NULL = free */
	uint32_t nhandles; /* capacity of handles[] */
	int async_fd; /* daemon end of the async event socket, or -1 */
	bool closing; /* teardown in progress: no new objects */
	atomic_uint *charge; /* per-user context count (svd_limits.h) */
};

struct svd_ucontext *svd_uctx_create(struct svd_ufile *ufile);
/* Destroy every object in dependency order, then the context. */
void svd_uctx_destroy(struct svd_ucontext *uctx);
/* Queue an async event (struct ib_uverbs_async_event_desc) to the client. */
void svd_uctx_async_event(struct svd_ucontext *uctx, uint64_t element,
			  uint32_t event_type);

/* ---------------------------------------------------------------------- */
/* uobjects                                                                */
/* ---------------------------------------------------------------------- */

enum svd_lookup {
	SVD_LOOKUP_READ, /* shared: many readers */
	SVD_LOOKUP_WRITE, /* exclusive */
	SVD_LOOKUP_DESTROY, /* exclusive, then removed */
};

enum svd_remove_reason {
	SVD_REMOVE_DESTROY, /* the user asked */
	SVD_REMOVE_CLOSE, /* the context is going away */
	SVD_REMOVE_ABORT, /* creation failed after reserve */
};

/*
 * Teardown at context close runs in increasing order, so dependents go
 * before what they depend on.
 */
enum svd_destroy_order {
	SVD_ORDER_FLOW = 0, /* a flow steers to its QP */
	SVD_ORDER_QP = 1, /* a QP holds PD, CQs, SRQ, XRCD */
	SVD_ORDER_SRQ_MW_AH = 2, /* SRQs hold CQ, PD; MWs are bound to MRs */
	SVD_ORDER_MR = 3,
	SVD_ORDER_CQ_XRCD_DM = 4, /* a DM outlives the MRs on it */
	SVD_ORDER_PD = 5,
	SVD_ORDER_CHANNEL = 6, /* completion channels, after their CQs */
	SVD_ORDER_DB_PAGE = 7, /* rung by QPs, SRQs and CQs */
	SVD_ORDER_ASYNC_FD = 9, /* events may be raised until the end */
};

/* Object type: how to free it and where it goes in teardown order. */
struct svd_obj_type {
	const char *name;
	uint16_t uapi_id; /* UVERBS_OBJECT_* */
	int destroy_order; /* enum svd_destroy_order */
	bool is_fd; /* FD objects are found by inode, not handle */
	/*
	 * Free the object's resources. With SVD_REMOVE_DESTROY it may refuse
	 * with -EBUSY (e.g. a PD still used by QPs); with CLOSE/ABORT it must
	 * succeed.
	 */
	int (*destroy)(struct svd_uobj *uobj, enum svd_remove_reason why);
	/*
	 * Types whose destroy answers (CQ, QP, SRQ report the events they
	 * raised): fill the kernel's destroy response, at most
	 * SVD_DESTROY_RESP_MAX bytes, from the object about to go.
	 */
	void (*destroy_resp)(const struct svd_uobj *uobj, void *resp);
};

#define SVD_DESTROY_RESP_MAX 16

/*
 * Define svd_type_<name> (the kernel's UVERBS_TYPE_ALLOC_IDR/_FD): an
 * object found by handle, or an FD object found by the inode of the
 * client's end.
 */
#define SVD_DECLARE_IDR_TYPE(_name, _uapi_id, _order, _destroy)                \
	const struct svd_obj_type svd_type_##_name = {                         \
		.name = #_name, .uapi_id = (_uapi_id),                         \
		.destroy_order = (_order), .destroy = (_destroy)               \
	}
#define SVD_DECLARE_IDR_TYPE_RESP(_name, _uapi_id, _order, _destroy, _resp)    \
	const struct svd_obj_type svd_type_##_name = {                         \
		.name = #_name, .uapi_id = (_uapi_id),                         \
		.destroy_order = (_order), .destroy = (_destroy),              \
		.destroy_resp = (_resp)                                        \
	}
#define SVD_DECLARE_FD_TYPE(_name, _uapi_id, _order, _destroy)                 \
	const struct svd_obj_type svd_type_##_name = {                         \
		.name = #_name, .uapi_id = (_uapi_id),                         \
		.destroy_order = (_order), .is_fd = true,                      \
		.destroy = (_destroy)                                          \
	}

/*
 * For destroy(): the kernel refuses to destroy an object others still use
 * (-EBUSY), but a closing context frees everything.
 */
static inline bool svd_destroy_busy(enum svd_remove_reason why,
				    atomic_int *usecnt)
{
	return why == SVD_REMOVE_DESTROY && atomic_load(usecnt);
}

struct svd_uobj {
	const struct svd_obj_type *type;
	struct svd_ucontext *uctx;
	struct svd_device *dev; /* outlives uctx for late puts */
	uint32_t handle;
	/* Try-lock count: >0 readers, -1 one writer/destroyer. */
	atomic_int usecnt;
	/* Lifetime: the table holds one reference, lookups and the engine more. */
	atomic_int refcnt;
	bool committed;
	void *object; /* the verbs object (struct svd_pd, ...) */
	uint64_t user_handle; /* the library's cookie (events, CQEs) */
	/* FD objects: the daemon's end and the inode of the client's end. */
	int fd;
	uint64_t peer_ino;
	atomic_uint *charge; /* per-user count, or NULL (svd_limits.h) */
};

/* Reserve a handle for a new object; it is invisible until committed. */
struct svd_uobj *svd_uobj_alloc(struct svd_ucontext *uctx,
				const struct svd_obj_type *type);
void svd_uobj_commit(struct svd_uobj *uobj);
/* Release the reservation (the handler failed). */
void svd_uobj_abort(struct svd_uobj *uobj);
/* Look up by handle and type, taking the try-lock; ERR_PTR on failure. */
struct svd_uobj *svd_uobj_lookup(struct svd_ucontext *uctx,
				 const struct svd_obj_type *type,
				 uint32_t handle, enum svd_lookup mode);
/* Find an FD object from an fd the client sent (matches by inode). */
struct svd_uobj *svd_uobj_lookup_fd(struct svd_ucontext *uctx,
				    const struct svd_obj_type *type, int fd,
				    enum svd_lookup mode);
void svd_uobj_unlock(struct svd_uobj *uobj, enum svd_lookup mode);
/* Destroy a looked-up (DESTROY mode) object; on -EBUSY it stays. */
int svd_uobj_remove(struct svd_uobj *uobj);
void svd_uobj_get(struct svd_uobj *uobj);
void svd_uobj_put(struct svd_uobj *uobj);

/* ---------------------------------------------------------------------- */
/* Method tree and attribute specs                                         */
/* ---------------------------------------------------------------------- */

enum svd_attr_type {
	SVD_ATTR_PTR_IN,
	SVD_ATTR_PTR_OUT,
	SVD_ATTR_IDR,
	SVD_ATTR_FD,
	SVD_ATTR_ENUM_IN,
	SVD_ATTR_CONST_IN, /* an integer inline in data, range checked */
	SVD_ATTR_FLAGS_IN, /* u32/u64 bitmask, unknown bits rejected */
	SVD_ATTR_IDRS_ARRAY,
};

enum svd_access {
	SVD_ACCESS_READ = SVD_LOOKUP_READ,
	SVD_ACCESS_WRITE = SVD_LOOKUP_WRITE,
	SVD_ACCESS_DESTROY = SVD_LOOKUP_DESTROY,
	SVD_ACCESS_NEW,
};

/* Whether a method needs an attribute (the kernel's UA_MANDATORY/OPTIONAL). */
enum svd_presence {
	SVD_OPTIONAL = 0,
	SVD_MANDATORY = 1,
};

struct svd_attr_spec {
	uint16_t id;
	uint8_t type; /* enum svd_attr_type */
	bool mandatory; /* enum svd_presence */
	/*
	 * PTR: the length the handler knows (min_len..len). A longer input is
	 * accepted only if the extra bytes are zero (forward compatibility);
	 * a shorter one is -EINVAL. len == 0 with min_len means "at least".
	 */
	uint16_t min_len;
	uint16_t len;
	bool min_sz_only; /* PTR_IN: any length >= min_len, no zero check */
	uint8_t access; /* IDR/FD: enum svd_access */
	const struct svd_obj_type *obj; /* IDR/FD: expected type */
	uint64_t max_value; /* CONST/ENUM: highest allowed; FLAGS: mask */
};

struct svd_bundle;
typedef int (*svd_handler_t)(struct svd_bundle *b);

/* What a method accepts beyond its own attribute specs. */
enum svd_method_flags {
	SVD_METHOD_NO_UCTX = 1 << 0, /* runs before GET_CONTEXT */
	SVD_METHOD_UHW = 1 << 1, /* UVERBS_ATTR_UHW_IN/OUT (driver data) */
	SVD_METHOD_BUFFERS = 1 << 2, /* SV_ATTR_BUFFERS, UMEM slots (seed 001) */
};

struct svd_method {
	uint16_t id;
	svd_handler_t handler;
	const struct svd_attr_spec *attrs;
	uint8_t nattrs;
	uint8_t flags; /* enum svd_method_flags */
};

struct svd_object {
	uint16_t id;
	const struct svd_obj_type *type; /* NULL for DEVICE */
	const struct svd_method *const *methods;
	uint8_t nmethods;
};

/* A field pair (array, count) from a list: a file-scope compound literal. */
#define SVD_ARRAY_FIELD(_field, _count, _type, ...)                            \
	._field = (_type[]){ __VA_ARGS__ },                                    \
	._count = SVD_ARRAY_SIZE(((_type[]){ __VA_ARGS__ }))

/* clang-format off */
/* Declare attribute specs tersely; see docs/adding-a-verb.md. */
#define SVD_ATTR_PTR_(_kind, _id, _presence, _min, _len, _at_least)            \
	{ .id = (_id), .type = (_kind), .mandatory = (_presence),              \
	  .min_len = (_min), .len = (_len), .min_sz_only = (_at_least) }
#define SVD_ATTR_PTR_IN(_id, _type, _presence)                                 \
	SVD_ATTR_PTR_(SVD_ATTR_PTR_IN, _id, _presence, sizeof(_type),          \
		      sizeof(_type), false)
#define SVD_ATTR_PTR_IN_MIN(_id, _min, _presence)                              \
	SVD_ATTR_PTR_(SVD_ATTR_PTR_IN, _id, _presence, _min, 0, true)
#define SVD_ATTR_PTR_OUT(_id, _type, _presence)                                \
	SVD_ATTR_PTR_(SVD_ATTR_PTR_OUT, _id, _presence, sizeof(_type),         \
		      sizeof(_type), false)
#define SVD_ATTR_PTR_OUT_MIN(_id, _min, _presence)                             \
	SVD_ATTR_PTR_(SVD_ATTR_PTR_OUT, _id, _presence, _min, 0, true)
/* A handle (IDR) or an fd object (FD, matched by inode; NULL type: raw). */
#define SVD_ATTR_OBJ_(_kind, _id, _objtype, _access, _presence)                \
	{ .id = (_id), .type = (_kind), .mandatory = (_presence),              \
	  .access = (_access), .obj = (_objtype) }
#define SVD_ATTR_IDR(_id, _objtype, _access, _presence)                        \
	SVD_ATTR_OBJ_(SVD_ATTR_IDR, _id, _objtype, _access, _presence)
#define SVD_ATTR_FD(_id, _objtype, _access, _presence)                         \
	SVD_ATTR_OBJ_(SVD_ATTR_FD, _id, _objtype, _access, _presence)
/* Inline values: max_value is the highest CONST/ENUM, the FLAGS mask. */
#define SVD_ATTR_VAL_(_kind, _id, _max, _presence)                             \
	{ .id = (_id), .type = (_kind), .mandatory = (_presence),              \
	  .max_value = (_max) }
#define SVD_ATTR_CONST_IN(_id, _max, _presence)                                \
	SVD_ATTR_VAL_(SVD_ATTR_CONST_IN, _id, _max, _presence)
#define SVD_ATTR_ENUM_IN(_id, _max, _presence)                                 \
	SVD_ATTR_VAL_(SVD_ATTR_ENUM_IN, _id, _max, _presence)
#define SVD_ATTR_FLAGS_IN(_id, _mask, _presence)                               \
	SVD_ATTR_VAL_(SVD_ATTR_FLAGS_IN, _id, _mask, _presence)

/*
 * Declare a method right after its handler, as the kernel writes
 * UVERBS_HANDLER() followed by DECLARE_UVERBS_NAMED_METHOD():
 *
 *	static int pd_method_query(struct svd_bundle *b) { ... }
 *	SVD_DECLARE_METHOD(SV_METHOD_PD_QUERY, pd_method_query,
 *		SVD_ATTR_IDR(SV_ATTR_PD_QUERY_HANDLE, &svd_type_pd,
 *			     SVD_ACCESS_READ, SVD_MANDATORY),
 *		...);
 *
 * It defines svd_method_<ID> (so ids must be enum constants, not macros),
 * which an object lists with SVD_METHOD_REF(). The _FLAGS form adds enum
 * svd_method_flags.
 */
#define SVD_DECLARE_METHOD_FLAGS(_id, _handler, _flags, ...)                   \
	static const struct svd_attr_spec svd_attrs_##_id[] = { __VA_ARGS__ }; \
	static const struct svd_method svd_method_##_id = {                    \
		.id = (_id), .handler = (_handler), .attrs = svd_attrs_##_id,  \
		.nattrs = SVD_ARRAY_SIZE(svd_attrs_##_id), .flags = (_flags)   \
	}
#define SVD_DECLARE_METHOD(_id, _handler, ...)                                 \
	SVD_DECLARE_METHOD_FLAGS(_id, _handler, 0, __VA_ARGS__)

/*
 * A destroy method whose only attribute is the object to destroy (the
 * kernel's DECLARE_UVERBS_NAMED_METHOD_DESTROY): the generic handler
 * removes it, refusing with EBUSY while the type's destroy() does.
 */
int svd_destroy_def_handler(struct svd_bundle *b);
#define SVD_DECLARE_METHOD_DESTROY(_id, _attr_id, _objtype)                    \
	SVD_DECLARE_METHOD(_id, svd_destroy_def_handler,                       \
			   SVD_ATTR_IDR(_attr_id, _objtype,                    \
					SVD_ACCESS_DESTROY, SVD_MANDATORY))

/*
 * The same for a destroy that answers: the response attribute gets what
 * the type's destroy_resp() filled in before the object went.
 */
int svd_destroy_resp_handler(struct svd_bundle *b);
#define SVD_DECLARE_METHOD_DESTROY_RESP(_id, _attr_id, _objtype, _resp_id,     \
					_resp_type)                            \
	SVD_DECLARE_METHOD(_id, svd_destroy_resp_handler,                      \
			   SVD_ATTR_IDR(_attr_id, _objtype,                    \
					SVD_ACCESS_DESTROY, SVD_MANDATORY),    \
			   SVD_ATTR_PTR_OUT(_resp_id, _resp_type,              \
					    SVD_MANDATORY))

#define SVD_METHOD_REF(_id) (&svd_method_##_id)

/* An object and the methods this module gives it (SVD_METHOD_REF()s). */
#define SVD_OBJECT(_id, _objtype, ...)                                         \
	(&(const struct svd_object){                                           \
		.id = (_id), .type = (_objtype),                               \
		SVD_ARRAY_FIELD(methods, nmethods,                             \
				const struct svd_method *const, __VA_ARGS__) })
/* clang-format on */

/*
 * A module (one file, one prefix) contributes objects with their ioctl
 * methods and legacy write commands; tree.c lists the modules:
 *
 *	const struct svd_module svd_mod_pd = {
 *		.name = "pd",
 *		SVD_OBJECTS(SVD_OBJECT(UVERBS_OBJECT_PD, &svd_type_pd, ...)),
 *		SVD_WRITE_CMDS(SVD_WRITE(...), ...),
 *	};
 */
struct svd_write_cmd;
struct svd_module {
	const char *name;
	const struct svd_object *const *objects;
	unsigned int nobjects;
	const struct svd_write_cmd *write_cmds;
	unsigned int nwrite_cmds;
};

#define SVD_OBJECTS(...)                                                       \
	SVD_ARRAY_FIELD(objects, nobjects, const struct svd_object *const,     \
			__VA_ARGS__)
#define SVD_WRITE_CMDS(...)                                                    \
	SVD_ARRAY_FIELD(write_cmds, nwrite_cmds, const struct svd_write_cmd,   \
			__VA_ARGS__)

/* The tree: every object of every module (tree.c). */
extern const struct svd_module *svd_tree_test_module;
const struct svd_method *svd_tree_find_method(uint16_t object_id,
					      uint16_t method_id);

/* ---------------------------------------------------------------------- */
/* Bundles: what a handler sees                                            */
/* ---------------------------------------------------------------------- */

#define SVD_MAX_ATTRS 32

struct svd_attr {
	bool present;
	uint16_t flags; /* UVERBS_ATTR_F_* from the user */
	uint16_t len;
	const void *in; /* PTR_IN bytes (inline ones point into 'data') */
	uint64_t data; /* inline value: CONST, FLAGS, small PTR_IN */
	uint8_t enum_id;
	struct svd_uobj *uobj; /* IDR/FD, locked per spec access */
	int fd; /* FD attr: the received fd (owned by the bundle) */
	/* PTR_OUT: where the reply bytes go. */
	uint16_t out_room;
	uint16_t out_len;
	uint32_t out_off;
	bool out_valid;
};

struct svd_umem_list;

struct svd_bundle {
	struct svd_ufile *ufile;
	struct svd_ucontext *uctx;
	struct svd_device *dev;
	const struct svd_method *method;
	const struct svd_write_cmd *write_cmd; /* write path only */
	pid_t pid; /* the sender, from SCM_CREDENTIALS */
	uid_t uid;
	gid_t gid;
	int pidfd; /* the sender, from SCM_PIDFD (-1 if the kernel has none) */
	/* SV_MSG_F_NO_IDENTITY: the command may not reach the sender's memory */
	bool no_identity;
	bool reply_here; /* SV_MSG_F_REPLY_HERE: reply on ufile->fd */
	/* The ring file mapping this command used last, and its fd + 1 */
	struct svd_umem_share *share;
	int share_fd1;
	/* Received fds; slot 0 is the reply socket. Unused ones are closed. */
	int fds[SV_MSG_MAX_FDS];
	int nfds;
	/* attrs[i] matches method->attrs[i]; extra ones below. */
	struct svd_attr attrs[SVD_MAX_ATTRS];
	struct svd_attr uhw_in, uhw_out, buffers;
	struct svd_attr umem_slot[3];
	/* The uobject being created, if any (committed on success). */
	struct svd_uobj *new_uobj;
	/* Reply payload and fds being built. */
	uint8_t *out;
	uint32_t out_used;
	uint32_t out_cap;
	int out_fds[SV_MSG_MAX_FDS];
	int out_nfds;
	struct svd_umem_list *umems;
};

/*
 * Building a bundle (bundle.c): svd_bundle_init() for a command on uf whose
 * reply payload goes to out; svd_bundle_add_fd() for each fd received
 * (slot 0 is the reply socket; extra ones are closed). Callers without a
 * socket (unit tests, the fuzzer) use svd_bundle_init_local(): the sender
 * is this process, slot 0 is empty and fds go in slots 1..nfds.
 * svd_bundle_close_fds() drops what the bundle still owns afterwards.
 */
void svd_bundle_init(struct svd_bundle *b, struct svd_ufile *uf,
		     uint8_t *out, uint32_t out_cap);
void svd_bundle_add_fd(struct svd_bundle *b, int fd);
void svd_bundle_init_local(struct svd_bundle *b, struct svd_ufile *uf,
			   uint8_t *out, uint32_t out_cap, const int *fds,
			   int nfds);
void svd_bundle_close_fds(struct svd_bundle *b);

/* Accessors for handlers. Each returns -ENOENT when the attr is absent. */
struct svd_attr *svd_attr_get(struct svd_bundle *b, uint16_t id);
bool svd_attr_is_present(struct svd_bundle *b, uint16_t id);
const void *svd_attr_get_ptr(struct svd_bundle *b, uint16_t id,
			     uint16_t *len);
int svd_attr_copy_from(struct svd_bundle *b, uint16_t id, void *dst,
		       size_t size);
/* Copy to a PTR_OUT; copies min(size, room) bytes, zero-fills the rest. */
int svd_attr_copy_to(struct svd_bundle *b, uint16_t id, const void *src,
		     size_t size);
/* The same for an attribute already in hand (uhw_out, a write response). */
int svd_attr_out_copy(struct svd_bundle *b, struct svd_attr *a, const void *src,
		      size_t size);
int svd_attr_get_u64(struct svd_bundle *b, uint16_t id, uint64_t *val);
int svd_attr_get_u32(struct svd_bundle *b, uint16_t id, uint32_t *val);
int svd_attr_get_enum(struct svd_bundle *b, uint16_t id, uint8_t *elem);
struct svd_uobj *svd_attr_get_uobj(struct svd_bundle *b, uint16_t id);
void *svd_attr_get_obj(struct svd_bundle *b, uint16_t id);
/* An fd received with the message; ownership passes to the caller. */
int svd_attr_take_fd(struct svd_bundle *b, uint16_t id);
/*
 * Remove the object held by a DESTROY-access attribute. On success the
 * attribute no longer holds it; on failure (-EBUSY) it stays locked and the
 * framework releases it.
 */
int svd_attr_remove_uobj(struct svd_bundle *b, uint16_t id);
/* Attach a new fd to the reply for an FD attribute (FD_NEW) or slot. */
int svd_bundle_add_out_fd(struct svd_bundle *b, int fd);
/* fd (owned, < 0: making it failed) into FD-out attr id, if asked for. */
int svd_attr_fd_out(struct svd_bundle *b, uint16_t id, int fd);
/* The uhw (driver data) in/out, for both ioctl and write. */
int svd_uhw_copy_from(struct svd_bundle *b, void *dst, size_t size);
int svd_uhw_copy_to(struct svd_bundle *b, const void *src, size_t size);

/*
 * Create the new uobject of a write command (id 0). On the ioctl path the
 * framework has already made the one an IDR attribute with SVD_ACCESS_NEW
 * names: the handler finds it in b->new_uobj.
 */
struct svd_uobj *svd_bundle_new_uobj(struct svd_bundle *b, uint16_t id,
				     const struct svd_obj_type *type);

/* Run one ioctl request (validator, handler, commit/abort). */
int svd_ioctl_dispatch(struct svd_bundle *b, const void *req, size_t len);
/* Fill the reply's attr array (request order) after a dispatch. */
void svd_ioctl_reply_attrs(struct svd_bundle *b, const void *req,
			   struct ib_uverbs_attr *out);
/* Run one legacy write() request. */
int svd_write_dispatch(struct svd_bundle *b, const void *req, size_t len);

/* ---------------------------------------------------------------------- */
/* Legacy write commands                                                   */
/* ---------------------------------------------------------------------- */

/*
 * A write handler gets the bundle with:
 *   b->attrs[0].in/len = the command struct (core part, without hdrs),
 *   b->uhw_in / b->uhw_out = the driver data after the core struct,
 *   b->attrs[1].out_* = the response buffer.
 * Use svd_write_req() and svd_write_resp() to reach them.
 */
struct svd_write_cmd {
	uint32_t cmd; /* IB_USER_VERBS_CMD_* or IB_USER_VERBS_EX_CMD_* */
	bool ex; /* extended (ex_hdr) */
	bool no_uctx;	   /* runs before GET_CONTEXT */
	uint16_t req_size; /* core command size */
	uint16_t resp_size; /* core response size (0 = none) */
	svd_handler_t handler;
	/* SVD_WRITE_DESTROY: the type and where the command holds the handle */
	const struct svd_obj_type *destroy_type;
	uint16_t handle_off;
};

/*
 * Declare a write command by name (in SVD_WRITE_CMDS()):
 *   SVD_WRITE(IB_USER_VERBS_CMD_ALLOC_PD, write_alloc_pd,
 *	       struct ib_uverbs_alloc_pd, struct ib_uverbs_alloc_pd_resp)
 * _NO_RESP for commands without a response, _EX for the extended ones,
 * and SVD_WRITE_DESTROY for a destroy whose command is just a handle and
 * which has no response: the generic handler removes the object.
 */
/* clang-format off */
#define SVD_WRITE(_cmd, _handler, _req_type, _resp_type)                       \
	{ .cmd = (_cmd), .handler = (_handler),                                \
	  .req_size = sizeof(_req_type), .resp_size = sizeof(_resp_type) }
#define SVD_WRITE_NO_RESP(_cmd, _handler, _req_type)                           \
	{ .cmd = (_cmd), .handler = (_handler), .req_size = sizeof(_req_type) }
#define SVD_WRITE_EX(_cmd, _handler, _req_type, _resp_type)                    \
	{ .cmd = (_cmd), .ex = true, .handler = (_handler),                    \
	  .req_size = sizeof(_req_type), .resp_size = sizeof(_resp_type) }
#define SVD_WRITE_NO_UCTX(_cmd, _handler, _req_type, _resp_type)               \
	{ .cmd = (_cmd), .no_uctx = true, .handler = (_handler),               \
	  .req_size = sizeof(_req_type), .resp_size = sizeof(_resp_type) }
int svd_write_destroy_def_handler(struct svd_bundle *b);
int svd_write_destroy_resp_handler(struct svd_bundle *b);
#define SVD_WRITE_DESTROY(_cmd, _req_type, _handle_field, _objtype)            \
	{ .cmd = (_cmd), .handler = svd_write_destroy_def_handler,             \
	  .req_size = sizeof(_req_type), .destroy_type = (_objtype),           \
	  .handle_off = offsetof(_req_type, _handle_field) }
/*
 * ... and the destroys that answer, named by object: struct
 * ib_uverbs_destroy_<obj> holds <obj>_handle, the response is struct
 * ib_uverbs_destroy_<obj>_resp, filled by svd_type_<obj>'s destroy_resp().
 */
#define SVD_WRITE_DESTROY_RESP(_cmd, _obj)                                     \
	{ .cmd = (_cmd), .handler = svd_write_destroy_resp_handler,            \
	  .req_size = sizeof(struct ib_uverbs_destroy_##_obj),                 \
	  .resp_size = sizeof(struct ib_uverbs_destroy_##_obj##_resp),         \
	  .destroy_type = &svd_type_##_obj,                                    \
	  .handle_off = offsetof(struct ib_uverbs_destroy_##_obj,              \
				 _obj##_handle) }
/* clang-format on */

/*
 * The start of a write-path create on a PD: the new object and the PD,
 * held for reading (the caller unlocks *pdu). A handle naming no PD is
 * EINVAL, as the kernel's uobj_get_obj_read() makes it.
 */
int svd_write_new_on_pd(struct svd_bundle *b, const struct svd_obj_type *type,
			uint32_t pd_handle, struct svd_uobj **uobj,
			struct svd_uobj **pdu);
const void *svd_write_req(struct svd_bundle *b, size_t *len);
int svd_write_resp(struct svd_bundle *b, const void *resp, size_t size);
const struct svd_write_cmd *svd_write_find(uint32_t cmd, bool ex);

/* ---------------------------------------------------------------------- */
/* Buffers (seed 001)                                                      */
/* ---------------------------------------------------------------------- */

enum svd_umem_kind {
	SVD_UMEM_MAPPED, /* dma-buf fd mapped into the daemon */
	SVD_UMEM_VA, /* a client VA reached through nic/mem_va.c */
};

struct svd_umem {
	enum svd_umem_kind kind;
	uint64_t length;
	/* MAPPED */
	void *map; /* daemon address of byte 0 of the buffer */
	void *map_base; /* what munmap() needs */
	size_t map_len;
	uint64_t file_off; /* file offset of byte 0 */
	uint64_t client_va; /* a registrar's address of byte 0, or 0 */
	/* VA */
	int mem_fd; /* the registrar's /proc/PID/mem: bound to its mm */
	/* The registrar's pidfd if process_vm_* may be used (nic/mem_va.c,
	 * always checked with mem_fd around each call), else -1. */
	int pidfd;
	pid_t pid; /* the registrar; reaches memory only with pidfd's checks */
	uint64_t addr;
	/* Its DMA goes over the data-direct path (nic/svd_dd.h), or NULL. */
	struct svd_dd_dma *dd;
	/* The mapped file was truncated under us (mem.c): access is over. */
	atomic_bool revoked;
	/*
	 * MAPPED from a tmpfs file sealed against shrinking, the range inside
	 * its size: no access can fault, so mem.c skips the SIGBUS guard.
	 */
	bool nofault;
	/* MAPPED inside a context's whole-file ring mapping (umem_share.c) */
	struct svd_umem_share *share;
};

struct svd_umem_list;

struct svd_umem *svd_umem_get_mapped(int fd, uint64_t offset, uint64_t len);
bool svd_fd_nofault(int fd, uint64_t end);
/* A range of the sender's address space (b->pid, with b's credentials). */
struct svd_umem *svd_umem_get_va(const struct svd_bundle *b, uint64_t addr,
				 uint64_t len);
void svd_umem_release(struct svd_umem *umem);
/*
 * A ring inside a small ring memfd that b's context maps once for its rings
 * (umem_share.c), or NULL: then map it on its own (svd_umem_get_mapped).
 */
struct svd_umem *svd_umem_get_shared(struct svd_bundle *b, int fd,
				     uint64_t off, uint64_t len);
void svd_umem_share_put(struct svd_umem_share *s);
/*
 * A memfd of size bytes the daemon hands out (doorbell pages, device
 * memory), its size sealed so a client cannot shrink it under the daemon's
 * mapping. Returns the fd or -errno.
 */
int svd_memfd_sealed(const char *name, uint64_t size);

struct svd_umem_list *svd_umem_list_create(struct svd_bundle *b,
					   unsigned int slot_max);
struct svd_umem *svd_umem_list_load(struct svd_umem_list *l, unsigned int idx,
				    size_t size);
void svd_umem_list_insert(struct svd_umem_list *l, unsigned int idx,
			  struct svd_umem *umem);
void svd_umem_list_replace(struct svd_umem_list *l, unsigned int idx,
			   struct svd_umem *umem);
int svd_umem_list_check_consumed(const struct svd_umem_list *l);
/* Detach a loaded umem so the object owns it past the command. */
struct svd_umem *svd_umem_list_take(struct svd_umem_list *l, unsigned int idx);
/*
 * Load and take a ring the NIC reads directly: it must be a mapped umem
 * whose mapping is align-aligned. NULL with *err set otherwise.
 */
struct svd_umem *svd_umem_list_take_ring(struct svd_umem_list *l,
					 unsigned int idx, size_t size,
					 size_t align, int *err);
void svd_umem_list_release(struct svd_umem_list *l);

/* ---------------------------------------------------------------------- */
/* Object modules                                                          */
/* ---------------------------------------------------------------------- */

extern const struct svd_obj_type svd_type_pd, svd_type_mr, svd_type_mw,
	svd_type_cq, svd_type_qp, svd_type_srq, svd_type_ah, svd_type_xrcd,
	svd_type_comp_channel, svd_type_async_event, svd_type_db_page,
	svd_type_td;

#endif /* SVD_H */
