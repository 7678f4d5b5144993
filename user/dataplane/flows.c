// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <arpa/inet.h>
#include <sys/mman.h>
#include <unistd.h>

#include <bpf/bpf.h>

#include "flows.h"
#include "kanary_abi.h"
#include "kanary_hash.h"

/* kn_flows entries read per syscall. */
#define FLOW_BATCH 4096

/*
 * Is this entry one of a connection to one of eps? The to-endpoint entry
 * leaves toward it (its value); the to-client entry is keyed by the
 * endpoint's tuple, as its packets arrive.
 */
static bool to_endpoint(const struct kanary_flow_key *k,
			const struct kanary_flow *v,
			const struct kn_cendpoint *eps, int n_eps)
{
	uint32_t addr = v->dir == KANARY_DIR_TO_ENDPOINT ? v->daddr : k->saddr;
	uint16_t port = v->dir == KANARY_DIR_TO_ENDPOINT ? v->dport : k->sport;

	for (int i = 0; i < n_eps; i++)
		if (eps[i].addr == addr && eps[i].port == port)
			return true;
	return false;
}

/*
 * Set ejected on the entry at k, read anew: the batch copy may be stale
 * by now. 1 when this call marked it, 0 when it is gone, marked already,
 * or no longer this endpoint's (its key was reused by a new connection).
 *
 * A race remains between the lookup and the update: a change the data
 * path makes to the entry in between (a FIN noted, closed_ns stamped, the
 * first packet's next hop, an L7 state step) is overwritten by this older
 * copy. It is accepted: the connection is being torn down, and the
 * client's next segment deletes both entries whatever they hold (the data
 * path tests ejected before anything else). BPF_EXIST: an entry deleted
 * in between is not brought back.
 */
static int mark_one(int fd, const struct kanary_flow_key *k,
		    const struct kn_cendpoint *eps, int n_eps)
{
	struct kanary_flow v;

	if (bpf_map_lookup_elem(fd, k, &v))
		return errno == ENOENT ? 0 : -1;
	if (v.ejected || !to_endpoint(k, &v, eps, n_eps))
		return 0;
	v.ejected = 1;
	if (bpf_map_update_elem(fd, k, &v, BPF_EXIST))
		return errno == ENOENT ? 0 : -1;
	return 1;
}

static size_t conns_size(uint32_t n)
{
	size_t page = sysconf(_SC_PAGESIZE);

	return (n * sizeof(struct kanary_conn) + page - 1) / page * page;
}

struct kanary_conn *kn_conns_map_any(int fd, uint32_t *n)
{
	struct bpf_map_info info = {};
	uint32_t len = sizeof(info);
	void *p;

	if (bpf_obj_get_info_by_fd(fd, &info, &len))
		return NULL;
	if (info.value_size != sizeof(struct kanary_conn)) {
		errno = EINVAL;
		return NULL;
	}
	p = mmap(NULL, conns_size(info.max_entries), PROT_READ | PROT_WRITE,
		 MAP_SHARED, fd, 0);
	if (p == MAP_FAILED)
		return NULL;
	*n = info.max_entries;
	return p;
}

void kn_conns_unmap_any(struct kanary_conn *recs, uint32_t n)
{
	if (recs)
		munmap(recs, conns_size(n));
}

struct kanary_conn *kn_conns_map(int fd)
{
	uint32_t n;
	struct kanary_conn *recs = kn_conns_map_any(fd, &n);

	if (recs && n != KANARY_CONN_SLOTS) {
		kn_conns_unmap_any(recs, n);
		errno = EINVAL;
		return NULL;
	}
	return recs;
}

void kn_conns_unmap(struct kanary_conn *recs)
{
	kn_conns_unmap_any(recs, KANARY_CONN_SLOTS);
}

long kn_conns_entries(int fd)
{
	struct kanary_conn *recs = kn_conns_map(fd);
	long n = 0;

	if (!recs)
		return -1;
	for (uint32_t s = 0; s < KANARY_CONN_SLOTS; s++) {
		uint64_t claim =
			__atomic_load_n(&recs[s].claim, __ATOMIC_ACQUIRE);

		n += !!(claim & KANARY_CONN_TO_ENDPOINT) +
		     !!(claim & KANARY_CONN_TO_CLIENT);
	}
	kn_conns_unmap(recs);
	return n;
}

