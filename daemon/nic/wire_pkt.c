// SPDX-License-Identifier: MIT
/*
 * RoCEv2 packet checks: the ICRC and the validation every received packet
 * passes before anything else looks at it.
 *
 * The ICRC (IBTA Annex A17.3.3) is a CRC-32 (the Ethernet/zlib one) over
 * 8 bytes of 0xff standing for the masked LRH, the IP header, the UDP
 * header, the BTH and everything up to the ICRC, with the fields routers
 * may change replaced by ones: IPv4 TOS, TTL and header checksum; IPv6
 * traffic class, flow label and hop limit; the UDP checksum; the BTH's
 * reserved byte holding FECN/BECN. It goes on the wire least significant
 * byte first. Checked against kernel rxe (../shared/tools/rxe-vm/icrc.py)
 * by tests/wire_icrc.sh.
 *
 * A socket does not show the received IPv4 header, and the ICRC covers
 * the IPv4 ID. Our own sockets send ID 0 with DF, but kernel rxe (6.1)
 * sends DF packets with the kernel's per-destination IDs. The CRC is
 * linear, so the ID can be solved for: the ICRC computed with ID 0 differs
 * from the received one by L(ID), a linear map of the 16 ID bits into 32
 * bits that depends only on how many bytes follow the ID. If the
 * difference is in the image of L, the packet is consistent with exactly
 * one ID and is accepted; otherwise it is corrupt. Such packets keep 16 of
 * the ICRC's 32 bits of protection (and Ethernet's FCS per hop); packets
 * sent with ID 0 keep all 32.
 */
#include <endian.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "engine.h"
#include "wire.h"

static uint32_t crc_tab[8][256];
static bool crc_clmul_ok; /* wire_crc_clmul() agreed with the table */

static void crc_tables(void)
{
	for (uint32_t i = 0; i < 256; i++) {
		uint32_t c = i;

		for (int k = 0; k < 8; k++)
			c = c & 1 ? 0xedb88320U ^ (c >> 1) : c >> 1;
		crc_tab[0][i] = c;
	}
	for (uint32_t i = 0; i < 256; i++)
		for (int t = 1; t < 8; t++)
			crc_tab[t][i] = (crc_tab[t - 1][i] >> 8) ^
					crc_tab[0][crc_tab[t - 1][i] & 0xff];
}

/* Slicing by 8: the ICRC covers every payload byte, at line rate. */
static uint32_t crc_table(uint32_t c, const uint8_t *p, size_t n)
{
	while (n >= 8) {
		uint32_t lo, hi;

		memcpy(&lo, p, 4);
		memcpy(&hi, p + 4, 4);
		lo = le32toh(lo) ^ c;
		hi = le32toh(hi);
		c = crc_tab[7][lo & 0xff] ^ crc_tab[6][(lo >> 8) & 0xff] ^
		    crc_tab[5][(lo >> 16) & 0xff] ^ crc_tab[4][lo >> 24] ^
		    crc_tab[3][hi & 0xff] ^ crc_tab[2][(hi >> 8) & 0xff] ^
		    crc_tab[1][(hi >> 16) & 0xff] ^ crc_tab[0][hi >> 24];
		p += 8;
		n -= 8;
	}
	while (n--)
		c = crc_tab[0][(c ^ *p++) & 0xff] ^ (c >> 8);
	return c;
}

static uint32_t crc_update(uint32_t c, const uint8_t *p, size_t n)
{
	size_t k = crc_clmul_ok ? wire_crc_clmul(&c, p, n) : 0;

	return crc_table(c, p + k, n - k);
}

/* PCLMULQDQ only if it gives the table's CRC on every length 64..320. */
static void crc_clmul_check(void)
{
	uint8_t b[320];
	uint32_t x = 0x12345678;

	for (size_t i = 0; i < sizeof(b); i++) {
		x = x * 1103515245U + 12345U;
		b[i] = (uint8_t)(x >> 16);
	}
	for (size_t n = 64; n <= sizeof(b); n++) {
		uint32_t c = 0xffffffffU ^ (uint32_t)n;
		size_t k = wire_crc_clmul(&c, b, n);

		if (!k || crc_table(c, b + k, n - k) !=
				  crc_table(0xffffffffU ^ (uint32_t)n, b, n))
			return;
	}
	crc_clmul_ok = true;
}

static void crc_init(void)
{
	crc_tables();
	crc_clmul_check();
}

static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

