// SPDX-License-Identifier: MIT
/*
 * libFuzzer target for the connection manager (daemon/cm): what any local
 * user reaches through cm.sock (mode 0666), and what a peer's CM MADs will
 * reach once QP1 crosses a wire. The daemon's own loop runs in this thread
 * (svd_serve_once), with its real cm.sock, rundir and device softverbs0.
 *
 * One input is a session on a fresh cm.sock connection, closed at the end
 * (the daemon then destroys every id and channel it made). Records:
 *
 *   kind 0  a command: the next sizeof(struct sv_cm_cmd) bytes (zero
 *           padded), sent as the library sends it; bit 2 of the kind byte
 *           passes a socketpair end with it (an event channel). The reply
 *           is awaited.
 *   kind 1  a MAD from the wire: source GID, destination GID and 256 bytes,
 *           handed to the CM as QP1 would (cm_recv_mad).
 *   kind 2  time passes: every pending CM timer fires (retransmissions,
 *           timewait, resolution timeouts).
 *   kind 3  a pass of the loop, nothing sent.
 *   kind 7  a UDP datagram from the wire (kind 3 with bit 2): source GID
 *           (16 bytes), a 16-bit length n (little-endian), then n bytes
 *           of BTH .. ICRC, fed to wire_input() of the device's wire as
 *           its receive thread does; bit 3 corrects the ICRC. What passes
 *           the wire's and QP1's checks (opcode, Q_Key, length) reaches
 *           the CM through its queue and the main loop's eventfd, as a
 *           MAD from another host does.
 *
 * Handles, ports and communication IDs change from run to run, so inputs
 * name them relatively (the seeds are written that way, --write-seeds):
 * an id or chan field below 16 means the n-th handle this session got; a
 * destination port 1 means the port of the last reply's source address;
 * in a MAD, a remote communication ID below 16 means the n-th live id's
 * local one.
 */
#include <arpa/inet.h>
#include <endian.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <rdma/rdma_cma.h>

#include "cm.h"
#include "cm_mad.h"
#include "fuzz_daemon.h"
#include "fuzz_util.h"
#include "wire.h"

#define MAX_RECS 64
#define MAX_HANDLES 16
#define MAX_CHANS 8
#define MAD_REC (16 + 16 + CM_MAD_SIZE)

struct session {
	int sock;
	uint32_t handles[MAX_HANDLES];
	unsigned int nh;
	int chans[MAX_CHANS]; /* our ends of passed socketpairs */
	unsigned int nc;
	uint16_t last_port; /* network order */
};

static struct wire *wire; /* softverbs0's, no sockets: input only */

static void daemon_init(void)
{
	fuzz_daemon_init();
	wire = wire_create(svd_devices());
	if (!wire)
		abort();
}

static int cm_connect_sock(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);

	snprintf(sa.sun_path, sizeof(sa.sun_path), "%s/%s", fuzz_rundir,
		 SV_CM_SOCK);
	if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)))
		abort();
	svd_serve_once(0); /* accept it */
	return fd;
}

/* Drop the wake-up tokens the daemon wrote to our channel ends. */
static void drain_chans(struct session *s)
{
	char buf[64];

	for (unsigned int i = 0; i < s->nc; i++)
		while (recv(s->chans[i], buf, sizeof(buf), MSG_DONTWAIT) > 0)
			;
}

static uint32_t rel_handle(const struct session *s, uint32_t v)
{
	return v < MAX_HANDLES && s->nh ? s->handles[v % s->nh] : v;
}

static void rel_port(const struct session *s, union sv_cm_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET && a->in.sin_port == htons(1))
		a->in.sin_port = s->last_port;
	else if (a->sa.sa_family == AF_INET6 && a->in6.sin6_port == htons(1))
		a->in6.sin6_port = s->last_port;
}

