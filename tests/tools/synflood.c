// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * synflood: a bounded TCP SYN flood for the kanary test lab.
 *
 *   synflood --dst ADDR:PORT [--src ADDR[/LEN]] [--count N] [--seconds S]
 *            [--rate PPS] [--batch B] [--bare]
 *
 * Sends TCP SYNs to ADDR:PORT with random source ports, ISNs, IP IDs and
 * TCP timestamps, from the source address the kernel would use toward ADDR
 * (the namespace's own address) or, with --src, from random addresses of
 * that prefix (spoofed). Every address, source and destination, must lie in
 * 198.18.0.0/15 (RFC 2544's benchmarking range, the only one the lab uses):
 * anything else is refused before a packet is built.
 *
 * It stops at whichever comes first: N packets sent (--count, default
 * 1000000), S seconds elapsed (--seconds, default 5), or SIGINT/SIGTERM.
 * --rate PPS paces the packets (default: as fast as the kernel takes
 * them). On exit it prints one line on stdout:
 *
 *   sent=N seconds=S rate=R
 *
 * N: packets the kernel accepted, S: wall time of the sending loop, R: N/S
 * rounded. Errors and warnings go to stderr; exit status 0, 1 on an error,
 * 2 on a usage error.
 *
 * Each SYN looks like Linux's own (MSS 1460, SACK permitted, timestamps,
 * window scale 7; 60 bytes) unless --bare (no options; 40 bytes). IP and
 * TCP checksums are computed in full here: nothing is left to offload.
 *
 * Why IPPROTO_RAW and not AF_PACKET: the kernel routes each packet and
 * resolves the next hop's MAC itself (no interface or MAC to pass in), the
 * packets leave through the namespace's normal egress path like any host's
 * traffic, and a raw IPv4 socket with its own header keeps whatever source
 * address is written in it (IP_HDRINCL routes with FLOWI_FLAG_ANYSRC). The
 * cost is a route lookup per packet, which the lab's veth rates do not
 * notice; sendmmsg() amortises the system call over --batch packets.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/ip.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define TEST_NET 0xc6120000u /* 198.18.0.0 */
#define TEST_MASK 0xfffe0000u /* /15 */
#define MAX_BATCH 256
#define OPT_LEN 20
#define PKT_MAX (sizeof(struct iphdr) + sizeof(struct tcphdr) + OPT_LEN)

static volatile sig_atomic_t stop;

static void on_signal(int sig)
{
	(void)sig;
	stop = 1;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: synflood --dst ADDR:PORT [--src ADDR[/LEN]] [--count N] [--seconds S]\n"
		"                [--rate PPS] [--batch B] [--bare]\n"
		"Sends TCP SYNs inside 198.18.0.0/15 only; stops after N packets or S seconds\n"
		"(defaults 1000000 and 5), prints \"sent=N seconds=S rate=R\".\n");
}

static int in_test_net(uint32_t a)
{
	return (a & TEST_MASK) == TEST_NET;
}

/* xorshift64*: fast, and good enough for ports and sequence numbers. */
static uint64_t rng;

static uint32_t rnd32(void)
{
	rng ^= rng >> 12;
	rng ^= rng << 25;
	rng ^= rng >> 27;
	return (uint32_t)((rng * 0x2545f4914f6cdd1dull) >> 32);
}

static uint32_t csum_add(uint32_t sum, const void *data, size_t len)
{
	const uint8_t *p = data;

	while (len > 1) {
		sum += (uint32_t)p[0] << 8 | p[1];
		p += 2;
		len -= 2;
	}
	if (len)
		sum += (uint32_t)p[0] << 8;
	return sum;
}

static uint16_t csum_fold(uint32_t sum)
{
	while (sum >> 16)
		sum = (sum & 0xffff) + (sum >> 16);
	return htons((uint16_t)~sum);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void sleep_until(double t)
{
	struct timespec ts;

	ts.tv_sec = (time_t)t;
	ts.tv_nsec = (long)((t - ts.tv_sec) * 1e9);
	while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) ==
		       EINTR &&
	       !stop)
		;
}

