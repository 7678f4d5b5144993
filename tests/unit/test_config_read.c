// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Reading YAML into the config model: the lab's manifests as they are,
 * every kind and field kanary reads, and every kind of bad input, with the
 * exact file and line of the message and a config left as it was.
 *
 * Run from the repository root; the lab is examples/lab unless
 * KANARY_LAB_DIR says otherwise.
 */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"

/* A config with something in it, to see that failed reads leave it be. */
static void preload(struct kn_config *cfg)
{
	t_read_ok(cfg, t_lab("gateway.yaml"));
	t_read_ok(cfg, t_lab("service.yaml"));
	cr_assert_eq(cfg->n_res, 2);
}

static void assert_unchanged(const struct kn_config *cfg, int n_res,
			     int n_files, const char *before)
{
	char *after = t_dump(cfg);

	cr_assert_eq(cfg->n_res, n_res, "n_res %d, was %d", cfg->n_res, n_res);
	cr_assert_eq(cfg->n_files, n_files);
	cr_assert_str_eq(after, before);
	free(after);
}

static void expect_path_error(const char *path, const char *msg)
{
	struct kn_config cfg = { 0 };
	struct kn_err err = { .msg = "" };
	char *before;

	preload(&cfg);
	before = t_dump(&cfg);
	cr_assert_eq(kn_config_read_path(&cfg, path, &err), -1, "%s was read",
		     path);
	cr_assert_str_eq(err.msg, msg);
	assert_unchanged(&cfg, 2, 2, before);
	free(before);
	kn_config_free(&cfg);
}

static void expect_buf_error(const char *yaml, const char *msg)
{
	struct kn_config cfg = { 0 };
	struct kn_err err = { .msg = "" };
	char *before;

	preload(&cfg);
	before = t_dump(&cfg);
	cr_assert_eq(kn_config_read_buffer(&cfg, "bad.yaml", yaml, strlen(yaml),
					   &err),
		     -1, "accepted:\n%s", yaml);
	cr_assert_str_eq(err.msg, msg);
	assert_unchanged(&cfg, 2, 2, before);
	free(before);
	kn_config_free(&cfg);
}

/* Everything written to fd 2 while capturing, as a string to free. */
struct capture {
	FILE *tmp;
	int saved;
};

static void capture_start(struct capture *c)
{
	fflush(stderr);
	c->tmp = tmpfile();
	cr_assert_not_null(c->tmp);
	c->saved = dup(2);
	dup2(fileno(c->tmp), 2);
}

static char *capture_end(struct capture *c)
{
	char *buf;
	long len;

	fflush(stderr);
	dup2(c->saved, 2);
	close(c->saved);
	len = ftell(c->tmp);
	rewind(c->tmp);
	buf = calloc(1, len + 1);
	cr_assert_eq(fread(buf, 1, len, c->tmp), (size_t)len);
	fclose(c->tmp);
	return buf;
}

static const char *label(const struct kn_labels *l, const char *key)
{
	int i;

	for (i = 0; i < l->n; i++)
		if (!strcmp(l->kv[i].key, key))
			return l->kv[i].value;
	return NULL;
}

/* ------------------------------------------------------------------ */
/* The lab, as it is */

static int yaml_name(const struct dirent *d)
{
	size_t n = strlen(d->d_name);

	return (n > 5 && !strcmp(d->d_name + n - 5, ".yaml")) ||
	       (n > 4 && !strcmp(d->d_name + n - 4, ".yml"));
}

Test(config_read, lab_every_file_reads)
{
	struct dirent **names;
	int i, n, total = 0;

	n = scandir(t_lab_dir(), &names, yaml_name, alphasort);
	cr_assert_geq(n, 12, "lab has %d YAML files in %s", n, t_lab_dir());
	for (i = 0; i < n; i++) {
		struct kn_config cfg = { 0 };

		t_read_ok(&cfg, t_lab(names[i]->d_name));
		total += cfg.n_res;
		if (!strncmp(names[i]->d_name, "deployment", 10) ||
		    !strncmp(names[i]->d_name, "configmap", 9))
			cr_assert_eq(cfg.n_res, 0, "%s", names[i]->d_name);
		else if (!strcmp(names[i]->d_name, "workloadentries.yaml"))
			cr_assert_eq(cfg.n_res, 3, "%s", names[i]->d_name);
		else
			cr_assert_eq(cfg.n_res, 1, "%s", names[i]->d_name);
		kn_config_free(&cfg);
		free(names[i]);
	}
	free(names);
	cr_assert_eq(total, 10);
}

