// SPDX-License-Identifier: MIT
/*
 * "softverbs trace NAME FILE.pcap": every packet the device sends or
 * receives (received ones before validation, so a bad one can be looked
 * at) as a raw IP packet (LINKTYPE_RAW) that Wireshark and tshark decode
 * as RoCEv2 (RRoCE, UDP port 4791). The IP and UDP headers are rebuilt
 * as they were on the wire: IPv4 with ID 0 and DF, real checksums.
 */
#include <endian.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "wire_int.h"

#define LINKTYPE_RAW 101

struct wire_pcap {
	FILE *f;
};

struct pcap_file_hdr {
	uint32_t magic;
	uint16_t major, minor;
	int32_t zone;
	uint32_t sigfigs, snaplen, linktype;
};

struct pcap_rec_hdr {
	uint32_t sec, usec, caplen, len;
};

int wire_pcap_open(struct wire_pcap **pp, const char *path)
{
	struct pcap_file_hdr h = { .magic = 0xa1b2c3d4, .major = 2,
				   .minor = 4, .snaplen = 65535,
				   .linktype = LINKTYPE_RAW };
	struct wire_pcap *p = calloc(1, sizeof(*p));

	if (!p)
		return -ENOMEM;
	p->f = fopen(path, "we");
	if (!p->f || fwrite(&h, sizeof(h), 1, p->f) != 1) {
		int err = errno ? -errno : -EIO;

		if (p->f)
			fclose(p->f);
		free(p);
		return err;
	}
	*pp = p;
	return 0;
}

void wire_pcap_close(struct wire_pcap *p)
{
	if (!p)
		return;
	fclose(p->f);
	free(p);
}

static uint32_t sum16(uint32_t s, const uint8_t *p, size_t n)
{
	for (; n > 1; n -= 2, p += 2)
		s += (uint32_t)(p[0] << 8 | p[1]);
	if (n)
		s += (uint32_t)p[0] << 8;
	return s;
}

static uint16_t fold(uint32_t s)
{
	while (s >> 16)
		s = (s & 0xffff) + (s >> 16);
	return (uint16_t)~s;
}

static void put16(uint8_t *p, uint16_t v)
{
	p[0] = v >> 8;
	p[1] = v & 0xff;
}

/* IP + UDP headers as sent; returns their length. */
static size_t ip_udp(const struct wire_ends *e, size_t udp_len, uint8_t *h)
{
	bool v4 = wire_gid_is_v4(e->dgid);
	size_t ip = v4 ? 20 : 40;

	memset(h, 0, ip + 8);
	if (v4) {
		h[0] = 0x45;
		put16(h + 2, (uint16_t)(20 + udp_len));
		put16(h + 4, e->ip_id);
		h[6] = 0x40;
		h[8] = 64;
		h[9] = 17;
		memcpy(h + 12, e->sgid + 12, 4);
		memcpy(h + 16, e->dgid + 12, 4);
		put16(h + 10, fold(sum16(0, h, 20)));
	} else {
		h[0] = 0x60;
		put16(h + 4, (uint16_t)udp_len);
		h[6] = 17;
		h[7] = 64;
		memcpy(h + 8, e->sgid, 16);
		memcpy(h + 24, e->dgid, 16);
	}
	put16(h + ip, e->sport);
	put16(h + ip + 2, e->dport);
	put16(h + ip + 4, (uint16_t)udp_len);
	return ip + 8;
}

/* The UDP checksum over the pseudo header, UDP header and data. */
static uint16_t udp_csum(const uint8_t *h, size_t ip, const uint8_t *ib,
			 size_t len, const uint8_t *icrc, size_t udp_len)
{
	uint32_t s = 17 + (uint32_t)udp_len;
	uint16_t c;

	s = sum16(s, h + (ip == 20 ? 12 : 8), ip == 20 ? 8 : 32);
	s = sum16(s, h + ip, 8);
	/* ib may be odd-length only in a malformed packet: keep alignment */
	s = sum16(s, ib, len & ~(size_t)1);
	if (len & 1) {
		uint8_t two[2] = { ib[len - 1], icrc[0] };

		s = sum16(s, two, 2);
		s = sum16(s, icrc + 1, 3);
	} else {
		s = sum16(s, icrc, 4);
	}
	c = fold(s);
	return c ? c : 0xffff;
}

void wire_pcap_write(struct wire_pcap *p, const struct wire_ends *e,
		     const uint8_t *ib, size_t len, uint32_t icrc)
{
	uint8_t h[48], crc[4];
	size_t udp_len = 8 + len + 4, hl = ip_udp(e, udp_len, h);
	struct pcap_rec_hdr r;
	struct timespec ts;

	crc[0] = icrc & 0xff;
	crc[1] = (icrc >> 8) & 0xff;
	crc[2] = (icrc >> 16) & 0xff;
	crc[3] = icrc >> 24;
	put16(h + hl - 2, udp_csum(h, hl - 8, ib, len, crc, udp_len));
	clock_gettime(CLOCK_REALTIME, &ts);
	r.sec = (uint32_t)ts.tv_sec;
	r.usec = (uint32_t)(ts.tv_nsec / 1000);
	r.caplen = r.len = (uint32_t)(hl + len + 4);
	fwrite(&r, sizeof(r), 1, p->f);
	fwrite(h, hl, 1, p->f);
	fwrite(ib, len, 1, p->f);
	fwrite(crc, 4, 1, p->f);
}

/* Start (path) or stop (NULL) tracing a device's packets. */
int wire_trace(struct wire *w, const char *path)
{
	struct wire_pcap *p = NULL, *old;
	int ret = path ? wire_pcap_open(&p, path) : 0;

	if (ret)
		return ret;
	pthread_mutex_lock(&w->trace_lock);
	old = w->pcap;
	w->pcap = p;
	pthread_mutex_unlock(&w->trace_lock);
	wire_pcap_close(old);
	return 0;
}

void wire_trace_pkt(struct wire *w, const struct wire_ends *e,
		    const uint8_t *ib, size_t len, uint32_t icrc)
{
	/* A racy peek: the lock is taken only while a trace runs. */
	if (!__atomic_load_n(&w->pcap, __ATOMIC_RELAXED))
		return;
	pthread_mutex_lock(&w->trace_lock);
	if (w->pcap)
		wire_pcap_write(w->pcap, e, ib, len, icrc);
	pthread_mutex_unlock(&w->trace_lock);
}