/* "a.b.c.d:port" */
static int parse_dst(const char *s, struct in_addr *a, uint16_t *port)
{
	char buf[64], *colon, *end;
	unsigned long p;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	colon = strrchr(buf, ':');
	if (!colon)
		return -1;
	*colon = '\0';
	errno = 0;
	p = strtoul(colon + 1, &end, 10);
	if (errno || *end || end == colon + 1 || p == 0 || p > 65535)
		return -1;
	if (inet_pton(AF_INET, buf, a) != 1)
		return -1;
	*port = (uint16_t)p;
	return 0;
}

/* "a.b.c.d" or "a.b.c.d/len" */
static int parse_prefix(const char *s, uint32_t *net, int *len)
{
	char buf[64], *slash, *end;
	struct in_addr a;
	long l = 32;

	if (strlen(s) >= sizeof(buf))
		return -1;
	strcpy(buf, s);
	slash = strchr(buf, '/');
	if (slash) {
		*slash = '\0';
		errno = 0;
		l = strtol(slash + 1, &end, 10);
		if (errno || *end || end == slash + 1 || l < 0 || l > 32)
			return -1;
	}
	if (inet_pton(AF_INET, buf, &a) != 1)
		return -1;
	*net = ntohl(a.s_addr);
	*len = (int)l;
	if (l < 32)
		*net &= ~(0xffffffffu >> l);
	return 0;
}

/* The source address the kernel picks toward dst (nothing is sent). */
static int own_address(struct in_addr dst, uint16_t port, uint32_t *out)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr = dst,
				  .sin_port = htons(port) };
	socklen_t sl = sizeof(sa);
	int fd = socket(AF_INET, SOCK_DGRAM, 0);

	if (fd < 0)
		return -1;
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) ||
	    getsockname(fd, (struct sockaddr *)&sa, &sl)) {
		close(fd);
		return -1;
	}
	close(fd);
	*out = ntohl(sa.sin_addr.s_addr);
	return 0;
}

static unsigned long long parse_num(const char *opt, const char *s,
				    unsigned long long max)
{
	char *end;
	unsigned long long v;

	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end || end == s || *s == '-' || v == 0 || v > max) {
		fprintf(stderr,
			"synflood: %s needs a whole number from 1 to %llu, not '%s'\n",
			opt, max, s);
		exit(2);
	}
	return v;
}

struct flood {
	uint32_t dst; /* host order */
	uint16_t dport;
	uint32_t src_net; /* host order */
	uint32_t src_span; /* addresses to draw from: src_net + [lo, lo+span) */
	uint32_t src_lo;
	int bare;
};

static uint32_t pick_src(const struct flood *f)
{
	uint32_t a;

	if (f->src_span <= 1)
		return f->src_net + f->src_lo;
	do
		a = f->src_net + f->src_lo + rnd32() % f->src_span;
	while (a == f->dst);
	return a;
}