static void send_cmd(struct session *s, const struct sv_cm_cmd *cmd,
		     bool pass_fd)
{
	union {
		char buf[CMSG_SPACE(sizeof(int))];
		struct cmsghdr align;
	} u;
	struct iovec iov = { (void *)cmd, sizeof(*cmd) };
	struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
	int sp[2] = { -1, -1 };

	if (pass_fd && s->nc < MAX_CHANS &&
	    !socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, sp)) {
		mh.msg_control = u.buf;
		mh.msg_controllen = sizeof(u.buf);
		CMSG_FIRSTHDR(&mh)->cmsg_level = SOL_SOCKET;
		CMSG_FIRSTHDR(&mh)->cmsg_type = SCM_RIGHTS;
		CMSG_FIRSTHDR(&mh)->cmsg_len = CMSG_LEN(sizeof(int));
		memcpy(CMSG_DATA(CMSG_FIRSTHDR(&mh)), &sp[1], sizeof(int));
		s->chans[s->nc++] = sp[0];
	}
	if (sendmsg(s->sock, &mh, MSG_NOSIGNAL) < 0)
		abort();
	if (sp[1] >= 0)
		close(sp[1]); /* the daemon has its own copy now */
}

/* Run the loop until the reply is in (the daemon answers every command). */
static void await_reply(struct session *s)
{
	struct pollfd p = { .fd = s->sock, .events = POLLIN };
	struct sv_cm_reply rep;
	int i;

	for (i = 0; i < 1000 && poll(&p, 1, 0) == 0; i++)
		svd_serve_once(1);
	if (recv(s->sock, &rep, sizeof(rep), MSG_DONTWAIT) != sizeof(rep))
		return;
	if (!rep.status && rep.id && s->nh < MAX_HANDLES)
		s->handles[s->nh++] = rep.id;
	/* A CONNECT_REQUEST's new id: the next handle too. */
	if (!rep.status && rep.ev.event == RDMA_CM_EVENT_CONNECT_REQUEST &&
	    s->nh < MAX_HANDLES)
		s->handles[s->nh++] = rep.ev.id;
	if (rep.route.src.sa.sa_family == AF_INET && rep.route.src.in.sin_port)
		s->last_port = rep.route.src.in.sin_port;
	if (rep.route.src.sa.sa_family == AF_INET6 &&
	    rep.route.src.in6.sin6_port)
		s->last_port = rep.route.src.in6.sin6_port;
}

static size_t rec_cmd(struct session *s, uint8_t kind, const uint8_t *d,
		      size_t len)
{
	struct sv_cm_cmd cmd = { 0 };
	size_t n = len < sizeof(cmd) ? len : sizeof(cmd);

	memcpy(&cmd, d, n);
	cmd.id = rel_handle(s, cmd.id);
	cmd.chan = rel_handle(s, cmd.chan);
	rel_port(s, &cmd.dst);
	rel_port(s, &cmd.src);
	send_cmd(s, &cmd, kind & 4);
	await_reply(s);
	drain_chans(s);
	return n;
}

/* The n-th live id's local communication ID for small remote IDs. */
static void rel_comm_id(uint8_t *mad)
{
	uint32_t v = cm_get(mad, 4, 0, 32), k = 0;
	struct cm_id *id;

	if (v >= MAX_HANDLES)
		return;
	for (id = cm_ids(); id; id = id->next)
		if (k++ == v) {
			cm_put(mad, 4, 0, 32, id->local_comm_id);
			return;
		}
}

/* A REQ's or SIDR_REQ's service ID for port 1: the last port seen. */
static void rel_service(const struct session *s, uint8_t *mad)
{
	unsigned int off = cm_mad_attr(mad) == CM_ATTR_REQ ? CM_REQ_SERVICE_ID :
			   cm_mad_attr(mad) == CM_ATTR_SIDR_REQ ?
							 CM_SIDR_REQ_SERVICEID :
							 0;
	uint64_t sid = off ? cm_get64(mad, off) : 0;

	if (off && (sid & 0xffff) == 1)
		cm_put64(mad, off, (sid & ~0xffffULL) | ntohs(s->last_port));
}

static size_t rec_mad(struct session *s, const uint8_t *d, size_t len)
{
	uint8_t rec[MAD_REC] = { 0 };
	struct svd_device *dev;
	uint32_t index;
	size_t n = len < sizeof(rec) ? len : sizeof(rec);

	memcpy(rec, d, n);
	dev = cm_dev_of_gid(rec + 16, &index);
	if (!dev)
		dev = svd_devices();
	rel_comm_id(rec + 32);
	rel_service(s, rec + 32);
	cm_recv_mad(dev, rec, rec + 16, rec + 32);
	cm_wire_drain(); /* what the CM answered */
	svd_serve_once(0);
	drain_chans(s);
	return n;
}