Test(config_read, lab_directory_in_name_order)
{
	static const char *const files[] = {
		"destinationrule.yaml",
		"gateway.yaml",
		"service.yaml",
		"virtualservice-focused-routing.yaml",
		"virtualservice-weight-100.yaml",
		"virtualservice-weight-70.yaml",
		"virtualservice.yaml",
		"workloadentries.yaml",
		"workloadentries.yaml",
		"workloadentries.yaml",
	};
	static const enum kn_kind kinds[] = {
		KN_DESTINATIONRULE, KN_GATEWAY,	       KN_SERVICE,
		KN_VIRTUALSERVICE,  KN_VIRTUALSERVICE, KN_VIRTUALSERVICE,
		KN_VIRTUALSERVICE,  KN_WORKLOADENTRY,  KN_WORKLOADENTRY,
		KN_WORKLOADENTRY,
	};
	/* workloadentries.yaml opens with a comment and has 3 documents. */
	static const int lines[] = { 1, 1, 1, 1, 1, 1, 1, 3, 16, 29 };
	struct kn_config cfg = { 0 };
	int i;

	t_read_ok(&cfg, t_lab_dir());
	cr_assert_eq(cfg.n_res, 10);
	for (i = 0; i < 10; i++) {
		cr_assert_eq(cfg.res[i].kind, kinds[i]);
		cr_assert_str_eq(cfg.res[i].src.file, t_lab(files[i]));
		cr_assert_eq(cfg.res[i].src.line, lines[i]);
	}
	kn_config_free(&cfg);
}

Test(config_read, lab_skip_notice)
{
	struct kn_config cfg = { 0 };
	struct capture c;
	char want[PATH_MAX + 128];
	char *got;

	capture_start(&c);
	t_read_ok(&cfg, t_lab("deployment-resnet50.yaml"));
	got = capture_end(&c);
	snprintf(
		want, sizeof(want),
		"kanary: %s:1: skipping Deployment image-classifier-resnet50 (not used for routing)\n",
		t_lab("deployment-resnet50.yaml"));
	cr_assert_str_eq(got, want);
	cr_assert_eq(cfg.n_res, 0);
	free(got);
	kn_config_free(&cfg);
}

Test(config_read, lab_gateway)
{
	struct kn_config cfg = { 0 };
	struct kn_gw_server *s;
	struct kn_resource *r;

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	r = &cfg.res[0];
	cr_assert_eq(r->kind, KN_GATEWAY);
	cr_assert_str_eq(r->name, "image-classifier-gateway");
	cr_assert_str_eq(r->ns, "default");
	cr_assert_eq(r->gw.selector.n, 1);
	cr_assert_str_eq(label(&r->gw.selector, "istio"), "ingressgateway");
	cr_assert_eq(r->gw.n_servers, 1);
	s = &r->gw.servers[0];
	cr_assert_eq(s->port, 80);
	cr_assert_str_eq(s->port_name, "http");
	cr_assert_str_eq(s->protocol, "HTTP");
	cr_assert_eq(s->n_hosts, 1);
	cr_assert_str_eq(s->hosts[0], "*");
	cr_assert_eq(s->src.line, 9);
	cr_assert_eq(s->src.file, cfg.files[0]);
	kn_config_free(&cfg);
}

Test(config_read, lab_service)
{
	struct kn_config cfg = { 0 };
	struct kn_resource *r;

	t_read_ok(&cfg, t_lab("service.yaml"));
	r = &cfg.res[0];
	cr_assert_eq(r->kind, KN_SERVICE);
	cr_assert_str_eq(r->name, "image-classifier");
	cr_assert_eq(r->svc.n_ports, 2);
	cr_assert_str_eq(r->svc.ports[0].name, "tf-serving-grpc");
	cr_assert_eq(r->svc.ports[0].port, 8500);
	cr_assert_eq(r->svc.ports[0].target_port, 8500);
	cr_assert_str_eq(r->svc.ports[0].protocol, "TCP");
	cr_assert_eq(r->svc.ports[0].src.line, 12);
	cr_assert_str_eq(r->svc.ports[1].name, "tf-serving-http");
	cr_assert_eq(r->svc.ports[1].port, 8501);
	cr_assert_eq(r->svc.ports[1].target_port, 8501);
	cr_assert_eq(r->svc.ports[1].src.line, 15);
	cr_assert_eq(r->svc.selector.n, 1);
	cr_assert_str_eq(label(&r->svc.selector, "app"), "image-classifier");
	kn_config_free(&cfg);
}

Test(config_read, lab_destinationrule)
{
	struct kn_config cfg = { 0 };
	struct kn_resource *r;

	t_read_ok(&cfg, t_lab("destinationrule.yaml"));
	r = &cfg.res[0];
	cr_assert_eq(r->kind, KN_DESTINATIONRULE);
	cr_assert_str_eq(r->dr.host, "image-classifier");
	cr_assert_eq(r->dr.n_subsets, 2);
	cr_assert_str_eq(r->dr.subsets[0].name, "resnet101");
	cr_assert_str_eq(label(&r->dr.subsets[0].labels, "version"),
			 "resnet101");
	cr_assert_eq(r->dr.subsets[0].src.line, 8);
	cr_assert_str_eq(r->dr.subsets[1].name, "resnet50");
	cr_assert_eq(r->dr.subsets[1].src.line, 11);
	kn_config_free(&cfg);
}

