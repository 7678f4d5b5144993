// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Writing the model back as YAML, one document per resource, in a
 * canonical form: apiVersion, kind, metadata {name, namespace}, and a spec
 * holding exactly what config.h keeps. libyaml's emitter does the quoting,
 * so any string survives the trip; strings that another YAML reader would
 * take for a number, a boolean or null are quoted on top of that.
 */
#define _GNU_SOURCE /* asprintf */
#include <arpa/inet.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include <yaml.h>

#include "config.h"

#define KN_WR_ISTIO_API "networking.istio.io/v1alpha3"

struct kn_wr {
	yaml_emitter_t em;
	bool failed; /* sticky: later events are dropped */
	bool origins; /* kn_config_write_state */
	const char *cwd; /* for relative file names; NULL if unknown */
};

static void kn_wr_emit(struct kn_wr *w, yaml_event_t *ev)
{
	/* The emitter owns the event from here on, even when it fails. */
	if (w->failed)
		yaml_event_delete(ev);
	else if (!yaml_emitter_emit(&w->em, ev))
		w->failed = true;
}

/*
 * Would a YAML 1.1 or 1.2 reader resolve s to something other than a
 * string? Then it must be quoted. Anything starting like a number counts.
 */
static bool kn_wr_ambiguous(const char *s)
{
	static const char *const words[] = {
		"~",  "null", "true", "false", "yes", "no",
		"on", "off",  "y",    "n",     "<<",  "=",
	};
	size_t i;

	if (!*s || strchr("0123456789-+.", s[0]))
		return true;
	for (i = 0; i < sizeof(words) / sizeof(words[0]); i++)
		if (!strcasecmp(s, words[i]))
			return true;
	return false;
}

static void kn_wr_scalar(struct kn_wr *w, const char *s,
			 yaml_scalar_style_t style)
{
	yaml_event_t ev;

	if (!yaml_scalar_event_initialize(&ev, NULL, NULL, (yaml_char_t *)s,
					  strlen(s), 1, 1, style)) {
		w->failed = true;
		return;
	}
	kn_wr_emit(w, &ev);
}

static void kn_wr_str(struct kn_wr *w, const char *s)
{
	kn_wr_scalar(w, s ? s : "",
		     kn_wr_ambiguous(s ? s : "") ?
			     YAML_SINGLE_QUOTED_SCALAR_STYLE :
			     YAML_ANY_SCALAR_STYLE);
}