/* The raw CRC register (no inversions) advanced over n zero bytes. */
static uint32_t crc_zeros(uint32_t c, size_t n)
{
	while (n--)
		c = crc_tab[0][c & 0xff] ^ (c >> 8);
	return c;
}

/* L for one length, reduced: each row's top bit is set in no other row. */
struct id_solver {
	size_t after; /* bytes after the ID field: the key */
	uint32_t row[16];
	int n;
};

static void solver_build(struct id_solver *sv, size_t after)
{
	sv->after = after;
	sv->n = 0;
	for (int i = 0; i < 16; i++) {
		uint8_t b[2] = { (uint8_t)((1U << i) >> 8), (uint8_t)(1U << i) };
		uint32_t v = crc_zeros(crc_update(0, b, 2), after);

		/* Reduce against the rows so far, keep it if independent. */
		for (int k = 0; k < sv->n; k++)
			if (v & (1U << (31 - __builtin_clz(sv->row[k]))))
				v ^= sv->row[k];
		if (!v)
			continue;
		for (int k = 0; k < sv->n; k++) /* keep pivots unique */
			if (sv->row[k] & (1U << (31 - __builtin_clz(v))))
				sv->row[k] ^= v;
		sv->row[sv->n++] = v;
	}
}

/* Is diff = L(id) for some id? (Each row's pivot is in no other row.) */
static bool solver_solve(const struct id_solver *sv, uint32_t diff)
{
	for (int k = 0; k < sv->n; k++)
		if (diff & (1U << (31 - __builtin_clz(sv->row[k]))))
			diff ^= sv->row[k];
	return !diff;
}

/* Received IPv4 packets come in a few lengths: a few solvers per thread. */
static bool icrc_ip_id_ok(size_t ib_len, uint32_t diff)
{
	static __thread struct id_solver cache[8];
	size_t after = 14 + 8 + ib_len; /* rest of IP, UDP, BTH .. pad */
	struct id_solver *sv = &cache[ib_len % 8];

	static __thread time_t stamp;
	static __thread unsigned int builds;

	if (sv->after != after) {
		/* A build costs 16 * 'after' steps: at most 256 a second, so
		 * bad packets of ever new lengths cannot eat the thread. */
		if (stamp != time(NULL)) {
			stamp = time(NULL);
			builds = 0;
		}
		if (++builds > 256)
			return false;
		solver_build(sv, after);
	}
	return solver_solve(sv, diff);
}