Test(config_read, lab_virtualservice_plain)
{
	struct kn_config cfg = { 0 };
	struct kn_destination *d;
	struct kn_resource *r;

	t_read_ok(&cfg, t_lab("virtualservice.yaml"));
	r = &cfg.res[0];
	cr_assert_eq(r->kind, KN_VIRTUALSERVICE);
	cr_assert_eq(r->vs.n_hosts, 1);
	cr_assert_str_eq(r->vs.hosts[0], "*");
	cr_assert_eq(r->vs.n_gateways, 1);
	cr_assert_str_eq(r->vs.gateways[0], "image-classifier-gateway");
	cr_assert_eq(r->vs.n_http, 1);
	cr_assert_eq(r->vs.http[0].n_match, 0);
	cr_assert_eq(r->vs.http[0].src.line, 11);
	cr_assert_eq(r->vs.http[0].n_route, 1);
	d = &r->vs.http[0].route[0];
	cr_assert_str_eq(d->host, "image-classifier");
	cr_assert_null(d->subset);
	cr_assert_eq(d->port, 8501);
	cr_assert_not(d->has_weight);
	cr_assert_eq(d->src.line, 13);
	kn_config_free(&cfg);
}

Test(config_read, lab_virtualservice_weights)
{
	struct kn_config cfg = { 0 };
	struct kn_http_route *h;

	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	h = &cfg.res[0].vs.http[0];
	cr_assert_eq(h->n_route, 2);
	cr_assert_str_eq(h->route[0].subset, "resnet50");
	cr_assert(h->route[0].has_weight);
	cr_assert_eq(h->route[0].weight, 70);
	cr_assert_str_eq(h->route[1].subset, "resnet101");
	cr_assert(h->route[1].has_weight);
	cr_assert_eq(h->route[1].weight, 30);
	cr_assert_eq(h->route[1].src.line, 19);
	t_read_ok(&cfg, t_lab("virtualservice-weight-100.yaml"));
	h = &cfg.res[1].vs.http[0];
	cr_assert_eq(h->route[0].weight, 100);
	cr_assert(h->route[1].has_weight);
	cr_assert_eq(h->route[1].weight, 0);
	kn_config_free(&cfg);
}

Test(config_read, lab_virtualservice_header_routing)
{
	struct kn_config cfg = { 0 };
	struct kn_http_route *h;
	struct kn_http_match *m;

	t_read_ok(&cfg, t_lab("virtualservice-focused-routing.yaml"));
	cr_assert_eq(cfg.res[0].vs.n_http, 2);
	h = &cfg.res[0].vs.http[0];
	cr_assert_eq(h->n_match, 1);
	m = &h->match[0];
	cr_assert_eq(m->src.line, 12);
	cr_assert_eq(m->n_headers, 1);
	cr_assert_str_eq(m->headers[0].name, "user-group");
	cr_assert_eq(m->headers[0].match.kind, KN_MATCH_EXACT);
	cr_assert_str_eq(m->headers[0].match.value, "canary");
	cr_assert_not(m->has_uri);
	cr_assert_not(m->has_method);
	cr_assert_str_eq(h->route[0].subset, "resnet101");
	h = &cfg.res[0].vs.http[1];
	cr_assert_eq(h->n_match, 0);
	cr_assert_str_eq(h->route[0].subset, "resnet50");
	cr_assert_eq(h->src.line, 21);
	kn_config_free(&cfg);
}

Test(config_read, endpoints_fixture)
{
	static const char *const addrs[] = {
		"198.18.1.2",
		"198.18.2.2",
		"198.18.3.2",
	};
	static const char *const versions[] = {
		"resnet50",
		"resnet50",
		"resnet101",
	};
	struct kn_config cfg = { 0 };
	struct kn_workloadentry *we;
	int i;

	t_read_ok(&cfg, FIX "endpoints.yaml");
	cr_assert_eq(cfg.n_res, 3);
	for (i = 0; i < 3; i++) {
		cr_assert_eq(cfg.res[i].kind, KN_WORKLOADENTRY);
		we = &cfg.res[i].we;
		cr_assert_str_eq(we->address, addrs[i]);
		cr_assert_eq(we->addr, inet_addr(addrs[i]));
		cr_assert_str_eq(label(&we->labels, "app"), "image-classifier");
		cr_assert_str_eq(label(&we->labels, "version"), versions[i]);
		cr_assert_eq(we->n_ports, 1);
		cr_assert_str_eq(we->ports[0].name, "tf-serving-http");
		cr_assert_eq(we->ports[0].port, 8501);
	}
	cr_assert_eq(cfg.res[0].src.line, 3);
	cr_assert_eq(cfg.res[1].src.line, 15);
	cr_assert_eq(cfg.res[2].src.line, 27);
	kn_config_free(&cfg);
}

/* Every kn_src of every resource points at one of cfg->files. */
static void assert_owned(const struct kn_config *cfg, const char *file)
{
	int i;

	for (i = 0; i < cfg->n_files; i++)
		if (cfg->files[i] == file)
			return;
	cr_assert_fail("src.file %s is not one of cfg->files", file);
}