int kn_conns_mark_kn_flows(int fd)
{
	struct kanary_conn *recs = kn_conns_map(fd);

	if (!recs)
		return -1;
	for (uint32_t s = 0; s < KANARY_CONN_SLOTS; s++)
		__atomic_fetch_or(&recs[s].claim, KANARY_CONN_KN_FLOWS,
				  __ATOMIC_SEQ_CST);
	kn_conns_unmap(recs);
	return 0;
}

static bool ep_in(uint32_t addr, uint16_t port, const struct kn_cendpoint *eps,
		  int n_eps)
{
	for (int i = 0; i < n_eps; i++)
		if (eps[i].addr == addr && eps[i].port == port)
			return true;
	return false;
}

/*
 * kn_flows_mark_ejected's walk of the records. One byte per entry is
 * written, in place, never the record: the data path may be writing the
 * rest. A record claimed anew while it was marked (its generation
 * changed) is looked at again, and the marks taken back unless the new
 * connection's endpoint is ejected too.
 */
static long mark_records(int fd, const struct kn_cendpoint *eps, int n_eps)
{
	struct kanary_conn *recs = kn_conns_map(fd);
	long n = 0;

	if (!recs)
		return -1;
	for (uint32_t s = 0; s < KANARY_CONN_SLOTS; s++) {
		struct kanary_conn *r = &recs[s];
		struct kanary_flow *to_ep = &r->half[KANARY_DIR_TO_ENDPOINT];
		uint64_t claim = __atomic_load_n(&r->claim, __ATOMIC_ACQUIRE);
		uint64_t now;

		if (!(claim & KANARY_CONN_LIVE) || (claim & KANARY_CONN_BUSY) ||
		    to_ep->ejected ||
		    !ep_in(to_ep->daddr, to_ep->dport, eps, n_eps))
			continue;
		__atomic_store_n(&to_ep->ejected, 1, __ATOMIC_RELAXED);
		__atomic_store_n(&r->half[KANARY_DIR_TO_CLIENT].ejected, 1,
				 __ATOMIC_RELEASE);
		now = __atomic_load_n(&r->claim, __ATOMIC_ACQUIRE);
		if (now >> KANARY_CONN_GEN_SHIFT !=
			    claim >> KANARY_CONN_GEN_SHIFT &&
		    !ep_in(to_ep->daddr, to_ep->dport, eps, n_eps)) {
			__atomic_store_n(&to_ep->ejected, 0, __ATOMIC_RELAXED);
			__atomic_store_n(&r->half[KANARY_DIR_TO_CLIENT].ejected,
					 0, __ATOMIC_RELEASE);
			continue;
		}
		if (claim & KANARY_CONN_TO_ENDPOINT)
			n++;
	}
	kn_conns_unmap(recs);
	return n;
}

/*
 * Call fn(key, value, arg) for every kn_flows entry (fd), read in
 * batches; fn's negative answer stops the walk. 0, or -1 with errno.
 */
static int for_each_flow(int fd,
			 int (*fn)(const struct kanary_flow_key *,
				   const struct kanary_flow *, void *),
			 void *arg)
{
	struct kanary_flow_key *keys = calloc(FLOW_BATCH, sizeof(*keys));
	struct kanary_flow *vals = calloc(FLOW_BATCH, sizeof(*vals));
	__u8 in[64], out[64]; /* opaque batch tokens */
	bool first = true, last = false;
	int rc = -1, saved;

	if (!keys || !vals)
		goto out;
	while (!last) {
		__u32 count = FLOW_BATCH;

		if (bpf_map_lookup_batch(fd, first ? NULL : in, out, keys, vals,
					 &count, NULL)) {
			if (errno != ENOENT)
				goto out;
			last = true; /* count holds the last entries */
		}
		for (__u32 i = 0; i < count; i++)
			if (fn(&keys[i], &vals[i], arg) < 0)
				goto out;
		memcpy(in, out, sizeof(in));
		first = false;
	}
	rc = 0;
out:
	saved = errno;
	free(keys);
	free(vals);
	errno = saved;
	return rc;
}

