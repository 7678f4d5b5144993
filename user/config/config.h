/* SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause */
/*
 * The routing config as kanary understands it: the Istio and Kubernetes
 * resources that matter to a gateway, read from YAML with libyaml,
 * validated, merged with what was applied before, and written back out.
 */
#ifndef KANARY_CONFIG_H
#define KANARY_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

/* Where a thing was written: every error names it. */
struct kn_src {
	const char *file; /* owned by the config (kn_config.files) */
	int line; /* 1-based */
};

struct kn_err {
	char msg[1024]; /* "file:line: problem" */
};

/* err->msg from a printf format; returns -1, for "return kn_err_set(...)". */
int kn_err_set(struct kn_err *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

struct kn_label {
	char *key;
	char *value;
};

struct kn_labels {
	int n;
	struct kn_label *kv;
};

struct kn_gw_server {
	uint16_t port;
	char *port_name;
	char *protocol; /* HTTP, TCP, ... as written */
	int n_hosts;
	char **hosts;
	/*
	 * tls.mode as written (PASSTHROUGH, SIMPLE, ...); NULL without tls.
	 * A tls block without mode is PASSTHROUGH, Istio's default, and is
	 * kept so.
	 */
	char *tls_mode;
	bool https_redirect; /* tls.httpsRedirect */
	struct kn_src src;
};

/*
 * A server whose TLS connections kanary routes by SNI, unterminated:
 * protocol TLS or HTTPS with tls.mode PASSTHROUGH (config_tls.c).
 */
bool kn_gw_server_passthrough(const struct kn_gw_server *s);

struct kn_gateway {
	int n_servers;
	struct kn_gw_server *servers;
	struct kn_labels selector;
};

struct kn_service_port {
	char *name; /* may be NULL when the Service has one port */
	uint16_t port;
	uint16_t target_port; /* = port when not given */
	char *protocol; /* TCP when not given */
	struct kn_src src;
};

struct kn_service {
	int n_ports;
	struct kn_service_port *ports;
	struct kn_labels selector;
};

/*
 * Istio's trafficPolicy.outlierDetection, the fields kanary's active
 * health checks use (README, "Endpoint health"). Durations in ms. A field
 * counts only when its has_ flag is set; `set` says the block was given at
 * all: a subset's block replaces the rule's whole, as in Istio.
 */
struct kn_outlier {
	bool set;
	bool has_interval, has_gateway_errors, has_5xx_errors,
		has_base_ejection, has_max_ejection;
	uint32_t interval_ms;
	uint32_t gateway_errors; /* consecutiveGatewayErrors */
	uint32_t errors_5xx; /* consecutive5xxErrors */
	uint32_t base_ejection_ms; /* baseEjectionTime */
	uint32_t max_ejection_pct; /* maxEjectionPercent */
	struct kn_src src;
};

/*
 * The DestinationRule's health.kanary.io/ annotations: how kanary checks
 * the endpoints of its host. 0 and NULL: not given.
 */
struct kn_health_check {
	char *http_path; /* health.kanary.io/http-path; NULL: TCP connect */
	char *http_expect; /* health.kanary.io/http-expect */
	uint32_t timeout_ms; /* health.kanary.io/timeout */
	uint32_t healthy_threshold; /* health.kanary.io/healthy-threshold */
	/* health.kanary.io/fallback: a destination of this host whose pool
	 * has no healthy endpoint leaves its route's weights. */
	bool fallback;
};

struct kn_subset {
	char *name;
	struct kn_labels labels;
	struct kn_outlier outlier; /* trafficPolicy.outlierDetection */
	struct kn_src src;
};

struct kn_destrule {
	char *host;
	int n_subsets;
	struct kn_subset *subsets;
	struct kn_outlier outlier; /* spec.trafficPolicy.outlierDetection */
	struct kn_health_check check; /* metadata.annotations */
};

enum kn_str_match_kind {
	KN_MATCH_EXACT,
	KN_MATCH_PREFIX,
	KN_MATCH_REGEX, /* parsed, refused by the compiler */
	KN_MATCH_PRESENT, /* `{}`: the header is there, any value */
};

struct kn_str_match {
	enum kn_str_match_kind kind;
	char *value; /* NULL for KN_MATCH_PRESENT */
	struct kn_src src; /* the exact/prefix/regex key, or the `{}` */
};

struct kn_header_match {
	char *name; /* lower-cased: HTTP header names are case-insensitive */
	struct kn_str_match match;
	struct kn_src src; /* the header name */
};

/* One block of an http[].match list: all its conditions must hold. */
struct kn_http_match {
	int n_headers;
	struct kn_header_match *headers;
	int n_without_headers;
	struct kn_header_match *without_headers;
	bool has_uri;
	struct kn_str_match uri;
	bool has_method;
	struct kn_str_match method;
	struct kn_src src;
};

struct kn_destination {
	char *host;
	char *subset; /* NULL: every endpoint of the host */
	uint16_t port; /* 0: not given */
	bool has_weight;
	int32_t weight;
	struct kn_src src;
};

struct kn_http_route {
	char *name; /* http[].name, NULL when not given: names rule counters */
	int n_match; /* 0: matches everything */
	struct kn_http_match *match;
	int n_route;
	struct kn_destination *route;
	struct kn_src src;
};

/* One tls[].match item (Istio's TLSMatchAttributes). */
struct kn_tls_match {
	int n_sni_hosts; /* at least one: Istio requires sniHosts */
	char **sni_hosts; /* lower-cased; "*.example.com" and "*" as written */
	uint16_t port; /* 0: any port of the Gateway */
	struct kn_src src;
};

/* A tls route: TLS passthrough connections routed by their SNI. */
struct kn_tls_route {
	int n_match; /* at least one: Istio requires match */
	struct kn_tls_match *match;
	int n_route;
	struct kn_destination *route;
	struct kn_src src;
};

struct kn_virtualservice {
	int n_hosts;
	char **hosts; /* as written; the L7 path compares them caselessly */
	struct kn_src hosts_src; /* the hosts list */
	int n_gateways;
	char **gateways; /* as written: "name" or "namespace/name" */
	int n_http;
	struct kn_http_route *http;
	int n_tls; /* for the Gateway's TLS PASSTHROUGH servers */
	struct kn_tls_route *tls;
};

struct kn_we_port {
	char *name; /* a Service port name */
	uint16_t port;
};

struct kn_workloadentry {
	uint32_t addr; /* IPv4, network byte order */
	char *address; /* as written */
	struct kn_labels labels;
	int n_ports;
	struct kn_we_port *ports;
};

enum kn_kind {
	KN_GATEWAY,
	KN_SERVICE,
	KN_DESTINATIONRULE,
	KN_VIRTUALSERVICE,
	KN_WORKLOADENTRY,
	KN_KIND_MAX,
};

/* One accepted resource. */
struct kn_resource {
	enum kn_kind kind;
	char *name;
	char *ns; /* "default" when not given */
	struct kn_src src; /* where the document starts */
	union {
		struct kn_gateway gw;
		struct kn_service svc;
		struct kn_destrule dr;
		struct kn_virtualservice vs;
		struct kn_workloadentry we;
	};
};

struct kn_index;

struct kn_config {
	int n_res;
	struct kn_resource *res; /* in the order they were read */
	int n_files;
	char **files; /* names used in kn_src */
	/*
	 * Warnings printed while reading what is in it (fields kanary does
	 * not implement, unknown fields): what `apply --strict` refuses.
	 * Appending and merging add them up.
	 */
	int n_warnings;
	/*
	 * Lookup tables over res (user/config_index.c): a cache that the
	 * lookups below build on first use, even on a const config, and that
	 * reading, kn_config_append, kn_config_merge and kn_config_free drop.
	 * A config must start zeroed (or come from kn_config_read_*). Code
	 * that adds or removes resources by hand is noticed (res or n_res
	 * changed); code that edits a resource's kind, name, namespace,
	 * DestinationRule host, Service selector or WorkloadEntry labels in
	 * place must call kn_config_index_drop() before the next lookup.
	 * Weights and the like may be edited freely.
	 */
	struct kn_index *index;
};

const char *kn_kind_name(enum kn_kind kind); /* "VirtualService", ... */

/*
 * The most kanary reads from one file (or stdin): the Kubernetes API server
 * takes requests of up to 3 MiB, so no manifest it accepts is refused.
 */
#define KN_CONFIG_MAX_INPUT (4 << 20)

/*
 * Read YAML into cfg, appending. path may be a regular file, a directory
 * (its *.yaml and *.yml files in name order) or "-" for stdin; other kinds
 * of file (a FIFO, a device) are refused, and so is more than
 * KN_CONFIG_MAX_INPUT bytes from one file. Multi-document files are read
 * whole. Kinds kanary does not route with (Deployment, ConfigMap, ...)
 * are skipped with a notice on stderr. On error returns -1 with err set to
 * "file:line: problem" and leaves cfg as it was.
 */
int kn_config_read_path(struct kn_config *cfg, const char *path,
			struct kn_err *err);
/*
 * Which entries of a directory kn_config_read_path reads (a scandir
 * filter: *.yaml and *.yml, no names starting with '.'), and in which
 * order (bytes, not the locale's).
 */
struct dirent;
int kn_config_yaml_entry(const struct dirent *d);
int kn_config_name_order(const struct dirent **a, const struct dirent **b);
int kn_config_read_buffer(struct kn_config *cfg, const char *name,
			  const char *buf, size_t len, struct kn_err *err);

/*
 * Move every resource of upd into base: one with the same kind, namespace
 * and name replaces the old one in place, others are appended. upd is left
 * empty. Two resources of upd with one identity: the later wins, so check
 * kn_config_unique(upd) first.
 */
void kn_config_merge(struct kn_config *base, struct kn_config *upd);

/*
 * -1 with err "file:line: duplicate Kind ns/name (also at file:line)" when
 * two resources of cfg have the same kind, namespace and name: what one
 * apply was given, where the later would silently replace the earlier.
 */
int kn_config_unique(const struct kn_config *cfg, struct kn_err *err);

/*
 * Cross-resource checks, as `istioctl analyze` makes them and stricter:
 * unknown gateway, unknown host, unknown subset, subset without endpoints,
 * port the Service does not have, bad weights. Returns -1 with err naming
 * the file and line of the offending field.
 */
int kn_config_validate(const struct kn_config *cfg, struct kn_err *err);

/* Write cfg as YAML that kn_config_read_buffer reads back to the same. */
int kn_config_write(const struct kn_config *cfg, FILE *f);

/*
 * The applied config, saved between commands. As kn_config_write, plus
 * where each resource was applied from (file, made absolute, and the line
 * of each kn_src) in its kanary.io/source and kanary.io/source-lines
 * annotations, so that an error found in a kept resource by a later apply
 * names the user's file, not the saved one. kn_config_read_state reads it
 * back; it is kn_config_read_path except that it honours those
 * annotations (only there: a user's own file says where it is itself).
 */
int kn_config_write_state(const struct kn_config *cfg, FILE *f);
int kn_config_read_state(struct kn_config *cfg, const char *path,
			 struct kn_err *err);
#define KN_SOURCE_ANNOTATION "kanary.io/source"
#define KN_SOURCE_LINES_ANNOTATION "kanary.io/source-lines"

void kn_config_free(struct kn_config *cfg);

/* Free cfg's lookup tables (kn_config.index); the next lookup rebuilds. */
void kn_config_index_drop(struct kn_config *cfg);

/*
 * Lookups; ns NULL means any namespace. NULL when absent. The first
 * matching resource in cfg->res order, in O(1) through cfg->index.
 */
struct kn_resource *kn_config_find(const struct kn_config *cfg,
				   enum kn_kind kind, const char *ns,
				   const char *name);

/*
 * The VirtualService a user names: "name" (in whatever namespace it is)
 * or "namespace/name". NULL with err set when there is none, or when a
 * bare name is in several namespaces.
 */
struct kn_resource *kn_config_find_vs(const struct kn_config *cfg,
				      const char *ref, struct kn_err *err);

/*
 * Resolve a VirtualService destination host ("svc", "svc.ns",
 * "svc.ns.svc.cluster.local") seen from namespace ns to its Service.
 */
/*
 * A Kubernetes host ("svc", "svc.ns", "svc.ns.svc", "svc.ns.svc.cluster.
 * local"; ns when it names none) as its Service name and namespace; -1
 * for any other host.
 */
int kn_host_split(const char *host, const char *ns, char *name, size_t name_len,
		  char *svc_ns, size_t ns_len);
struct kn_resource *kn_config_resolve_host(const struct kn_config *cfg,
					   const char *ns, const char *host);

/* The DestinationRule whose host resolves to this Service, or NULL. */
struct kn_resource *kn_config_destrule_for(const struct kn_config *cfg,
					   const struct kn_resource *svc);

/* True when every label of sel is in labels. */
bool kn_labels_match(const struct kn_labels *sel,
		     const struct kn_labels *labels);

/*
 * Added by the config module.
 */

/* Call fn on every kn_src of r, always in the same order. */
typedef void kn_src_fn(struct kn_src *src, void *arg);
void kn_resource_srcs(struct kn_resource *r, kn_src_fn *fn, void *arg);

/*
 * Move every resource of upd to the end of base, duplicates included (this
 * is how a read appends); the file names they refer to move with them.
 * upd is left empty.
 */
void kn_config_append(struct kn_config *base, struct kn_config *upd);

/*
 * True when WorkloadEntry we is an endpoint of Service svc, and of its
 * subset when subset is not NULL: same namespace, and its labels match the
 * Service selector and the subset labels. A Service without a selector has
 * no endpoints, as in Kubernetes.
 */
bool kn_config_is_endpoint(const struct kn_resource *svc,
			   const struct kn_subset *subset,
			   const struct kn_resource *we);

/*
 * The port an endpoint serves a Service port on: the WorkloadEntry's ports
 * entry named like the Service port, else the Service targetPort.
 */
uint16_t kn_workloadentry_port(const struct kn_workloadentry *we,
			       const struct kn_service_port *sp);

/* A VirtualService host as Istio writes it. */
enum kn_host_kind {
	KN_HOST_EXACT, /* "reviews.example.com", "reviews", an address */
	KN_HOST_SUFFIX, /* "*.example.com" */
	KN_HOST_ANY, /* "*" */
};

enum kn_host_kind kn_host_kind(const char *host);

/*
 * NULL when host is a VirtualService host Istio accepts and kanary can
 * match: not empty, and a wildcard only as "*" or a leading "*.". Else
 * why not, for an error message.
 */
const char *kn_host_invalid(const char *host);

#endif /* KANARY_CONFIG_H */