Test(config_read, src_files_owned_by_config)
{
	struct kn_config cfg = { 0 };
	struct kn_http_route *h;
	struct kn_resource *r;
	int i, j, k;

	t_read_ok(&cfg, t_lab_dir());
	t_read_ok(&cfg, FIX "endpoints.yaml");
	/* Files with only skipped kinds are not kept: the lab's 8 + 1. */
	cr_assert_eq(cfg.n_files, 9);
	for (i = 0; i < cfg.n_res; i++) {
		r = &cfg.res[i];
		assert_owned(&cfg, r->src.file);
		if (r->kind != KN_VIRTUALSERVICE)
			continue;
		for (j = 0; j < r->vs.n_http; j++) {
			h = &r->vs.http[j];
			assert_owned(&cfg, h->src.file);
			for (k = 0; k < h->n_route; k++)
				assert_owned(&cfg, h->route[k].src.file);
			for (k = 0; k < h->n_match; k++)
				assert_owned(&cfg, h->match[k].src.file);
		}
	}
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Inputs: documents, stdin, kinds */

Test(config_read, multi_document_with_empty_documents)
{
	static const char yaml[] = "---\n"
				   "# only a comment\n"
				   "---\n"
				   "apiVersion: v1\n"
				   "kind: Service\n"
				   "metadata:\n"
				   "  name: a\n"
				   "  namespace: ns1\n"
				   "spec:\n"
				   "  ports:\n"
				   "  - port: 80\n"
				   "---\n"
				   "---\n"
				   "apiVersion: networking.istio.io/v1beta1\n"
				   "kind: DestinationRule\n"
				   "metadata: {name: a-rule}\n"
				   "spec: {host: a.ns1}\n"
				   "...\n";
	struct kn_config cfg = { 0 };

	t_read_buf_ok(&cfg, "multi.yaml", yaml);
	cr_assert_eq(cfg.n_res, 2);
	cr_assert_eq(cfg.res[0].kind, KN_SERVICE);
	cr_assert_str_eq(cfg.res[0].ns, "ns1");
	cr_assert_eq(cfg.res[0].src.line, 4);
	cr_assert_str_eq(cfg.res[0].src.file, "multi.yaml");
	/* One port: its name may be left out, targetPort is the port. */
	cr_assert_null(cfg.res[0].svc.ports[0].name);
	cr_assert_eq(cfg.res[0].svc.ports[0].target_port, 80);
	cr_assert_str_eq(cfg.res[0].svc.ports[0].protocol, "TCP");
	cr_assert_eq(cfg.res[1].kind, KN_DESTINATIONRULE);
	cr_assert_eq(cfg.res[1].src.line, 14);
	cr_assert_str_eq(cfg.res[1].ns, "default");
	cr_assert_str_eq(cfg.res[1].dr.host, "a.ns1");
	cr_assert_eq(cfg.res[1].dr.n_subsets, 0);
	kn_config_free(&cfg);
}

Test(config_read, only_empty_documents_is_no_resources)
{
	struct kn_config cfg = { 0 };

	t_read_buf_ok(&cfg, "nothing.yaml", "---\n---\n");
	cr_assert_eq(cfg.n_res, 0);
	kn_config_free(&cfg);
}

Test(config_read, stdin_dash)
{
	struct kn_config cfg = { 0 };

	cr_assert_not_null(freopen(FIX "endpoints.yaml", "r", stdin));
	t_read_ok(&cfg, "-");
	cr_assert_eq(cfg.n_res, 3);
	cr_assert_str_eq(cfg.res[2].src.file, "<stdin>");
	cr_assert_eq(cfg.res[2].src.line, 27);
	kn_config_free(&cfg);
}

Test(config_read, istio_api_versions)
{
	static const char *const versions[] = { "v1alpha3", "v1beta1", "v1" };
	char yaml[512];
	int i;

	for (i = 0; i < 3; i++) {
		struct kn_config cfg = { 0 };

		snprintf(yaml, sizeof(yaml),
			 "apiVersion: networking.istio.io/%s\n"
			 "kind: WorkloadEntry\n"
			 "metadata: {name: w, namespace: prod}\n"
			 "spec: {address: 198.18.0.1}\n",
			 versions[i]);
		t_read_buf_ok(&cfg, "we.yaml", yaml);
		cr_assert_eq(cfg.n_res, 1, "%s", versions[i]);
		cr_assert_str_eq(cfg.res[0].ns, "prod");
		kn_config_free(&cfg);
	}
	expect_buf_error(
		"apiVersion: networking.istio.io/v2\n"
		"kind: Gateway\n"
		"metadata: {name: g}\n"
		"spec: {}\n",
		"bad.yaml:1: unsupported apiVersion 'networking.istio.io/v2' for Gateway (want networking.istio.io/v1alpha3, v1beta1 or v1)");
}

Test(config_read, other_api_groups_are_skipped)
{
	static const char yaml[] = "apiVersion: serving.knative.dev/v1\n"
				   "kind: Service\n"
				   "metadata: {name: knative}\n"
				   "spec: {template: {}}\n"
				   "---\n"
				   "apiVersion: networking.istio.io/v1beta1\n"
				   "kind: ServiceEntry\n"
				   "metadata: {name: external}\n"
				   "spec: {hosts: [example.com]}\n";
	struct kn_config cfg = { 0 };
	struct capture c;
	char *got;

	capture_start(&c);
	t_read_buf_ok(&cfg, "other.yaml", yaml);
	got = capture_end(&c);
	cr_assert_eq(cfg.n_res, 0);
	cr_assert_str_eq(
		got,
		"kanary: other.yaml:1: skipping serving.knative.dev/v1 Service knative (not used for routing)\n"
		"kanary: other.yaml:6: skipping ServiceEntry external (not used for routing)\n");
	free(got);
	kn_config_free(&cfg);
}

Test(config_read, kubectl_list)
{
	static const char yaml[] =
		"apiVersion: v1\n"
		"kind: List\n"
		"items:\n"
		"- apiVersion: networking.istio.io/v1alpha3\n"
		"  kind: WorkloadEntry\n"
		"  metadata: {name: a}\n"
		"  spec: {address: 198.18.0.1}\n"
		"- apiVersion: v1\n"
		"  kind: ConfigMap\n"
		"  metadata: {name: c}\n"
		"- apiVersion: networking.istio.io/v1alpha3\n"
		"  kind: WorkloadEntry\n"
		"  metadata: {name: b}\n"
		"  spec: {address: 198.18.0.2}\n";
	struct kn_config cfg = { 0 };
	struct capture c;

	capture_start(&c);
	t_read_buf_ok(&cfg, "list.yaml", yaml);
	free(capture_end(&c));
	cr_assert_eq(cfg.n_res, 2);
	cr_assert_str_eq(cfg.res[1].name, "b");
	cr_assert_eq(cfg.res[1].src.line, 11);
	kn_config_free(&cfg);
}

Test(config_read, matches_of_every_kind)
{
	static const char yaml[] = "apiVersion: networking.istio.io/v1alpha3\n"
				   "kind: VirtualService\n"
				   "metadata: {name: m}\n"
				   "spec:\n"
				   "  http:\n"
				   "  - match:\n"
				   "    - headers:\n"
				   "        User-Group: {prefix: can}\n"
				   "        X-Debug: {}\n"
				   "        X-Re: {regex: 'a.*'}\n"
				   "      withoutHeaders:\n"
				   "        X-Skip: {exact: ''}\n"
				   "      uri: {prefix: /v1/models}\n"
				   "      method: {exact: POST}\n"
				   "    - uri: {exact: /}\n"
				   "    route:\n"
				   "    - destination: {host: svc}\n";
	struct kn_config cfg = { 0 };
	struct kn_http_match *m;

	t_read_buf_ok(&cfg, "m.yaml", yaml);
	cr_assert_eq(cfg.res[0].vs.n_gateways, 0);
	cr_assert_eq(cfg.res[0].vs.http[0].n_match, 2);
	m = &cfg.res[0].vs.http[0].match[0];
	cr_assert_eq(m->n_headers, 3);
	cr_assert_str_eq(m->headers[0].name, "user-group");
	cr_assert_eq(m->headers[0].match.kind, KN_MATCH_PREFIX);
	cr_assert_str_eq(m->headers[0].match.value, "can");
	cr_assert_str_eq(m->headers[1].name, "x-debug");
	cr_assert_eq(m->headers[1].match.kind, KN_MATCH_PRESENT);
	cr_assert_null(m->headers[1].match.value);
	cr_assert_eq(m->headers[2].match.kind, KN_MATCH_REGEX);
	cr_assert_str_eq(m->headers[2].match.value, "a.*");
	cr_assert_eq(m->n_without_headers, 1);
	cr_assert_str_eq(m->without_headers[0].name, "x-skip");
	cr_assert_eq(m->without_headers[0].match.kind, KN_MATCH_EXACT);
	cr_assert_str_eq(m->without_headers[0].match.value, "");
	cr_assert(m->has_uri);
	cr_assert_eq(m->uri.kind, KN_MATCH_PREFIX);
	cr_assert_str_eq(m->uri.value, "/v1/models");
	cr_assert(m->has_method);
	cr_assert_str_eq(m->method.value, "POST");
	m = &cfg.res[0].vs.http[0].match[1];
	cr_assert_eq(m->src.line, 15);
	cr_assert_eq(m->n_headers, 0);
	cr_assert_eq(m->uri.kind, KN_MATCH_EXACT);
	cr_assert_str_eq(m->uri.value, "/");
	kn_config_free(&cfg);
}

Test(config_read, reading_appends)
{
	struct kn_config cfg = { 0 };

	t_read_ok(&cfg, t_lab("virtualservice.yaml"));
	t_read_ok(&cfg, t_lab("virtualservice-weight-70.yaml"));
	cr_assert_eq(cfg.n_res, 2);
	cr_assert_eq(cfg.n_files, 2);
	cr_assert_str_eq(cfg.res[0].src.file, t_lab("virtualservice.yaml"));
	cr_assert_eq(cfg.res[0].vs.http[0].n_route, 1);
	cr_assert_eq(cfg.res[1].vs.http[0].n_route, 2);
	/* The same file twice: one name in files, two resources. */
	t_read_ok(&cfg, t_lab("virtualservice.yaml"));
	cr_assert_eq(cfg.n_res, 3);
	cr_assert_eq(cfg.n_files, 2);
	cr_assert_eq(cfg.res[2].src.file, cfg.res[0].src.file);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Warnings */

Test(config_read, unimplemented_fields_warn)
{
	struct kn_config cfg = { 0 };
	struct capture c;
	char *got;

	capture_start(&c);
	t_read_ok(&cfg, FIX "vs-retries.yaml");
	got = capture_end(&c);
	cr_assert_str_eq(
		got,
		"kanary: " FIX
		"vs-retries.yaml:16: warning: 'retries' is ignored: Istio "
		"retries failed requests (2 times unless set otherwise); kanary "
		"does not retry\n"
		"kanary: " FIX
		"vs-retries.yaml:18: warning: 'timeout: 10s' is ignored: Istio "
		"fails the request with a 504 after this long; kanary sets no "
		"request timeout\n");
	cr_assert_eq(cfg.n_warnings, 2);
	cr_assert_eq(cfg.n_res, 1);
	cr_assert_eq(cfg.res[0].vs.http[0].n_route, 1);
	free(got);
	kn_config_free(&cfg);
}

Test(config_read, destinationrule_traffic_policy_warns)
{
	static const char yaml[] = "apiVersion: networking.istio.io/v1alpha3\n"
				   "kind: DestinationRule\n"
				   "metadata: {name: r}\n"
				   "spec:\n"
				   "  host: svc\n"
				   "  trafficPolicy:\n"
				   "    loadBalancer: {simple: ROUND_ROBIN}\n"
				   "  subsets:\n"
				   "  - name: v1\n"
				   "    labels: {version: v1}\n";
	struct kn_config cfg = { 0 };
	struct capture c;
	char *got;

	capture_start(&c);
	t_read_buf_ok(&cfg, "dr.yaml", yaml);
	got = capture_end(&c);
	cr_assert_str_eq(
		got,
		"kanary: dr.yaml:7: warning: 'loadBalancer' is ignored: Istio "
		"balances requests by this policy (LEAST_REQUEST by default); "
		"kanary spreads connections by a Maglev hash\n");
	cr_assert_eq(cfg.res[0].dr.n_subsets, 1);
	free(got);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Bad input: exact file and line, config unchanged */

Test(config_read, syntax_error)
{
	expect_path_error(
		FIX "syntax-error.yaml", FIX
		"syntax-error.yaml:11: not valid YAML: did not find expected key");
}

Test(config_read, binary_input)
{
	expect_path_error(
		FIX "binary.yaml", FIX
		"binary.yaml:1: not valid YAML: control characters are not allowed");
	/* The reader only knows a byte offset: the line is counted. */
	expect_buf_error(
		"a: 1\nb: 2\nc: \001\n",
		"bad.yaml:3: not valid YAML: control characters are not allowed");
	expect_buf_error(
		"a: \xff\xfe\n",
		"bad.yaml:1: not valid YAML: invalid leading UTF-8 octet");
}

Test(config_read, empty_input)
{
	expect_path_error(FIX "empty.yaml", FIX "empty.yaml:1: empty input");
	expect_buf_error("\n  \n# a comment\n", "bad.yaml:1: empty input");
}

Test(config_read, missing_name)
{
	expect_path_error(FIX "missing-name.yaml",
			  FIX "missing-name.yaml:4: missing metadata.name");
	expect_buf_error(
		"apiVersion: v1\nkind: Service\nspec: {ports: [{port: 1}]}\n",
		"bad.yaml:1: missing metadata.name");
}

Test(config_read, bad_address)
{
	expect_path_error(
		FIX "we-bad-address.yaml", FIX
		"we-bad-address.yaml:16: bad address 'resnet50-b.example.com' (kanary needs a dotted IPv4 address)");
	expect_buf_error(
		"apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w}\n"
		"spec:\n"
		"  address: 2001:db8::1\n",
		"bad.yaml:5: bad address '2001:db8::1' (kanary needs a dotted IPv4 address)");
}

Test(config_read, negative_weight)
{
	expect_path_error(
		FIX "vs-negative-weight.yaml", FIX
		"vs-negative-weight.yaml:23: weight must be >= 0 (got -10)");
}

Test(config_read, missing_file)
{
	expect_path_error(FIX "no-such-file.yaml",
			  FIX "no-such-file.yaml: No such file or directory");
}

/* A VirtualService around one route entry, for the type errors below. */
#define VS_HEAD                                      \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: v}\n"                      \
	"spec:\n"                                    \
	"  http:\n"                                  \
	"  - route:\n"

Test(config_read, wrong_types_in_virtualservice)
{
	expect_buf_error(VS_HEAD "    - destination: {host: svc}\n"
				 "      weight: abc\n",
			 "bad.yaml:8: weight: expected an integer, got 'abc'");
	expect_buf_error(
		VS_HEAD "    - destination:\n"
			"        host: svc\n"
			"        port: {number: \"x\"}\n",
		"bad.yaml:9: number: expected an integer, got the string \"x\"");
	expect_buf_error(VS_HEAD "    - destination:\n"
				 "        host: svc\n"
				 "        port:\n"
				 "          number: 70000\n",
			 "bad.yaml:10: number: 70000 is out of range 1..65535");
	expect_buf_error(VS_HEAD "    - destination:\n"
				 "        host: svc\n"
				 "        port: {number: 0}\n",
			 "bad.yaml:9: number: 0 is out of range 1..65535");
	expect_buf_error(VS_HEAD "    - destination:\n"
				 "      - host: svc\n",
			 "bad.yaml:8: destination: expected a map, got a list");
	expect_buf_error(VS_HEAD "    - destination:\n"
				 "        subset: v1\n",
			 "bad.yaml:8: missing destination.host");
	expect_buf_error(VS_HEAD "    - weight: 10\n",
			 "bad.yaml:7: missing 'destination'");
	expect_buf_error(VS_HEAD "    - destination: {host: svc}\n"
				 "      weight: 1.5\n",
			 "bad.yaml:8: weight: expected an integer, got '1.5'");
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"      weight: 3000000000\n",
		"bad.yaml:8: weight 3000000000 is too large (at most 2147483647)");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: VirtualService\n"
			 "metadata: {name: v}\n"
			 "spec:\n"
			 "  http:\n"
			 "    route: []\n",
			 "bad.yaml:6: http: expected a list, got a map");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: VirtualService\n"
			 "metadata: {name: v}\n"
			 "spec:\n"
			 "  gateways: gw\n"
			 "  http: []\n",
			 "bad.yaml:5: gateways: expected a list, got 'gw'");
}