/* One SYN into buf; returns its length. */
static size_t build_syn(const struct flood *f, uint8_t *buf)
{
	struct iphdr *ip = (struct iphdr *)buf;
	struct tcphdr *tcp = (struct tcphdr *)(ip + 1);
	uint8_t *opt = (uint8_t *)(tcp + 1);
	size_t tcp_len = sizeof(*tcp) + (f->bare ? 0 : OPT_LEN);
	size_t len = sizeof(*ip) + tcp_len;
	uint32_t sum, tsval;
	uint16_t sport;
	struct {
		uint32_t saddr, daddr;
		uint8_t zero, proto;
		uint16_t len;
	} __attribute__((packed)) ph;

	memset(buf, 0, len);
	ip->version = 4;
	ip->ihl = 5;
	ip->tot_len = htons((uint16_t)len);
	ip->id = htons((uint16_t)rnd32());
	ip->frag_off = htons(IP_DF);
	ip->ttl = 64;
	ip->protocol = IPPROTO_TCP;
	ip->saddr = htonl(pick_src(f));
	ip->daddr = htonl(f->dst);
	ip->check = csum_fold(csum_add(0, ip, sizeof(*ip)));

	do
		sport = (uint16_t)rnd32();
	while (sport < 1024);
	tcp->source = htons(sport);
	tcp->dest = htons(f->dport);
	tcp->seq = htonl(rnd32());
	tcp->doff = (uint16_t)(tcp_len / 4);
	tcp->syn = 1;
	tcp->window = htons(64240);
	if (!f->bare) {
		/* MSS 1460, SACK_PERM, TS (tsval, 0), NOP, WS 7: Linux's order */
		tsval = rnd32();
		opt[0] = 2, opt[1] = 4, opt[2] = 1460 >> 8, opt[3] = 1460 & 0xff;
		opt[4] = 4, opt[5] = 2;
		opt[6] = 8, opt[7] = 10;
		opt[8] = tsval >> 24, opt[9] = tsval >> 16, opt[10] = tsval >> 8,
		opt[11] = tsval;
		/* opt[12..15]: TSecr 0 */
		opt[16] = 1;
		opt[17] = 3, opt[18] = 3, opt[19] = 7;
	}
	ph.saddr = ip->saddr;
	ph.daddr = ip->daddr;
	ph.zero = 0;
	ph.proto = IPPROTO_TCP;
	ph.len = htons((uint16_t)tcp_len);
	sum = csum_add(0, &ph, sizeof(ph));
	sum = csum_add(sum, tcp, tcp_len);
	tcp->check = csum_fold(sum);
	return len;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "dst", required_argument, NULL, 'd' },
		{ "src", required_argument, NULL, 's' },
		{ "count", required_argument, NULL, 'n' },
		{ "seconds", required_argument, NULL, 't' },
		{ "rate", required_argument, NULL, 'r' },
		{ "batch", required_argument, NULL, 'b' },
		{ "bare", no_argument, NULL, 'B' },
		{ "help", no_argument, NULL, 'h' },
		{ 0 },
	};
	static uint8_t pkts[MAX_BATCH][PKT_MAX];
	static struct iovec iov[MAX_BATCH];
	static struct mmsghdr msgs[MAX_BATCH];
	const char *dst_arg = NULL, *src_arg = NULL;
	unsigned long long count = 1000000, seconds = 5, rate = 0, sent = 0,
			   errors = 0;
	unsigned batch = 64;
	struct flood f = { 0 };
	struct sockaddr_in sa = { .sin_family = AF_INET };
	struct in_addr dst;
	struct sigaction sig = { .sa_handler = on_signal };
	double t0, t1, deadline;
	int c, fd, src_len = 32, last_errno = 0;
	uint32_t src_net;
	char a1[INET_ADDRSTRLEN], a2[INET_ADDRSTRLEN];

	while ((c = getopt_long(argc, argv, "d:s:n:t:r:b:Bh", opts, NULL)) !=
	       -1) {
		switch (c) {
		case 'd':
			dst_arg = optarg;
			break;
		case 's':
			src_arg = optarg;
			break;
		case 'n':
			count = parse_num("--count", optarg, 1000000000ull);
			break;
		case 't':
			seconds = parse_num("--seconds", optarg, 3600);
			break;
		case 'r':
			rate = parse_num("--rate", optarg, 100000000ull);
			break;
		case 'b':
			batch = (unsigned)parse_num("--batch", optarg, MAX_BATCH);
			break;
		case 'B':
			f.bare = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return 2;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "synflood: unexpected argument '%s'\n",
			argv[optind]);
		usage(stderr);
		return 2;
	}
	if (!dst_arg) {
		fprintf(stderr, "synflood: --dst ADDR:PORT is required\n");
		usage(stderr);
		return 2;
	}
	if (parse_dst(dst_arg, &dst, &f.dport)) {
		fprintf(stderr,
			"synflood: --dst needs IPv4ADDR:PORT (port 1-65535), not '%s'\n",
			dst_arg);
		return 2;
	}
	f.dst = ntohl(dst.s_addr);
	if (!in_test_net(f.dst)) {
		fprintf(stderr,
			"synflood: refusing destination %s: only addresses in 198.18.0.0/15 "
			"(the test network) may be flooded\n",
			inet_ntop(AF_INET, &dst, a1, sizeof(a1)));
		return 2;
	}

	if (src_arg) {
		if (parse_prefix(src_arg, &src_net, &src_len)) {
			fprintf(stderr,
				"synflood: --src needs IPv4ADDR or IPv4ADDR/LEN, not '%s'\n",
				src_arg);
			return 2;
		}
		if (src_len < 15 || !in_test_net(src_net)) {
			fprintf(stderr,
				"synflood: refusing source %s: only sources inside 198.18.0.0/15 "
				"(the test network) may be used\n",
				src_arg);
			return 2;
		}
	} else if (own_address(dst, f.dport, &src_net)) {
		fprintf(stderr, "synflood: no route to %s: %s\n",
			inet_ntop(AF_INET, &dst, a1, sizeof(a1)),
			strerror(errno));
		return 1;
	} else if (!in_test_net(src_net)) {
		struct in_addr s = { htonl(src_net) };

		fprintf(stderr,
			"synflood: refusing source %s (this namespace's address toward %s): "
			"only sources inside 198.18.0.0/15 (the test network) may be used; "
			"pass --src\n",
			inet_ntop(AF_INET, &s, a1, sizeof(a1)),
			inet_ntop(AF_INET, &dst, a2, sizeof(a2)));
		return 2;
	}
	f.src_net = src_net;
	if (src_len >= 31) {
		/* one address, or a point-to-point pair: use them all */
		f.src_lo = 0;
		f.src_span = 1u << (32 - src_len);
	} else {
		/* not the network and broadcast addresses */
		f.src_lo = 1;
		f.src_span = (1u << (32 - src_len)) - 2;
	}
	if (f.src_span == 1 && f.src_net == f.dst) {
		fprintf(stderr,
			"synflood: the source is the destination itself\n");
		return 2;
	}
	if (f.src_span == 2 && (f.src_net == f.dst || f.src_net + 1 == f.dst)) {
		/* pick_src() skips dst: one address left */
		f.src_lo = f.src_net == f.dst ? 1 : 0;
		f.src_span = 1;
	}

	if (getrandom(&rng, sizeof(rng), 0) != sizeof(rng) || !rng)
		rng = (uint64_t)time(NULL) * 0x9e3779b97f4a7c15ull | 1;

	fd = socket(AF_INET, SOCK_RAW, IPPROTO_RAW);
	if (fd < 0) {
		fprintf(stderr, "synflood: raw socket: %s%s\n", strerror(errno),
			errno == EPERM ? " (needs CAP_NET_RAW)" : "");
		return 1;
	}
	sa.sin_addr = dst; /* port unused by raw sockets */

	if (rate && rate < batch)
		batch = (unsigned)rate; /* at least one burst per second */
	for (unsigned i = 0; i < MAX_BATCH; i++) {
		iov[i].iov_base = pkts[i];
		msgs[i].msg_hdr.msg_iov = &iov[i];
		msgs[i].msg_hdr.msg_iovlen = 1;
		msgs[i].msg_hdr.msg_name = &sa;
		msgs[i].msg_hdr.msg_namelen = sizeof(sa);
	}

	sigaction(SIGINT, &sig, NULL);
	sigaction(SIGTERM, &sig, NULL);

	t0 = now_s();
	deadline = t0 + (double)seconds;
	while (!stop && sent < count) {
		unsigned n = batch, done = 0;
		double t;

		if (count - sent < n)
			n = (unsigned)(count - sent);
		for (unsigned i = 0; i < n; i++)
			iov[i].iov_len = build_syn(&f, pkts[i]);
		if (rate) /* the batch leaves when its first packet is due */
			sleep_until(t0 + (double)sent / (double)rate);
		t = now_s();
		if (t >= deadline || stop)
			break;
		while (done < n && !stop) {
			int r = sendmmsg(fd, msgs + done, n - done, 0);

			if (r < 0) {
				if (errno == EINTR)
					continue;
				/* ENOBUFS and the like: count it, drop it */
				last_errno = errno;
				errors++;
				done++;
				continue;
			}
			done += (unsigned)r;
			sent += (unsigned)r;
		}
	}
	t1 = now_s();
	close(fd);

	if (errors)
		fprintf(stderr, "synflood: %llu packets not sent (last error: %s)\n",
			errors, strerror(last_errno));
	printf("sent=%llu seconds=%.3f rate=%.0f\n", sent, t1 - t0,
	       t1 > t0 ? (double)sent / (t1 - t0) : 0.0);
	fflush(stdout);
	return sent > 0 ? 0 : 1;
}