/* Kind 7: one datagram as a wire receives it (see the top). */
static size_t rec_wire(struct session *s, uint8_t kind, const uint8_t *d,
		       size_t len)
{
	static const uint8_t lo[16] = { [10] = 0xff, [11] = 0xff,
					[12] = 127, [15] = 1 };
	struct wire_rx *rx;
	size_t n, used;
	uint32_t icrc;

	if (len < 18)
		return len;
	n = (size_t)(d[16] | d[17] << 8) % (WIRE_PKT_MAX + 1);
	used = 18 + (n < len - 18 ? n : len - 18);
	n = used - 18;
	rx = calloc(1, sizeof(*rx));
	if (!rx)
		return used;
	memcpy(rx->ends.sgid, d, 16);
	memcpy(rx->ends.dgid, lo, 16);
	rx->ends.sport = 49152;
	rx->ends.dport = WIRE_UDP_PORT;
	memcpy(rx->ib, d + 18, n);
	if (n == 20 + CM_MAD_SIZE + 4) { /* a MAD: relative IDs, as kind 1 */
		rel_comm_id(rx->ib + 20);
		rel_service(s, rx->ib + 20);
	}
	if ((kind & 8) && n >= WIRE_BTH_LEN + WIRE_ICRC_LEN) {
		icrc = htole32(wire_icrc(&rx->ends, rx->ib, n - 4));
		memcpy(rx->ib + n - 4, &icrc, 4);
	}
	wire_input(wire, rx, n, false);
	svd_serve_once(0); /* the CM's eventfd: the MAD is handled */
	cm_wire_drain();
	svd_serve_once(0);
	drain_chans(s);
	return used;
}

static void timers_fire(struct session *s)
{
	struct cm_id *id, *next;

	for (id = cm_ids(); id; id = next) {
		next = id->next;
		if (id->deadline_ms)
			cm_timeout(id);
	}
	cm_wire_drain();
	svd_serve_once(0);
	drain_chans(s);
}

static void session_end(struct session *s)
{
	close(s->sock);
	for (int i = 0; i < 8; i++)
		svd_serve_once(0);
	for (unsigned int i = 0; i < s->nc; i++)
		close(s->chans[i]);
	for (int i = 0; i < 4; i++)
		svd_serve_once(0);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static bool ready;
	struct session s = { 0 };
	size_t off = 0;
	int recs = 0;

	if (!ready) {
		daemon_init();
		ready = true;
	}
	s.sock = cm_connect_sock();
	while (off < size && recs++ < MAX_RECS) {
		uint8_t kind = data[off++];

		if ((kind & 3) == 0)
			off += rec_cmd(&s, kind, data + off, size - off);
		else if ((kind & 3) == 1)
			off += rec_mad(&s, data + off, size - off);
		else if ((kind & 3) == 2)
			timers_fire(&s);
		else if (kind & 4)
			off += rec_wire(&s, kind, data + off, size - off);
		else
			svd_serve_once(0);
	}
	session_end(&s);
	return 0;
}

/* ---- Seeds (FUZZ_CM_SEEDS=DIR): sessions in the relative form above ---- */

struct seed {
	uint8_t buf[32768];
	size_t len;
};

static void put_cmd(struct seed *sd, const struct sv_cm_cmd *c, bool fd)
{
	sd->buf[sd->len++] = fd ? 4 : 0;
	memcpy(sd->buf + sd->len, c, sizeof(*c));
	sd->len += sizeof(*c);
}

static void op(struct seed *sd, uint32_t o, uint32_t id, uint32_t chan,
	       int arg)
{
	struct sv_cm_cmd c = { .op = o, .id = id, .chan = chan, .arg = arg };

	put_cmd(sd, &c, false);
}

static union sv_cm_sockaddr lo4(uint16_t port)
{
	union sv_cm_sockaddr a = { .in = { .sin_family = AF_INET,
					   .sin_port = htons(port) } };

	a.in.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	return a;
}