Test(config_read, route_block_without_route)
{
	expect_buf_error(
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n"
		"spec:\n"
		"  http:\n"
		"  - route:\n"
		"    - destination: {host: svc}\n"
		"  - match:\n"
		"    - uri: {prefix: /old}\n"
		"    redirect: {uri: /new}\n",
		"bad.yaml:10: 'redirect' is not supported by kanary: Istio "
		"answers with a redirect and forwards nothing; kanary only "
		"forwards");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: VirtualService\n"
			 "metadata: {name: v}\n"
			 "spec:\n"
			 "  http:\n"
			 "  - name: nothing\n",
			 "bad.yaml:6: http route without 'route' (kanary only "
			 "forwards)");
	expect_buf_error(
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n"
		"spec:\n"
		"  hosts: [a]\n"
		"  tcp: []\n",
		"bad.yaml:5: no 'http' or 'tls' routes (kanary routes HTTP, and TLS by SNI, only)");
}

Test(config_read, bad_matches)
{
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"    match:\n"
			"    - queryParams: {a: {exact: b}}\n",
		"bad.yaml:9: 'queryParams' is not supported by kanary");
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"    match:\n"
			"    - headers:\n"
			"        user-group: {exact: a, prefix: b}\n",
		"bad.yaml:10: user-group: needs exactly one of exact, prefix or regex");
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"    match:\n"
			"    - headers:\n"
			"        user-group:\n",
		"bad.yaml:10: user-group: expected a map, got nothing");
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"    match:\n"
			"    - uri: {}\n",
		"bad.yaml:9: uri: needs exactly one of exact, prefix or regex");
	expect_buf_error(
		VS_HEAD "    - destination: {host: svc}\n"
			"    match:\n"
			"    - uri: {suffix: .json}\n",
		"bad.yaml:9: uri: 'suffix' is not supported by kanary");
}