bool wire_gid_is_v4(const uint8_t *gid)
{
	static const uint8_t pfx[12] = { [10] = 0xff, [11] = 0xff };

	return !memcmp(gid, pfx, sizeof(pfx));
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/*
 * The masked IP and UDP headers the ICRC starts with (after the 8 bytes
 * of ones): returns their length.
 */
static size_t pseudo_hdr(const struct wire_ends *e, size_t ib_len,
			 uint8_t *h)
{
	size_t udp_len = 8 + ib_len + WIRE_ICRC_LEN, ip;

	if (wire_gid_is_v4(e->dgid)) {
		memset(h, 0, 20);
		h[0] = 0x45;
		h[1] = 0xff; /* TOS */
		put16(h + 2, (uint16_t)(20 + udp_len));
		put16(h + 4, e->ip_id);
		h[6] = 0x40; /* DF */
		h[8] = 0xff; /* TTL */
		h[9] = 17;
		h[10] = h[11] = 0xff; /* header checksum */
		memcpy(h + 12, e->sgid + 12, 4);
		memcpy(h + 16, e->dgid + 12, 4);
		ip = 20;
	} else {
		h[0] = 0x6f; /* version 6, traffic class and flow label ones */
		h[1] = h[2] = h[3] = 0xff;
		put16(h + 4, (uint16_t)udp_len);
		h[6] = 17;
		h[7] = 0xff; /* hop limit */
		memcpy(h + 8, e->sgid, 16);
		memcpy(h + 24, e->dgid, 16);
		ip = 40;
	}
	put16(h + ip, e->sport);
	put16(h + ip + 2, e->dport);
	put16(h + ip + 4, (uint16_t)udp_len);
	h[ip + 6] = h[ip + 7] = 0xff; /* UDP checksum */
	return ip + 8;
}

/*
 * The masked headers and the first payload bytes go through the CRC as
 * one buffer (a multiple of 16 bytes when the packet is longer), so the
 * PCLMULQDQ fold takes nearly all of it: fed apart, the 48-68 header
 * bytes went through the table and cost as much as a 1 KiB payload.
 */
uint32_t wire_icrc(const struct wire_ends *e, const uint8_t *ib, size_t len)
{
	uint8_t b[256];
	size_t n = 8, head;
	uint32_t c;

	pthread_once(&crc_once, crc_init);
	memset(b, 0xff, 8); /* the masked LRH */
	n += pseudo_hdr(e, len, b + n);
	memcpy(b + n, ib, WIRE_BTH_LEN);
	b[n + 4] = 0xff; /* FECN, BECN, reserved */
	n += WIRE_BTH_LEN;
	head = len - WIRE_BTH_LEN;
	if (n + head > sizeof(b))
		head = sizeof(b) - n;
	memcpy(b + n, ib + WIRE_BTH_LEN, head);
	c = crc_update(0xffffffffU, b, n + head);
	c = crc_update(c, ib + WIRE_BTH_LEN + head, len - WIRE_BTH_LEN - head);
	return ~c;
}

static void bth_decode(const uint8_t *b, struct wire_bth *bth)
{
	bth->opcode = b[0];
	bth->se = b[1] & 0x80;
	bth->pad = (b[1] >> 4) & 3;
	bth->pkey = (uint16_t)(b[2] << 8 | b[3]);
	bth->dest_qpn = (uint32_t)b[5] << 16 | b[6] << 8 | b[7];
	bth->ackreq = b[8] & 0x80;
	bth->psn = (uint32_t)b[9] << 16 | b[10] << 8 | b[11];
}

/* Header and payload lengths: 0 or -WIRE_DROP_*. */
static int check_lengths(struct wire_bth *bth, size_t ib_len)
{
	/* The one opcode table (eng_opcode.c) says which headers follow. */
	const struct eng_opcode *op = eng_opcode_info(bth->opcode);
	size_t body;

	if (bth->opcode == WIRE_OP_CNP) {
		/* No payload: 16 reserved bytes after the BTH. */
		bth->hdr_len = WIRE_CNP_LEN;
		bth->payload_len = 0;
		return ib_len == WIRE_CNP_LEN && !bth->pad ? 0 :
							     -WIRE_DROP_LENGTH;
	}
	if (!op)
		return -WIRE_DROP_OPCODE;
	bth->hdr_len = op->hdr_len;
	if (ib_len < bth->hdr_len)
		return -WIRE_DROP_LENGTH;
	body = ib_len - bth->hdr_len;
	if (!(op->mask & ENG_PAYLOAD) && body)
		return -WIRE_DROP_LENGTH;
	/* The pad aligns the payload to 4 bytes and is never all of it. */
	if (body % 4 || bth->pad > body || body - bth->pad > 4096)
		return -WIRE_DROP_LENGTH;
	bth->payload_len = (uint32_t)(body - bth->pad);
	return 0;
}

/* Everything but the ICRC: 0 or -WIRE_DROP_*. */
static int check_hdr(const uint8_t *udp, size_t ib_len, struct wire_bth *bth)
{
	int ret;

	bth_decode(udp, bth);
	if (udp[1] & 0x0f)
		return -WIRE_DROP_VERSION;
	ret = check_lengths(bth, ib_len);
	if (ret)
		return ret;
	/* One partition: the default key, full or limited member. */
	if ((bth->pkey & 0x7fff) != 0x7fff)
		return -WIRE_DROP_PKEY;
	if (!bth->dest_qpn)
		return -WIRE_DROP_QPN; /* QP0: no subnet management on RoCE */
	return 0;
}

int wire_parse(const struct wire_ends *e, const uint8_t *udp, size_t len,
	       struct wire_bth *bth)
{
	uint32_t icrc;
	size_t ib_len;
	int ret;

	if (len < WIRE_BTH_LEN + WIRE_ICRC_LEN || len > WIRE_PKT_MAX)
		return -WIRE_DROP_SHORT;
	ib_len = len - WIRE_ICRC_LEN;
	memcpy(&icrc, udp + ib_len, 4);
	icrc = le32toh(icrc) ^ wire_icrc(e, udp, ib_len);
	ret = check_hdr(udp, ib_len, bth);
	/*
	 * Not ID 0: an IPv4 packet may carry another ID (see the top). Only
	 * a packet whose headers hold together is worth solving for it, so
	 * garbage costs no more than one CRC.
	 */
	if (icrc && (ret || !wire_gid_is_v4(e->dgid) ||
		     !icrc_ip_id_ok(ib_len, icrc)))
		return -WIRE_DROP_ICRC;
	return ret;
}