struct eject_walk {
	int fd;
	const struct kn_cendpoint *eps;
	int n_eps;
	long n;
};

/*
 * Both entries of a connection are in the walk, and each is marked from
 * its own key: no lookup of the twin. The count is of to-endpoint
 * entries, one per connection.
 */
static int eject_one(const struct kanary_flow_key *k,
		     const struct kanary_flow *v, void *arg)
{
	struct eject_walk *w = arg;
	int r;

	if (v->ejected || !to_endpoint(k, v, w->eps, w->n_eps))
		return 0;
	r = mark_one(w->fd, k, w->eps, w->n_eps);
	if (r < 0)
		return -1;
	if (r && v->dir == KANARY_DIR_TO_ENDPOINT)
		w->n++;
	return 0;
}

int kn_flows_mark_ejected(const struct kn_maps *m,
			  const struct kn_cendpoint *eps, int n_eps)
{
	struct eject_walk w = { m->fd[KN_MAP_FLOWS], eps, n_eps, 0 };

	if (!n_eps)
		return 0;
	w.n = mark_records(m->fd[KN_MAP_CONNS], eps, n_eps);
	if (w.n < 0)
		return -1;
	if (for_each_flow(w.fd, eject_one, &w))
		return -1;
	return w.n;
}

struct sweep_walk {
	struct kanary_conn *recs;
	uint32_t seed;
	uint64_t mark;
	long entries;
};

/* Mark the records a kn_flows entry at k may stand in the way of: the
 * one its tuple hashes to, as a client's (conn_hint), and the one its
 * port names, as a reply's (port_in_record). Either kind of entry gets
 * both: one more lookup for a claim, never one too few. */
static int sweep_one(const struct kanary_flow_key *k,
		     const struct kanary_flow *v, void *arg)
{
	struct sweep_walk *w = arg;
	uint32_t port = ntohs(k->dport);

	(void)v;
	w->entries++;
	__atomic_fetch_or(
		&w->recs[conn_first_slot(flow_hash(k, w->seed))].claim, w->mark,
		__ATOMIC_SEQ_CST);
	if (conn_port_range(port))
		__atomic_fetch_or(&w->recs[conn_port_slot(port, k->saddr,
							  k->daddr, k->sport)]
					   .claim,
				  w->mark, __ATOMIC_SEQ_CST);
	return 0;
}

int kn_conns_sweep_marks(const struct kn_maps *m, struct kn_sweep *res)
{
	uint32_t zero = 0, epoch, next;
	struct sweep_walk w = {};
	struct kanary_cfg cfg;
	uint64_t old;
	int rc = -1;

	memset(res, 0, sizeof(*res));
	if (bpf_map_lookup_elem(m->fd[KN_MAP_CFG], &zero, &cfg) ||
	    bpf_map_lookup_elem(m->fd[KN_MAP_MARK_EPOCH], &zero, &epoch))
		return -1;
	w.recs = kn_conns_map(m->fd[KN_MAP_CONNS]);
	if (!w.recs)
		return -1;
	next = (epoch + 1) & 1;
	w.seed = cfg.hash_seed;
	w.mark = KANARY_CONN_MARK(next);
	old = KANARY_CONN_MARK(epoch);
	/* Programs that read the old epoch may still set its mark: once
	 * they are gone, every entry they marked for is in kn_flows. */
	if (bpf_map_update_elem(m->fd[KN_MAP_MARK_EPOCH], &zero, &next, 0) ||
	    kn_wait_for_programs(m) ||
	    for_each_flow(m->fd[KN_MAP_FLOWS], sweep_one, &w))
		goto out;
	for (uint32_t s = 0; s < KANARY_CONN_SLOTS; s++) {
		uint64_t was = __atomic_fetch_and(&w.recs[s].claim, ~old,
						  __ATOMIC_SEQ_CST);

		if (was & KANARY_CONN_KN_FLOWS_ANY)
			res->marked++;
		if ((was & old) && !(was & w.mark))
			res->cleared++;
	}
	res->entries = w.entries;
	rc = 0;
out:
	kn_conns_unmap(w.recs);
	return rc;
}