#define SVC_HEAD                \
	"apiVersion: v1\n"      \
	"kind: Service\n"       \
	"metadata: {name: s}\n" \
	"spec:\n"               \
	"  ports:\n"

Test(config_read, wrong_types_in_service)
{
	expect_buf_error(
		SVC_HEAD "  - port: 80\n"
			 "    targetPort: http\n",
		"bad.yaml:7: named targetPort 'http' is not supported (give the port number)");
	expect_buf_error(
		SVC_HEAD "  - port: \"80\"\n",
		"bad.yaml:6: port: expected an integer, got the string \"80\"");
	expect_buf_error(
		SVC_HEAD "  - port: 80\n"
			 "  - port: 81\n",
		"bad.yaml:6: a Service with several ports must name each of them");
	expect_buf_error(
		SVC_HEAD "  - {name: a, port: 80}\n"
			 "  - {name: a, port: 81}\n",
		"bad.yaml:7: duplicate port name 'a' (first on line 6)");
	expect_buf_error(SVC_HEAD "  - name: a\n",
			 "bad.yaml:6: missing 'port'");
	expect_buf_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
			 "spec:\n  ports: []\n",
			 "bad.yaml:5: Service has no ports");
	expect_buf_error(SVC_HEAD "  - port: 80\n"
				  "  selector: [app]\n",
			 "bad.yaml:7: selector: expected a map, got a list");
	expect_buf_error("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n",
			 "bad.yaml:1: Service s: missing 'spec'");
}