/* Handles: 0 the channel, 1 the listener. */
static void seed_listen(struct seed *sd, uint32_t ps, uint32_t qpt)
{
	struct sv_cm_cmd c = { .op = SV_CM_CREATE_CHANNEL };

	put_cmd(sd, &c, true);
	c = (struct sv_cm_cmd){ .op = SV_CM_CREATE_ID, .ps = ps,
				.qp_type = qpt };
	put_cmd(sd, &c, false);
	c = (struct sv_cm_cmd){ .op = SV_CM_BIND, .id = 1, .src = lo4(0) };
	put_cmd(sd, &c, false);
	op(sd, SV_CM_LISTEN, 1, 0, 8);
}

/* ...and 2 the client (3: the request it makes). */
static void seed_listen_client(struct seed *sd, uint32_t ps, uint32_t qpt)
{
	struct sv_cm_cmd c;

	seed_listen(sd, ps, qpt);
	c = (struct sv_cm_cmd){ .op = SV_CM_CREATE_ID, .ps = ps,
				.qp_type = qpt };
	put_cmd(sd, &c, false);
	c = (struct sv_cm_cmd){ .op = SV_CM_RESOLVE_ADDR, .id = 2,
				.dst = lo4(1), .arg = 2000 };
	put_cmd(sd, &c, false);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	op(sd, SV_CM_RESOLVE_ROUTE, 2, 0, 2000);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
}

static void conn_op(struct seed *sd, uint32_t o, uint32_t id, uint32_t qpt)
{
	struct sv_cm_cmd c = { .op = o, .id = id };

	c.conn = (struct sv_cm_conn){ .qp_num = 0x100 + id, .qp_type = qpt,
				      .responder_resources = 1,
				      .initiator_depth = 1, .retry_count = 7,
				      .ece_vendor_id = 0x15b3, .pdata_len = 5 };
	memcpy(c.conn.pdata, "hello", 5);
	put_cmd(sd, &c, false);
}

static void seed_rc(struct seed *sd)
{
	seed_listen_client(sd, RDMA_PS_TCP, IBV_QPT_RC);
	conn_op(sd, SV_CM_CONNECT, 2, IBV_QPT_RC);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0); /* CONNECT_REQUEST: handle 3 */
	op(sd, SV_CM_INIT_QP_ATTR, 3, 0, IBV_QPS_RTR);
	conn_op(sd, SV_CM_ACCEPT, 3, IBV_QPT_RC);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	op(sd, SV_CM_INIT_QP_ATTR, 2, 0, IBV_QPS_RTS);
	op(sd, SV_CM_ESTABLISH, 2, 0, 0);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	op(sd, SV_CM_QUERY, 2, 0, 0);
	op(sd, SV_CM_DISCONNECT, 2, 0, 0);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	op(sd, SV_CM_DISCONNECT, 3, 0, 0);
	sd->buf[sd->len++] = 2; /* timewait ends */
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	op(sd, SV_CM_DESTROY_ID, 2, 0, 0);
}

static void seed_reject(struct seed *sd)
{
	seed_listen_client(sd, RDMA_PS_TCP, IBV_QPT_RC);
	conn_op(sd, SV_CM_CONNECT, 2, IBV_QPT_RC);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	conn_op(sd, SV_CM_REJECT, 3, IBV_QPT_RC);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	sd->buf[sd->len++] = 2;
}

static void seed_ud(struct seed *sd)
{
	struct sv_cm_cmd c = { .op = SV_CM_JOIN_MCAST, .id = 2 };

	seed_listen_client(sd, RDMA_PS_UDP, IBV_QPT_UD);
	conn_op(sd, SV_CM_CONNECT, 2, IBV_QPT_UD);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	conn_op(sd, SV_CM_ACCEPT, 3, IBV_QPT_UD);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
	c.dst.in = (struct sockaddr_in){ .sin_family = AF_INET };
	c.dst.in.sin_addr.s_addr = htonl(0xef010101);
	put_cmd(sd, &c, false);
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
}

static const uint8_t lo_gid[16] = { [10] = 0xff, [11] = 0xff, [12] = 127,
				    [15] = 1 };

