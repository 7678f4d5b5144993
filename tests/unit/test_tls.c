// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * TLS passthrough in userspace: Gateway servers' tls, VirtualService tls
 * routes read (errors with file and line), checked, written back.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "helpers.h"

static struct kn_config cfg;
static struct kn_err err;

static void fini(void)
{
	kn_config_free(&cfg);
}

TestSuite(tls, .fini = fini);

/* A Gateway with the lab's HTTP port and a TLS PASSTHROUGH port (lines
 * 1-14), then a VirtualService on it up to its routes (line 22 next). */
#define GW                                                     \
	"apiVersion: networking.istio.io/v1alpha3\n"           \
	"kind: Gateway\n"                                      \
	"metadata: {name: tls-gateway}\n"                      \
	"spec:\n"                                              \
	"  selector: {istio: ingressgateway}\n"                \
	"  servers:\n"                                         \
	"  - port: {number: 80, name: http, protocol: HTTP}\n" \
	"    hosts: ['*']\n"                                   \
	"  - port: {number: 443, name: tls, protocol: TLS}\n"  \
	"    hosts: ['*']\n"                                   \
	"    tls:\n"                                           \
	"      mode: PASSTHROUGH\n"                            \
	"      credentialName: ignored-in-passthrough\n"       \
	"---\n"
#define VS_TOP                                       \
	"apiVersion: networking.istio.io/v1alpha3\n" \
	"kind: VirtualService\n"                     \
	"metadata: {name: image-classifier}\n"       \
	"spec:\n"                                    \
	"  hosts: ['*.example', a.example.org]\n"    \
	"  gateways: [tls-gateway]\n"                \
	"  tls:\n"
#define DEST(subset)                                                       \
	"    - destination: {host: image-classifier, subset: " subset ", " \
	"port: {number: 8501}}\n"

/* The lab's manifests and endpoints, and yaml. */
static void read_tls(const char *yaml)
{
	char *w;

	t_read_lab(&cfg, NULL);
	w = t_read_warnings(&cfg, "tls.yaml", yaml);
	cr_assert_str_eq(w, "", "warnings: %s", w);
	free(w);
}

static void read_fails(const char *yaml, const char *msg)
{
	struct kn_config c = { 0 };

	cr_assert_eq(kn_config_read_buffer(&c, "tls.yaml", yaml, strlen(yaml),
					   &err),
		     -1, "accepted:\n%s", yaml);
	cr_assert_str_eq(err.msg, msg);
	kn_config_free(&c);
}

/* What the state file keeps: PASSTHROUGH and the tls routes. */
Test(tls, written_back_the_same)
{
	struct kn_config again = { 0 };
	char *a, *b;

	read_tls(GW VS_TOP "  - match: [{port: 443, sniHosts: [a.example]}]\n"
			   "    route:\n" DEST("resnet101"));
	a = t_dump(&cfg);
	cr_assert(strstr(a, "mode: PASSTHROUGH"), "%s", a);
	cr_assert(strstr(a, "sniHosts"), "%s", a);
	t_read_buf_ok(&again, "again.yaml", a);
	b = t_dump(&again);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	kn_config_free(&again);
}

Test(tls, bad_tls_routes_name_the_line)
{
	read_fails(VS_TOP "  - route:\n" DEST("resnet101"),
		   "tls.yaml:8: tls route without 'match' (Istio requires "
		   "sniHosts; '*' takes every connection)");
	read_fails(VS_TOP "  - match: [{port: 443}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: missing 'sniHosts' (Istio requires at least "
		   "one per tls match)");
	read_fails(VS_TOP "  - match: [{sniHosts: ['a*.example']}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: sniHosts: 'a*.example' is not a host name, "
		   "'*.' and a host name, or '*'");
	read_fails(VS_TOP "  - match: [{sniHosts: [a.example], "
			  "destinationSubnets: [10.0.0.0/8]}]\n"
			  "    route:\n" DEST("resnet101"),
		   "tls.yaml:8: 'destinationSubnets' is not supported by "
		   "kanary");
	read_fails(VS_TOP "  - match: [{sniHosts: [a.example]}]\n",
		   "tls.yaml:8: tls route without 'route'");
}

Test(tls, sni_host_outside_hosts_is_refused)
{
	read_tls(GW VS_TOP "  - match: [{sniHosts: [example.org]}]\n"
			   "    route:\n" DEST("resnet101"));
	cr_assert_eq(kn_config_validate(&cfg, &err), -1);
	cr_assert_str_eq(err.msg,
			 "tls.yaml:22: sniHosts: 'example.org' is not within "
			 "the VirtualService's hosts (Istio requires it)");
}

/* Modes kanary does not implement are warned about (`apply --strict`
 * refuses them), PASSTHROUGH and its ignored certificates are not. */
Test(tls, gateway_modes)
{
	struct kn_config c = { 0 };
	char *w;

	w = t_read_warnings(
		&c, "g.yaml",
		"apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: g}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 80, name: http, protocol: HTTP}\n"
		"    hosts: ['*']\n"
		"    tls: {httpsRedirect: true}\n"
		"  - port: {number: 443, name: tls, protocol: TLS}\n"
		"    hosts: ['*']\n"
		"    tls: {credentialName: c}\n"
		"  - port: {number: 8443, name: m, protocol: TLS}\n"
		"    hosts: ['*']\n"
		"    tls: {mode: AUTO_PASSTHROUGH}\n");
	cr_assert_str_eq(
		w,
		"kanary: g.yaml:8: warning: 'tls.httpsRedirect: true' is "
		"ignored: Istio answers HTTP requests on this server with a "
		"301 to HTTPS; kanary forwards them\n"
		"kanary: g.yaml:14: warning: 'tls.mode: AUTO_PASSTHROUGH' is "
		"ignored: Istio routes by the service named in the SNI "
		"(multi-cluster); kanary does not\n");
	cr_assert_eq(c.n_warnings, 2);
	cr_assert(!kn_gw_server_passthrough(&c.res[0].gw.servers[0]));
	/* no mode: Istio's default, PASSTHROUGH */
	cr_assert(kn_gw_server_passthrough(&c.res[0].gw.servers[1]));
	cr_assert(!kn_gw_server_passthrough(&c.res[0].gw.servers[2]));
	free(w);
	kn_config_free(&c);
	read_fails("apiVersion: networking.istio.io/v1\n"
		   "kind: Gateway\n"
		   "metadata: {name: g}\n"
		   "spec:\n"
		   "  servers:\n"
		   "  - port: {number: 443, name: tls, protocol: TLS}\n"
		   "    hosts: ['*']\n"
		   "    tls: {mode: passthrough}\n",
		   "tls.yaml:8: tls.mode: unsupported value 'passthrough' (one "
		   "of PASSTHROUGH, SIMPLE, MUTUAL, AUTO_PASSTHROUGH, "
		   "ISTIO_MUTUAL, OPTIONAL_MUTUAL)");
}
