// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <sched.h>
#include <stdlib.h>
#include <linux/if_ether.h>
#include <linux/ip.h>
#include <linux/tcp.h>
#include <net/if.h>
#include <bpf/bpf.h>
#include <string.h>

#include "pkt.h"

uint32_t pkt_addr(const char *dotted)
{
	struct in_addr a;

	inet_pton(AF_INET, dotted, &a);
	return a.s_addr;
}

/* Plain RFC 1071 sum, computed from scratch: the reference the BPF
 * program's incremental updates are checked against. */
static uint32_t sum16(const void *data, size_t len, uint32_t sum)
{
	const uint8_t *p = data;

	for (; len > 1; len -= 2, p += 2)
		sum += (p[0] << 8) | p[1];
	if (len)
		sum += p[0] << 8;
	return sum;
}

static uint16_t fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return (uint16_t)~sum;
}

static uint16_t tcp_csum(const struct iphdr *ip, const void *l4, size_t len)
{
	uint32_t sum = 0;

	sum = sum16(&ip->saddr, 8, sum);
	sum += ip->protocol;
	sum += len;
	sum = sum16(l4, len, sum);
	return fold(sum);
}

void pkt_build(const struct pkt_spec *s, struct pkt_buf *b)
{
	struct ethhdr *eth = (void *)b->data;
	struct iphdr *ip = (void *)(eth + 1);
	size_t ihl = s->ihl ? s->ihl : 5;
	struct tcphdr *tcp = (void *)((uint8_t *)ip + ihl * 4);
	size_t l4 = sizeof(*tcp) + s->optlen + s->payload;
	uint8_t *pl = (uint8_t *)(tcp + 1) + s->optlen;

	memset(b, 0, sizeof(*b));
	memcpy(eth->h_dest, "\x02\x00\x00\x00\x00\x01", 6);
	memcpy(eth->h_source, "\x02\x00\x00\x00\x00\x02", 6);
	eth->h_proto = htons(ETH_P_IP);
	ip->version = 4;
	ip->ihl = ihl;
	ip->ttl = 64;
	ip->protocol = s->proto ? s->proto : IPPROTO_TCP;
	ip->saddr = pkt_addr(s->saddr);
	ip->daddr = pkt_addr(s->daddr);
	ip->frag_off = htons(s->frag_off);
	ip->tot_len = htons(ihl * 4 + l4);
	if (ihl > 5)
		memset(ip + 1, 1, (ihl - 5) * 4); /* NOP options */
	tcp->source = htons(s->sport);
	tcp->dest = htons(s->dport);
	tcp->seq = htonl(s->seq);
	tcp->ack_seq = htonl(s->ack);
	tcp->doff = 5 + s->optlen / 4;
	((uint8_t *)tcp)[13] = s->flags;
	tcp->window = htons(s->window ? s->window : 64240);
	if (s->optlen)
		memcpy(tcp + 1, s->opts, s->optlen);
	for (size_t i = 0; i < s->payload; i++)
		pl[i] = s->data ? ((const uint8_t *)s->data)[i] : 'a' + i % 26;
	ip->check = htons(fold(sum16(ip, ihl * 4, 0)));
	tcp->check = htons(tcp_csum(ip, tcp, l4));
	b->len = sizeof(*eth) + ihl * 4 + l4 - s->truncate;
}

bool pkt_csum_looks_partial(const struct pkt_buf *b)
{
	const struct iphdr *ip =
		(const void *)(b->data + sizeof(struct ethhdr));
	const struct tcphdr *tcp =
		(const void *)((const uint8_t *)ip + ip->ihl * 4);
	uint32_t sum = sum16(&ip->saddr, 8, 0) + ip->protocol +
		       ntohs(ip->tot_len) - ip->ihl * 4;
	uint16_t partial = ~fold(sum);

	return ntohs(tcp->check) == partial;
}

int pkt_check(const struct pkt_buf *b, struct pkt_tuple *t)
{
	const struct ethhdr *eth = (const void *)b->data;
	const struct iphdr *ip = (const void *)(eth + 1);
	const struct tcphdr *tcp = (const void *)(ip + 1);
	size_t l4;

	if (b->len < sizeof(*eth) + sizeof(*ip) + sizeof(*tcp) ||
	    eth->h_proto != htons(ETH_P_IP) || ip->protocol != IPPROTO_TCP)
		return -1;
	if (fold(sum16(ip, sizeof(*ip), 0)) != 0)
		return -2;
	l4 = ntohs(ip->tot_len) - sizeof(*ip);
	if (tcp_csum(ip, tcp, l4) != 0)
		return -3;
	t->saddr = ip->saddr;
	t->daddr = ip->daddr;
	t->sport = ntohs(tcp->source);
	t->dport = ntohs(tcp->dest);
	t->flags = ((const uint8_t *)tcp)[13];
	return 0;
}