/* A REQ to the listener's port (1: relative), CMA header for 127.0.0.1. */
static void req_mad(uint8_t *mad)
{
	uint8_t *hdr = mad + CM_MAD_HDR + CM_REQ_PRIVATE_DATA;

	cm_mad_init(mad, CM_ATTR_REQ, 0x77);
	cm_put(mad, CM_REQ_LOCAL_COMM_ID, 0x77);
	cm_put64(mad, CM_REQ_SERVICE_ID, (uint64_t)RDMA_PS_TCP << 16 | 1);
	cm_put(mad, CM_REQ_LOCAL_QPN, 0x321);
	cm_put(mad, CM_REQ_PATH_PACKET_PAYLOAD_MTU, 5);
	cm_put(mad, CM_REQ_RETRY_COUNT, 7);
	cm_put(mad, CM_REQ_LOCAL_CM_RESPONSE_TIMEOUT, 20);
	cm_put(mad, CM_REQ_MAX_CM_RETRIES, 15);
	cm_put_bytes(mad, CM_REQ_PRIMARY_LOCAL_PORT_GID, lo_gid, 16);
	cm_put_bytes(mad, CM_REQ_PRIMARY_REMOTE_PORT_GID, lo_gid, 16);
	hdr[1] = 4 << 4;
	hdr[2] = 0x12;
	memcpy(hdr + 16, lo_gid + 12, 4);
	memcpy(hdr + 32, lo_gid + 12, 4);
}

/* The listener accepts; the REP is retransmitted, then gives up. */
static void seed_accept_tail(struct seed *sd)
{
	op(sd, SV_CM_GET_EVENT, 0, 0, 0); /* CONNECT_REQUEST: handle 2 */
	conn_op(sd, SV_CM_ACCEPT, 2, IBV_QPT_RC);
	sd->buf[sd->len++] = 2;
	op(sd, SV_CM_GET_EVENT, 0, 0, 0);
}

/* The REQ handed to the CM as a MAD (kind 1). */
static void seed_mad_req(struct seed *sd)
{
	uint8_t *rec;

	seed_listen(sd, RDMA_PS_TCP, IBV_QPT_RC);
	sd->buf[sd->len++] = 1;
	rec = sd->buf + sd->len;
	memcpy(rec, lo_gid, 16);
	memcpy(rec + 16, lo_gid, 16);
	req_mad(rec + 32);
	sd->len += MAD_REC;
	seed_accept_tail(sd);
}

/* The same REQ as a wire datagram (kind 7): BTH, DETH, MAD, ICRC. */
static void seed_wire_req(struct seed *sd)
{
	uint8_t *rec, *pkt;

	seed_listen(sd, RDMA_PS_TCP, IBV_QPT_RC);
	sd->buf[sd->len++] = 7 | 8; /* the harness computes the ICRC */
	rec = sd->buf + sd->len;
	memcpy(rec, lo_gid, 16);
	rec[16] = (20 + CM_MAD_SIZE + 4) & 0xff;
	rec[17] = (20 + CM_MAD_SIZE + 4) >> 8;
	pkt = rec + 18;
	memset(pkt, 0, 20 + CM_MAD_SIZE + 4);
	pkt[0] = 0x64; /* UD SEND_ONLY */
	pkt[2] = pkt[3] = 0xff; /* P_Key */
	pkt[7] = 1; /* to QP1 */
	pkt[12] = 0x80;
	pkt[13] = 0x01; /* Q_Key 0x80010000 */
	pkt[19] = 1; /* from QP1 */
	req_mad(pkt + 20);
	sd->len += 18 + 20 + CM_MAD_SIZE + 4;
	seed_accept_tail(sd);
}

static void seed_write(const char *dir, const char *name,
		       void (*fn)(struct seed *))
{
	static struct seed sd;
	char path[512];
	FILE *f;

	memset(&sd, 0, sizeof(sd));
	fn(&sd);
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "wb");
	if (!f || fwrite(sd.buf, 1, sd.len, f) != sd.len || fclose(f))
		abort();
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	const char *dir = getenv("FUZZ_CM_SEEDS");

	(void)argc;
	(void)argv;
	if (!dir)
		return 0;
	mkdir(dir, 0755);
	seed_write(dir, "rc-connect", seed_rc);
	seed_write(dir, "rc-reject", seed_reject);
	seed_write(dir, "ud-sidr-mcast", seed_ud);
	seed_write(dir, "mad-req", seed_mad_req);
	seed_write(dir, "wire-req", seed_wire_req);
	exit(0);
}