Test(config_read, wrong_types_elsewhere)
{
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: DestinationRule\n"
			 "metadata: {name: d}\n"
			 "spec:\n"
			 "  host: svc\n"
			 "  subsets:\n"
			 "  - labels: {version: v1}\n",
			 "bad.yaml:7: missing subset name");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: DestinationRule\n"
			 "metadata: {name: d}\n"
			 "spec:\n"
			 "  subsets: []\n",
			 "bad.yaml:5: missing 'host'");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: Gateway\n"
			 "metadata: {name: g}\n"
			 "spec:\n"
			 "  servers:\n"
			 "  - port: {number: 80}\n",
			 "bad.yaml:6: missing port.protocol");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: WorkloadEntry\n"
			 "metadata: {name: w}\n"
			 "spec:\n"
			 "  address: 198.18.0.1\n"
			 "  ports: {http: 99999}\n",
			 "bad.yaml:6: http: 99999 is out of range 1..65535");
	expect_buf_error("apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: WorkloadEntry\n"
			 "metadata: {name: w}\n"
			 "spec:\n"
			 "  labels: {app: [a]}\n",
			 "bad.yaml:5: app: expected a string, got a list");
	expect_buf_error(
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: Bad_Name}\n"
		"spec: {address: 198.18.0.1}\n",
		"bad.yaml:3: bad name 'Bad_Name' (lower-case letters, digits, '-' and '.')");
}