static void kn_wr_int(struct kn_wr *w, long long v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%lld", v);
	kn_wr_scalar(w, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void kn_wr_map(struct kn_wr *w, bool flow)
{
	yaml_event_t ev;

	yaml_mapping_start_event_initialize(&ev, NULL, NULL, 1,
					    flow ? YAML_FLOW_MAPPING_STYLE :
						   YAML_BLOCK_MAPPING_STYLE);
	kn_wr_emit(w, &ev);
}

static void kn_wr_map_end(struct kn_wr *w)
{
	yaml_event_t ev;

	yaml_mapping_end_event_initialize(&ev);
	kn_wr_emit(w, &ev);
}

static void kn_wr_seq(struct kn_wr *w)
{
	yaml_event_t ev;

	yaml_sequence_start_event_initialize(&ev, NULL, NULL, 1,
					     YAML_BLOCK_SEQUENCE_STYLE);
	kn_wr_emit(w, &ev);
}

static void kn_wr_seq_end(struct kn_wr *w)
{
	yaml_event_t ev;

	yaml_sequence_end_event_initialize(&ev);
	kn_wr_emit(w, &ev);
}

static void kn_wr_key_str(struct kn_wr *w, const char *key, const char *v)
{
	kn_wr_str(w, key);
	kn_wr_str(w, v);
}

static void kn_wr_key_int(struct kn_wr *w, const char *key, long long v)
{
	kn_wr_str(w, key);
	kn_wr_int(w, v);
}

/* key: [strings...], left out when empty: the reader takes both alike. */
static void kn_wr_strv(struct kn_wr *w, const char *key, int n, char **v)
{
	int i;

	if (!n)
		return;
	kn_wr_str(w, key);
	kn_wr_seq(w);
	for (i = 0; i < n; i++)
		kn_wr_str(w, v[i]);
	kn_wr_seq_end(w);
}

static void kn_wr_labels(struct kn_wr *w, const char *key,
			 const struct kn_labels *l)
{
	int i;

	if (!l->n)
		return;
	kn_wr_str(w, key);
	kn_wr_map(w, false);
	for (i = 0; i < l->n; i++)
		kn_wr_key_str(w, l->kv[i].key, l->kv[i].value);
	kn_wr_map_end(w);
}

/* ------------------------------------------------------------------ */
/* Specs */

static void kn_wr_gateway(struct kn_wr *w, const struct kn_gateway *gw)
{
	const struct kn_gw_server *s;
	int i;

	kn_wr_labels(w, "selector", &gw->selector);
	kn_wr_str(w, "servers");
	kn_wr_seq(w);
	for (i = 0; i < gw->n_servers; i++) {
		s = &gw->servers[i];
		kn_wr_map(w, false);
		kn_wr_str(w, "port");
		kn_wr_map(w, false);
		kn_wr_key_int(w, "number", s->port);
		if (s->port_name)
			kn_wr_key_str(w, "name", s->port_name);
		if (s->protocol)
			kn_wr_key_str(w, "protocol", s->protocol);
		kn_wr_map_end(w);
		kn_wr_strv(w, "hosts", s->n_hosts, s->hosts);
		/* Only what kanary does: other modes and httpsRedirect
		 * were warned about, and are dropped like ignored fields. */
		if (s->tls_mode && !strcmp(s->tls_mode, "PASSTHROUGH")) {
			kn_wr_str(w, "tls");
			kn_wr_map(w, false);
			kn_wr_key_str(w, "mode", s->tls_mode);
			kn_wr_map_end(w);
		}
		kn_wr_map_end(w);
	}
	kn_wr_seq_end(w);
}

static void kn_wr_service(struct kn_wr *w, const struct kn_service *svc)
{
	const struct kn_service_port *p;
	int i;

	kn_wr_str(w, "ports");
	kn_wr_seq(w);
	for (i = 0; i < svc->n_ports; i++) {
		p = &svc->ports[i];
		kn_wr_map(w, false);
		if (p->name)
			kn_wr_key_str(w, "name", p->name);
		kn_wr_key_int(w, "port", p->port);
		kn_wr_key_int(w, "targetPort", p->target_port);
		if (p->protocol)
			kn_wr_key_str(w, "protocol", p->protocol);
		kn_wr_map_end(w);
	}
	kn_wr_seq_end(w);
	kn_wr_labels(w, "selector", &svc->selector);
}

/* A duration in the largest unit that keeps it whole: 2s, 500ms, 1m. */
static void kn_wr_duration(struct kn_wr *w, const char *key, uint32_t ms)
{
	char buf[24];

	if (ms && !(ms % 3600000))
		snprintf(buf, sizeof(buf), "%uh", ms / 3600000);
	else if (ms && !(ms % 60000))
		snprintf(buf, sizeof(buf), "%um", ms / 60000);
	else if (ms && !(ms % 1000))
		snprintf(buf, sizeof(buf), "%us", ms / 1000);
	else
		snprintf(buf, sizeof(buf), "%ums", ms);
	/* A number and a unit is a string to every YAML reader: no quotes. */
	kn_wr_str(w, key);
	kn_wr_scalar(w, buf, YAML_PLAIN_SCALAR_STYLE);
}

static void kn_wr_policy(struct kn_wr *w, const struct kn_outlier *o)
{
	if (!o->set)
		return;
	kn_wr_str(w, "trafficPolicy");
	kn_wr_map(w, false);
	kn_wr_str(w, "outlierDetection");
	kn_wr_map(w, false);
	if (o->has_interval)
		kn_wr_duration(w, "interval", o->interval_ms);
	if (o->has_gateway_errors)
		kn_wr_key_int(w, "consecutiveGatewayErrors", o->gateway_errors);
	if (o->has_5xx_errors)
		kn_wr_key_int(w, "consecutive5xxErrors", o->errors_5xx);
	if (o->has_base_ejection)
		kn_wr_duration(w, "baseEjectionTime", o->base_ejection_ms);
	if (o->has_max_ejection)
		kn_wr_key_int(w, "maxEjectionPercent", o->max_ejection_pct);
	kn_wr_map_end(w);
	kn_wr_map_end(w);
}

static bool kn_wr_has_check(const struct kn_health_check *hc)
{
	return hc->http_path || hc->http_expect || hc->timeout_ms ||
	       hc->healthy_threshold || hc->fallback;
}

/* The health.kanary.io/ annotations of a DestinationRule. */
static void kn_wr_check(struct kn_wr *w, const struct kn_health_check *hc)
{
	if (hc->http_path)
		kn_wr_key_str(w, "health.kanary.io/http-path", hc->http_path);
	if (hc->http_expect)
		kn_wr_key_str(w, "health.kanary.io/http-expect",
			      hc->http_expect);
	if (hc->timeout_ms)
		kn_wr_duration(w, "health.kanary.io/timeout", hc->timeout_ms);
	if (hc->healthy_threshold) {
		char buf[16];

		/* Annotation values are strings: quoted by kn_wr_str. */
		snprintf(buf, sizeof(buf), "%u", hc->healthy_threshold);
		kn_wr_key_str(w, "health.kanary.io/healthy-threshold", buf);
	}
	if (hc->fallback)
		kn_wr_key_str(w, "health.kanary.io/fallback", "true");
}

struct kn_wr_lines {
	char *buf;
	size_t len, cap;
};

static void kn_wr_add_line(struct kn_src *src, void *arg)
{
	struct kn_wr_lines *l = arg;
	char num[16];
	int n;

	n = snprintf(num, sizeof(num), "%s%d", l->len ? " " : "", src->line);
	if (l->len + n + 1 > l->cap) {
		l->cap = l->cap ? 2 * l->cap : 256;
		l->buf = realloc(l->buf, l->cap);
		if (!l->buf) {
			fputs("kanary: out of memory\n", stderr);
			abort();
		}
	}
	memcpy(l->buf + l->len, num, n + 1);
	l->len += n;
}

/*
 * Where r was applied from: its file, absolute since the next command may
 * run elsewhere ("<stdin>" stays as it is), and the line of each kn_src in
 * kn_resource_srcs order (0: none).
 */
static void kn_wr_origin(struct kn_wr *w, const struct kn_resource *r)
{
	struct kn_wr_lines l = { 0 };
	const char *file = r->src.file;
	char *abs = NULL;

	if (w->cwd && file[0] != '/' && file[0] != '<' &&
	    asprintf(&abs, "%s/%s", w->cwd, file) > 0)
		file = abs;
	kn_wr_key_str(w, KN_SOURCE_ANNOTATION, file);
	/* The callback only reads: const is cast away for the walk. */
	kn_resource_srcs((struct kn_resource *)r, kn_wr_add_line, &l);
	kn_wr_key_str(w, KN_SOURCE_LINES_ANNOTATION, l.buf);
	free(l.buf);
	free(abs);
}

static void kn_wr_annotations(struct kn_wr *w, const struct kn_resource *r)
{
	bool check = r->kind == KN_DESTINATIONRULE &&
		     kn_wr_has_check(&r->dr.check);
	bool origin = w->origins && r->src.file;

	if (!check && !origin)
		return;
	kn_wr_str(w, "annotations");
	kn_wr_map(w, false);
	if (check)
		kn_wr_check(w, &r->dr.check);
	if (origin)
		kn_wr_origin(w, r);
	kn_wr_map_end(w);
}

static void kn_wr_destrule(struct kn_wr *w, const struct kn_destrule *dr)
{
	int i;

	kn_wr_key_str(w, "host", dr->host);
	kn_wr_policy(w, &dr->outlier);
	if (!dr->n_subsets)
		return;
	kn_wr_str(w, "subsets");
	kn_wr_seq(w);
	for (i = 0; i < dr->n_subsets; i++) {
		kn_wr_map(w, false);
		kn_wr_key_str(w, "name", dr->subsets[i].name);
		kn_wr_labels(w, "labels", &dr->subsets[i].labels);
		kn_wr_policy(w, &dr->subsets[i].outlier);
		kn_wr_map_end(w);
	}
	kn_wr_seq_end(w);
}

static void kn_wr_strmatch(struct kn_wr *w, const struct kn_str_match *m)
{
	static const char *const kinds[] = {
		[KN_MATCH_EXACT] = "exact",
		[KN_MATCH_PREFIX] = "prefix",
		[KN_MATCH_REGEX] = "regex",
	};

	/* Presence is Istio's empty StringMatch, written "{}". */
	kn_wr_map(w, m->kind == KN_MATCH_PRESENT);
	if (m->kind != KN_MATCH_PRESENT && m->kind <= KN_MATCH_REGEX)
		kn_wr_key_str(w, kinds[m->kind], m->value);
	kn_wr_map_end(w);
}

static void kn_wr_headers(struct kn_wr *w, const char *key, int n,
			  const struct kn_header_match *h)
{
	int i;

	if (!n)
		return;
	kn_wr_str(w, key);
	kn_wr_map(w, false);
	for (i = 0; i < n; i++) {
		kn_wr_str(w, h[i].name);
		kn_wr_strmatch(w, &h[i].match);
	}
	kn_wr_map_end(w);
}

static void kn_wr_match(struct kn_wr *w, const struct kn_http_match *m)
{
	kn_wr_map(w, false);
	kn_wr_headers(w, "headers", m->n_headers, m->headers);
	kn_wr_headers(w, "withoutHeaders", m->n_without_headers,
		      m->without_headers);
	if (m->has_uri) {
		kn_wr_str(w, "uri");
		kn_wr_strmatch(w, &m->uri);
	}
	if (m->has_method) {
		kn_wr_str(w, "method");
		kn_wr_strmatch(w, &m->method);
	}
	kn_wr_map_end(w);
}

static void kn_wr_destination(struct kn_wr *w, const struct kn_destination *d)
{
	kn_wr_map(w, false);
	kn_wr_str(w, "destination");
	kn_wr_map(w, false);
	kn_wr_key_str(w, "host", d->host);
	if (d->subset)
		kn_wr_key_str(w, "subset", d->subset);
	if (d->port) {
		kn_wr_str(w, "port");
		kn_wr_map(w, false);
		kn_wr_key_int(w, "number", d->port);
		kn_wr_map_end(w);
	}
	kn_wr_map_end(w);
	if (d->has_weight)
		kn_wr_key_int(w, "weight", d->weight);
	kn_wr_map_end(w);
}

static void kn_wr_http(struct kn_wr *w, const struct kn_http_route *h)
{
	int i;

	kn_wr_map(w, false);
	if (h->name)
		kn_wr_key_str(w, "name", h->name);
	if (h->n_match) {
		kn_wr_str(w, "match");
		kn_wr_seq(w);
		for (i = 0; i < h->n_match; i++)
			kn_wr_match(w, &h->match[i]);
		kn_wr_seq_end(w);
	}
	kn_wr_str(w, "route");
	kn_wr_seq(w);
	for (i = 0; i < h->n_route; i++)
		kn_wr_destination(w, &h->route[i]);
	kn_wr_seq_end(w);
	kn_wr_map_end(w);
}

static void kn_wr_tls(struct kn_wr *w, const struct kn_tls_route *t)
{
	int i;

	kn_wr_map(w, false);
	kn_wr_str(w, "match");
	kn_wr_seq(w);
	for (i = 0; i < t->n_match; i++) {
		kn_wr_map(w, false);
		kn_wr_strv(w, "sniHosts", t->match[i].n_sni_hosts,
			   t->match[i].sni_hosts);
		if (t->match[i].port)
			kn_wr_key_int(w, "port", t->match[i].port);
		kn_wr_map_end(w);
	}
	kn_wr_seq_end(w);
	kn_wr_str(w, "route");
	kn_wr_seq(w);
	for (i = 0; i < t->n_route; i++)
		kn_wr_destination(w, &t->route[i]);
	kn_wr_seq_end(w);
	kn_wr_map_end(w);
}

static void kn_wr_virtualservice(struct kn_wr *w,
				 const struct kn_virtualservice *vs)
{
	int i;

	kn_wr_strv(w, "hosts", vs->n_hosts, vs->hosts);
	kn_wr_strv(w, "gateways", vs->n_gateways, vs->gateways);
	if (vs->n_http || !vs->n_tls) {
		kn_wr_str(w, "http");
		kn_wr_seq(w);
		for (i = 0; i < vs->n_http; i++)
			kn_wr_http(w, &vs->http[i]);
		kn_wr_seq_end(w);
	}
	if (vs->n_tls) {
		kn_wr_str(w, "tls");
		kn_wr_seq(w);
		for (i = 0; i < vs->n_tls; i++)
			kn_wr_tls(w, &vs->tls[i]);
		kn_wr_seq_end(w);
	}
}

static void kn_wr_workloadentry(struct kn_wr *w,
				const struct kn_workloadentry *we)
{
	char addr[INET_ADDRSTRLEN];
	int i;

	/* A hand-built entry may only have the number. */
	if (we->address)
		kn_wr_key_str(w, "address", we->address);
	else
		kn_wr_key_str(w, "address",
			      inet_ntop(AF_INET, &we->addr, addr,
					sizeof(addr)));
	kn_wr_labels(w, "labels", &we->labels);
	if (!we->n_ports)
		return;
	kn_wr_str(w, "ports");
	kn_wr_map(w, false);
	for (i = 0; i < we->n_ports; i++)
		kn_wr_key_int(w, we->ports[i].name, we->ports[i].port);
	kn_wr_map_end(w);
}

/* ------------------------------------------------------------------ */
/* Documents */

static void kn_wr_resource(struct kn_wr *w, const struct kn_resource *r)
{
	yaml_event_t ev;

	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
	kn_wr_emit(w, &ev);
	kn_wr_map(w, false);
	kn_wr_key_str(w, "apiVersion",
		      r->kind == KN_SERVICE ? "v1" : KN_WR_ISTIO_API);
	kn_wr_key_str(w, "kind", kn_kind_name(r->kind));
	kn_wr_str(w, "metadata");
	kn_wr_map(w, false);
	kn_wr_key_str(w, "name", r->name);
	kn_wr_key_str(w, "namespace", r->ns ? r->ns : "default");
	kn_wr_annotations(w, r);
	kn_wr_map_end(w);
	kn_wr_str(w, "spec");
	kn_wr_map(w, false);
	switch (r->kind) {
	case KN_GATEWAY:
		kn_wr_gateway(w, &r->gw);
		break;
	case KN_SERVICE:
		kn_wr_service(w, &r->svc);
		break;
	case KN_DESTINATIONRULE:
		kn_wr_destrule(w, &r->dr);
		break;
	case KN_VIRTUALSERVICE:
		kn_wr_virtualservice(w, &r->vs);
		break;
	case KN_WORKLOADENTRY:
		kn_wr_workloadentry(w, &r->we);
		break;
	default:
		w->failed = true;
		break;
	}
	kn_wr_map_end(w);
	kn_wr_map_end(w);
	yaml_document_end_event_initialize(&ev, 1);
	kn_wr_emit(w, &ev);
}

/*
 * An empty config is written as one empty document: a file with nothing
 * at all in it reads as a mistake ("empty input"), "--- ~" as no resources.
 */
static void kn_wr_empty(struct kn_wr *w)
{
	yaml_event_t ev;

	yaml_document_start_event_initialize(&ev, NULL, NULL, NULL, 0);
	kn_wr_emit(w, &ev);
	kn_wr_scalar(w, "~", YAML_PLAIN_SCALAR_STYLE);
	yaml_document_end_event_initialize(&ev, 1);
	kn_wr_emit(w, &ev);
}

static int kn_wr_config(struct kn_wr *w, const struct kn_config *cfg, FILE *f)
{
	yaml_event_t ev;
	int i;

	if (!yaml_emitter_initialize(&w->em))
		return -1;
	yaml_emitter_set_output_file(&w->em, f);
	yaml_emitter_set_unicode(&w->em, 1);
	/* Long strings on one line: folding is legal but hard to read. */
	yaml_emitter_set_width(&w->em, -1);

	yaml_stream_start_event_initialize(&ev, YAML_UTF8_ENCODING);
	kn_wr_emit(w, &ev);
	for (i = 0; i < cfg->n_res; i++)
		kn_wr_resource(w, &cfg->res[i]);
	if (!cfg->n_res)
		kn_wr_empty(w);
	yaml_stream_end_event_initialize(&ev);
	kn_wr_emit(w, &ev);

	if (!w->failed && !yaml_emitter_flush(&w->em))
		w->failed = true;
	yaml_emitter_delete(&w->em);
	if (fflush(f) || ferror(f))
		w->failed = true;
	return w->failed ? -1 : 0;
}

int kn_config_write(const struct kn_config *cfg, FILE *f)
{
	struct kn_wr w = { .failed = false };

	return kn_wr_config(&w, cfg, f);
}

int kn_config_write_state(const struct kn_config *cfg, FILE *f)
{
	struct kn_wr w = { .origins = true };
	char cwd[PATH_MAX];

	w.cwd = getcwd(cwd, sizeof(cwd));
	return kn_wr_config(&w, cfg, f);
}