const char *pkt_lab_dir(void)
{
	const char *d = getenv("KANARY_LAB_DIR");

	return d && *d ? d : "examples/lab";
}

int pkt_lab_netns(void)
{
	if (unshare(CLONE_NEWNET))
		return -1;
	return system("ip link set lo up && "
		      "ip link add c0 address 02:00:00:00:00:01 type veth peer c0p && "
		      "ip addr add 198.18.0.1/24 dev c0 && ip link set c0p up && "
		      "ip link set c0 up && for i in 1 2 3; do "
		      "ip link add e$i address 02:00:00:00:0$i:01 type veth peer e${i}p && "
		      "ip addr add 198.18.$i.1/24 dev e$i && ip link set e${i}p up && "
		      "ip link set e$i up && "
		      "ip neigh add 198.18.$i.2 lladdr 02:00:00:00:0$i:02 dev e$i "
		      "nud permanent; done && "
		      "ip neigh add 198.18.0.2 lladdr 02:00:00:00:00:02 dev c0 "
		      "nud permanent && "
		      "echo 1 > /proc/sys/net/ipv4/ip_forward") ?
		       -1 :
		       0;
}

int pkt_fill_tx_ports(int fd)
{
	static const char *const names[] = { "c0", "e1", "e2", "e3" };

	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		struct bpf_devmap_val v = { .ifindex =
						    if_nametoindex(names[i]) };
		uint32_t key = v.ifindex;

		if (!key || bpf_map_update_elem(fd, &key, &v, 0))
			return -1;
	}
	return 0;
}

int pkt_decode(const struct pkt_buf *b, struct pkt_seg *s)
{
	const struct iphdr *ip =
		(const void *)(b->data + sizeof(struct ethhdr));
	const struct tcphdr *tcp = (const void *)(ip + 1);
	const uint8_t *o = (const uint8_t *)(tcp + 1);
	size_t optlen, i = 0;
	uint32_t v;

	memset(s, 0, sizeof(*s));
	if (pkt_check(b, &s->t))
		return -1;
	s->seq = ntohl(tcp->seq);
	s->ack = ntohl(tcp->ack_seq);
	s->window = ntohs(tcp->window);
	s->doff = tcp->doff;
	s->mss = s->ws = s->sack_ok = -1;
	optlen = tcp->doff * 4 - sizeof(*tcp);
	while (i < optlen && o[i]) {
		if (o[i] == 1) {
			i++;
			continue;
		}
		if (i + 1 >= optlen || o[i + 1] < 2 || i + o[i + 1] > optlen)
			return -1;
		switch (o[i]) {
		case 2:
			s->mss = (o[i + 2] << 8) | o[i + 3];
			break;
		case 3:
			s->ws = o[i + 2];
			break;
		case 4:
			s->sack_ok = 1;
			break;
		case 5:
			for (int k = 0; k + 2 < o[i + 1] && s->n_sack < 8;
			     k += 4) {
				memcpy(&v, o + i + 2 + k, 4);
				s->sack[s->n_sack++] = ntohl(v);
			}
			break;
		case 8:
			s->has_ts = true;
			memcpy(&v, o + i + 2, 4);
			s->tsval = ntohl(v);
			memcpy(&v, o + i + 6, 4);
			s->tsecr = ntohl(v);
			break;
		}
		i += o[i + 1];
	}
	s->payload = (const uint8_t *)tcp + tcp->doff * 4;
	s->len = ntohs(ip->tot_len) - sizeof(*ip) - tcp->doff * 4;
	return 0;
}

void pkt_ts_opt(uint8_t o[12], uint32_t val, uint32_t ecr)
{
	o[0] = 1;
	o[1] = 1;
	o[2] = 8;
	o[3] = 10;
	val = htonl(val);
	ecr = htonl(ecr);
	memcpy(o + 4, &val, 4);
	memcpy(o + 8, &ecr, 4);
}
