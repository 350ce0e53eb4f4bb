// SPDX-License-Identifier: MIT
/*
 * QP1 (the GSI) on the wire: the connection manager's MADs, carried as a
 * RoCE port carries them, one UD SEND_ONLY per MAD from QP1 to QP1 with a
 * DETH holding the well-known GSI Q_Key 0x80010000, the default P_Key,
 * the 256-byte MAD as payload; the wire adds UDP/IP and the ICRC.
 *
 * There is no QP1 object: the daemon's CM is the only GSI agent. Packets
 * for QP1 are taken off the receive thread before the engine sees them,
 * checked as a UD QP would check them (opcode, Q_Key, length) and given
 * to the receiver the CM registered, which copies what it keeps. The MAD's
 * own header (class, version) is the CM's to check.
 *
 * Management traffic is a few packets per connection, so it bypasses the
 * rate window (whose token bucket belongs to the engine's thread) and may
 * be sent from the daemon's main thread.
 */
#include <pthread.h>
#include <string.h>

#include "wire.h"
#include "wire_int.h"

#define GSI_OP_UD_SEND_ONLY 0x64
#define GSI_DETH_LEN 8
#define GSI_HDR_LEN (WIRE_BTH_LEN + GSI_DETH_LEN)

static pthread_mutex_t gsi_lock = PTHREAD_MUTEX_INITIALIZER;
static wire_gsi_fn gsi_fn;
static uint32_t gsi_psn; /* under gsi_lock: UD PSNs only need to vary */

void wire_gsi_set_receiver(wire_gsi_fn fn)
{
	pthread_mutex_lock(&gsi_lock);
	gsi_fn = fn;
	pthread_mutex_unlock(&gsi_lock);
}

static uint32_t get24(const uint8_t *b)
{
	return (uint32_t)b[0] << 16 | b[1] << 8 | b[2];
}

static uint32_t get32(const uint8_t *b)
{
	return (uint32_t)b[0] << 24 | b[1] << 16 | b[2] << 8 | b[3];
}

static void put24(uint8_t *b, uint32_t v)
{
	b[0] = (uint8_t)(v >> 16);
	b[1] = (uint8_t)(v >> 8);
	b[2] = (uint8_t)v;
}

/* The checks QP1 of a RoCE port makes: 0 or a drop reason. */
static int gsi_check(const struct wire_rx *rx)
{
	if (rx->bth.opcode != GSI_OP_UD_SEND_ONLY ||
	    rx->bth.hdr_len != GSI_HDR_LEN)
		return WIRE_DROP_OPCODE;
	if (get32(rx->ib + WIRE_BTH_LEN) != WIRE_GSI_QKEY)
		return WIRE_DROP_QKEY;
	if (rx->bth.payload_len != WIRE_GSI_MAD_SIZE)
		return WIRE_DROP_LENGTH;
	return 0;
}

int wire_gsi_input(struct wire *w, struct wire_rx *rx)
{
	int drop = gsi_check(rx);

	if (drop)
		return drop;
	pthread_mutex_lock(&gsi_lock);
	if (gsi_fn)
		gsi_fn(w->dev, rx->ends.sgid, rx->ends.dgid,
		       get24(rx->ib + WIRE_BTH_LEN + 5), rx->ib + GSI_HDR_LEN);
	else
		drop = WIRE_DROP_NOTRANSPORT;
	pthread_mutex_unlock(&gsi_lock);
	if (!drop)
		wire_rx_free(rx);
	return drop;
}

int wire_gsi_send(struct wire *w, const uint8_t *sgid, const uint8_t *dgid,
		  const uint8_t *mad)
{
	uint8_t pkt[GSI_HDR_LEN + WIRE_GSI_MAD_SIZE] = { GSI_OP_UD_SEND_ONLY };
	uint32_t psn;

	pthread_mutex_lock(&gsi_lock);
	psn = gsi_psn++ & 0xffffff;
	pthread_mutex_unlock(&gsi_lock);
	pkt[2] = pkt[3] = 0xff; /* the default P_Key */
	put24(pkt + 5, WIRE_GSI_QPN);
	put24(pkt + 9, psn);
	pkt[12] = WIRE_GSI_QKEY >> 24;
	pkt[13] = (WIRE_GSI_QKEY >> 16) & 0xff;
	pkt[14] = (WIRE_GSI_QKEY >> 8) & 0xff;
	pkt[15] = WIRE_GSI_QKEY & 0xff;
	put24(pkt + 17, WIRE_GSI_QPN); /* the source QP: ours is QP1 too */
	memcpy(pkt + GSI_HDR_LEN, mad, WIRE_GSI_MAD_SIZE);
	return wire_send_now(w, sgid, dgid, WIRE_GSI_QPN, pkt, sizeof(pkt));
}