Test(config_read, bad_documents)
{
	expect_buf_error(
		"just a string\n",
		"bad.yaml:1: document: expected a map, got 'just a string'");
	expect_buf_error("kind: Service\nmetadata: {name: s}\n",
			 "bad.yaml:1: missing 'apiVersion'");
	expect_buf_error("apiVersion: v1\nmetadata: {name: s}\n",
			 "bad.yaml:1: missing 'kind'");
	expect_buf_error("apiVersion: v1\nkind: Service\nkind: Pod\n",
			 "bad.yaml:3: duplicate key 'kind' (first on line 2)");
	expect_buf_error("a: &x [*x]\n",
			 "bad.yaml:1: alias 'x' is inside the node it names");
	expect_buf_error(
		"a: *nothing\n",
		"bad.yaml:1: not valid YAML: found undefined alias 'nothing'");
}

/* A good file, then a bad one in another document: nothing is kept. */
Test(config_read, error_in_later_document_keeps_nothing)
{
	expect_buf_error(
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w}\n"
		"spec: {address: 198.18.0.1}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1alpha3\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: x}\n"
		"spec: {address: 198.18.0.256}\n",
		"bad.yaml:9: bad address '198.18.0.256' (kanary needs a dotted IPv4 address)");
}

Test(config_read, non_unicast_endpoint_addresses)
{
	static const char *const bad[] = { "0.0.0.0", "127.0.0.1", "224.0.0.1",
					   "255.255.255.255", "240.1.2.3" };
	char yaml[512], msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml),
			 "apiVersion: networking.istio.io/v1alpha3\n"
			 "kind: WorkloadEntry\n"
			 "metadata: {name: w}\n"
			 "spec:\n"
			 "  address: %s\n",
			 bad[i]);
		snprintf(msg, sizeof(msg),
			 "bad.yaml:5: bad address '%s' (not a unicast address "
			 "an endpoint can have)",
			 bad[i]);
		expect_buf_error(yaml, msg);
	}
}

Test(config_read, error_in_directory_keeps_nothing)
{
	char dir[] = "/tmp/kanary-test-XXXXXX", path[PATH_MAX];
	FILE *f;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	f = fopen(path, "w");
	fputs("apiVersion: networking.istio.io/v1alpha3\n"
	      "kind: WorkloadEntry\n"
	      "metadata: {name: w}\n"
	      "spec: {address: 198.18.0.1}\n",
	      f);
	fclose(f);
	snprintf(path, sizeof(path), "%s/b.yml", dir);
	f = fopen(path, "w");
	fputs("apiVersion: v1\nkind: Service\nmetadata: {name: s}\n"
	      "spec: {ports: [{port: -1}]}\n",
	      f);
	fclose(f);
	/* Not YAML by name: never read, though it is broken. */
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	f = fopen(path, "w");
	fputs(": : :\n", f);
	fclose(f);

	snprintf(path, sizeof(path),
		 "%s/b.yml:4: port: -1 is out of range 1..65535", dir);
	expect_path_error(dir, path);

	snprintf(path, sizeof(path), "%s/b.yml", dir);
	unlink(path);
	{
		struct kn_config cfg = { 0 };

		t_read_ok(&cfg, dir);
		cr_assert_eq(cfg.n_res, 1);
		kn_config_free(&cfg);
	}
	snprintf(path, sizeof(path), "%s/a.yaml", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/notes.txt", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s: no *.yaml or *.yml files", dir);
	expect_path_error(dir, path);
	rmdir(dir);
}
