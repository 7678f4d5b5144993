// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * Config that Istio or the Kubernetes API server would take differently
 * from kanary: kinds and versions of Istio's groups, what the API server
 * refuses, and fields Istio acts on that kanary does not (issue 12,
 * finding 7). Each refusal names file and line and leaves cfg as it was.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "helpers.h"

#define VS_HEAD                                \
	"apiVersion: networking.istio.io/v1\n" \
	"kind: VirtualService\n"               \
	"metadata: {name: v}\n"                \
	"spec:\n"                              \
	"  hosts: ['*']\n"                     \
	"  gateways: [g]\n"                    \
	"  http:\n"                            \
	"  - route:\n"                         \
	"    - destination: {host: svc}\n"

/* Reading yaml fails with exactly msg, and cfg keeps what it had. */
static void refused(const char *yaml, const char *msg)
{
	struct kn_config cfg = { 0 };
	struct kn_err err;

	t_read_ok(&cfg, t_lab("gateway.yaml"));
	cr_assert_eq(kn_config_read_buffer(&cfg, "s.yaml", yaml, strlen(yaml),
					   &err),
		     -1, "accepted:\n%s", yaml);
	cr_assert_str_eq(err.msg, msg);
	cr_assert_eq(cfg.n_res, 1, "the config changed");
	cr_assert_eq(cfg.n_warnings, 0);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* Kinds and versions */

Test(schema, kind_typo_in_istio_group_is_an_error)
{
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: Virtualservice\n"
		"metadata: {name: v}\n",
		"s.yaml:2: no kind 'Virtualservice' in networking.istio.io/v1 "
		"(did you mean VirtualService?)");
	refused("apiVersion: networking.istio.io/v1beta1\n"
		"kind: DestRule\n"
		"metadata: {name: d}\n",
		"s.yaml:2: no kind 'DestRule' in networking.istio.io/v1beta1");
	refused("apiVersion: security.istio.io/v1\n"
		"kind: AuthorisationPolicy\n",
		"s.yaml:2: no kind 'AuthorisationPolicy' in security.istio.io/v1");
}

Test(schema, istio_kind_in_core_group_is_an_error)
{
	refused("apiVersion: v1\n"
		"kind: VirtualService\n"
		"metadata: {name: v}\n",
		"s.yaml:2: no kind 'VirtualService' in v1 (VirtualService is "
		"in networking.istio.io/v1alpha3, v1beta1 or v1)");
	refused("apiVersion: v1\n"
		"kind: DestinationRule\n",
		"s.yaml:2: no kind 'DestinationRule' in v1 (DestinationRule is "
		"in networking.istio.io/v1alpha3, v1beta1 or v1)");
	refused("apiVersion: v1\n"
		"kind: Servcie\n",
		"s.yaml:2: no kind 'Servcie' in v1");
	refused("apiVersion: v1\n"
		"kind: service\n",
		"s.yaml:2: no kind 'service' in v1 (did you mean Service?)");
	refused("apiVersion: v2\n"
		"kind: Service\n",
		"s.yaml:1: unsupported apiVersion 'v2' for Service (want v1)");
}

Test(schema, version_a_kind_is_not_served_in_is_an_error)
{
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: EnvoyFilter\n",
		"s.yaml:1: unsupported apiVersion 'networking.istio.io/v1' for "
		"EnvoyFilter (want networking.istio.io/v1alpha3)");
	refused("apiVersion: networking.istio.io/v1alpha3\n"
		"kind: ProxyConfig\n",
		"s.yaml:1: unsupported apiVersion 'networking.istio.io/v1alpha3' "
		"for ProxyConfig (want networking.istio.io/v1beta1)");
	refused("apiVersion: networking.istio.io/v1beta2\n"
		"kind: VirtualService\n",
		"s.yaml:1: unsupported apiVersion 'networking.istio.io/v1beta2' "
		"for VirtualService (want networking.istio.io/v1alpha3, v1beta1 "
		"or v1)");
	refused("apiVersion: networking.istio.io\n"
		"kind: VirtualService\n",
		"s.yaml:1: apiVersion 'networking.istio.io' has no version "
		"(group/version)");
	refused("apiVersion: networkng.istio.io/v1\n"
		"kind: VirtualService\n",
		"s.yaml:1: unknown API group 'networkng.istio.io' (Istio's are "
		"networking.istio.io, security.istio.io, telemetry.istio.io and "
		"extensions.istio.io)");
}

Test(schema, other_kinds_are_still_skipped)
{
	struct kn_config cfg = { 0 };
	char *got;

	got = t_read_warnings(&cfg, "s.yaml",
			      "apiVersion: networking.istio.io/v1alpha3\n"
			      "kind: EnvoyFilter\n"
			      "metadata: {name: e}\n"
			      "---\n"
			      "apiVersion: security.istio.io/v1\n"
			      "kind: AuthorizationPolicy\n"
			      "metadata: {name: a}\n"
			      "---\n"
			      "apiVersion: v1\n"
			      "kind: ConfigMap\n"
			      "metadata: {name: c}\n"
			      "---\n"
			      "apiVersion: gateway.networking.k8s.io/v1\n"
			      "kind: Gateway\n"
			      "metadata: {name: g}\n"
			      "---\n"
			      "apiVersion: install.istio.io/v1alpha1\n"
			      "kind: IstioOperator\n"
			      "metadata: {name: i}\n"
			      "---\n" VS_HEAD);
	cr_assert_eq(cfg.n_res, 1);
	cr_assert_eq(cfg.n_warnings, 0);
	cr_assert_null(strstr(got, "warning"), "%s", got);
	cr_assert_not_null(strstr(got, "skipping EnvoyFilter e"), "%s", got);
	cr_assert_not_null(
		strstr(got, "skipping gateway.networking.k8s.io/v1 Gateway g"),
		"%s", got);
	free(got);
	kn_config_free(&cfg);
}

/* ------------------------------------------------------------------ */
/* What the API server (or Istio's schema) refuses */

Test(schema, gateway_server_needs_hosts)
{
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: g2}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 80, name: http, protocol: HTTP}\n",
		"s.yaml:6: missing 'hosts' (Istio requires at least one host "
		"per server)");
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: g2}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 80, name: http, protocol: HTTP}\n"
		"    hosts: []\n",
		"s.yaml:6: missing 'hosts' (Istio requires at least one host "
		"per server)");
}

#define SVC_PORT(extra)          \
	"apiVersion: v1\n"       \
	"kind: Service\n"        \
	"metadata: {name: s}\n"  \
	"spec:\n"                \
	"  selector: {app: a}\n" \
	"  ports:\n"             \
	"  - port: 80\n" extra

Test(schema, service_enums)
{
	struct kn_config cfg = { 0 };

	refused(SVC_PORT("    protocol: tcp\n"),
		"s.yaml:8: protocol: unsupported value 'tcp' (one of TCP, UDP, "
		"SCTP)");
	refused(SVC_PORT("    protocol: HTTP\n"),
		"s.yaml:8: protocol: unsupported value 'HTTP' (one of TCP, UDP, "
		"SCTP)");
	refused(SVC_PORT("  type: Clusterip\n"),
		"s.yaml:8: type: unsupported value 'Clusterip' (one of "
		"ClusterIP, NodePort, LoadBalancer, ExternalName)");
	refused(SVC_PORT("  sessionAffinity: Client\n"),
		"s.yaml:8: sessionAffinity: unsupported value 'Client' (one of "
		"None, ClientIP)");
	t_read_buf_ok(&cfg, "s.yaml",
		      SVC_PORT("    protocol: SCTP\n"
			       "  type: LoadBalancer\n"
			       "  sessionAffinity: None\n"));
	cr_assert_eq(cfg.n_warnings, 0);
	kn_config_free(&cfg);
}

#define DR_LABELS(labels)                      \
	"apiVersion: networking.istio.io/v1\n" \
	"kind: DestinationRule\n"              \
	"metadata: {name: d}\n"                \
	"spec:\n"                              \
	"  host: svc\n"                        \
	"  subsets:\n"                         \
	"  - name: v1\n"                       \
	"    labels: " labels "\n"

Test(schema, label_values_are_strings)
{
	static const struct {
		const char *value, *type;
	} bad[] = {
		{ "1", "a number" },	{ "-2", "a number" },
		{ "1.5", "a number" },	{ "0x1f", "a number" },
		{ "1e3", "a number" },	{ "1_000", "a number" },
		{ ".inf", "a number" }, { "true", "a boolean" },
		{ "yes", "a boolean" }, { "Off", "a boolean" },
		{ "n", "a boolean" },
	};
	struct kn_config cfg = { 0 };
	char yaml[512], msg[256];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		snprintf(yaml, sizeof(yaml), DR_LABELS("{version: %s}"),
			 bad[i].value);
		snprintf(msg, sizeof(msg),
			 "s.yaml:8: labels: 'version': %s is %s, Kubernetes "
			 "wants a string (write \"%s\")",
			 bad[i].value, bad[i].type, bad[i].value);
		refused(yaml, msg);
	}
	/* Quoted, they are strings; v1 and 1.2.3 never were numbers. */
	t_read_buf_ok(
		&cfg, "s.yaml",
		DR_LABELS("{version: '1', a: \"true\", b: v1, c: 1.2.3}"));
	cr_assert_str_eq(cfg.res[0].dr.subsets[0].labels.kv[0].value, "1");
	kn_config_free(&cfg);
}

Test(schema, every_label_map_is_checked)
{
	refused("apiVersion: v1\n"
		"kind: Service\n"
		"metadata:\n"
		"  name: s\n"
		"  labels: {tier: 2}\n",
		"s.yaml:5: labels: 'tier': 2 is a number, Kubernetes wants a "
		"string (write \"2\")");
	refused("apiVersion: v1\n"
		"kind: Service\n"
		"metadata: {name: s}\n"
		"spec:\n"
		"  ports: [{port: 80}]\n"
		"  selector: {app: on}\n",
		"s.yaml:6: selector: 'app': on is a boolean, Kubernetes wants "
		"a string (write \"on\")");
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: WorkloadEntry\n"
		"metadata: {name: w}\n"
		"spec:\n"
		"  address: 198.18.0.1\n"
		"  labels: {version: 2.0}\n",
		"s.yaml:6: labels: 'version': 2.0 is a number, Kubernetes wants "
		"a string (write \"2.0\")");
	refused("apiVersion: networking.istio.io/v1\n"
		"kind: DestinationRule\n"
		"metadata:\n"
		"  name: d\n"
		"  annotations: {health.kanary.io/healthy-threshold: 3}\n",
		"s.yaml:5: annotations: 'health.kanary.io/healthy-threshold': 3 "
		"is a number, Kubernetes wants a string (write \"3\")");
}

Test(schema, label_syntax)
{
	refused(DR_LABELS("{version: 'a b'}"),
		"s.yaml:8: labels: bad label value 'a b' for 'version' (at most "
		"63 letters, digits, '-', '_' or '.', starting and ending with "
		"a letter or digit)");
	refused(DR_LABELS("{'-x': a}"),
		"s.yaml:8: labels: bad label key '-x' (an optional DNS prefix "
		"and '/', then at most 63 letters, digits, '-', '_' or '.', "
		"starting and ending with a letter or digit)");
}

/* ------------------------------------------------------------------ */
/* Fields Istio acts on and kanary does not: what Istio would do */

Test(schema, unimplemented_fields_say_what_istio_would_do)
{
	static const struct {
		const char *field, *said;
	} cases[] = {
		{ "retries: {attempts: 3}",
		  "'retries' is ignored: Istio retries failed requests (2 times "
		  "unless set otherwise); kanary does not retry" },
		{ "timeout: 5s", "'timeout: 5s' is ignored: Istio fails the "
				 "request with a 504 after this long; kanary "
				 "sets no request timeout" },
		{ "fault: {abort: {httpStatus: 503, percentage: {value: 10}}}",
		  "'fault' is ignored: Istio injects these delays and aborts; "
		  "kanary does not" },
		{ "mirror: {host: shadow}",
		  "'mirror' is ignored: Istio copies requests to the mirror; "
		  "kanary does not mirror traffic" },
		{ "rewrite: {uri: /v2}",
		  "'rewrite' is ignored: Istio rewrites the path or authority "
		  "before forwarding; kanary forwards the request unchanged" },
		{ "corsPolicy: {allowOrigins: [{exact: a}]}",
		  "'corsPolicy' is ignored: Istio answers CORS preflights and "
		  "adds CORS headers; kanary does not" },
		{ "headers: {request: {set: {x-a: b}}}",
		  "'headers' is ignored: Istio adds, sets or removes the headers "
		  "listed; kanary forwards headers unchanged" },
		{ "retires: {attempts: 3}",
		  "unknown field 'retires' in http[], not in Istio's schema: "
		  "ignored" },
	};
	char yaml[1024], want[512], *got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct kn_config cfg = { 0 };

		snprintf(yaml, sizeof(yaml), VS_HEAD "    %s\n",
			 cases[i].field);
		got = t_read_warnings(&cfg, "s.yaml", yaml);
		snprintf(want, sizeof(want), "kanary: s.yaml:10: warning: %s\n",
			 cases[i].said);
		cr_assert_str_eq(got, want);
		cr_assert_eq(cfg.n_warnings, 1);
		cr_assert_eq(cfg.n_res, 1);
		free(got);
		kn_config_free(&cfg);
	}
}

Test(schema, gateway_tls_and_traffic_policy_warn)
{
	struct kn_config cfg = { 0 };
	char *got;

	got = t_read_warnings(
		&cfg, "s.yaml",
		"apiVersion: networking.istio.io/v1\n"
		"kind: Gateway\n"
		"metadata: {name: g}\n"
		"spec:\n"
		"  servers:\n"
		"  - port: {number: 443, name: https, protocol: HTTPS}\n"
		"    hosts: ['*']\n"
		"    tls: {mode: SIMPLE, credentialName: c}\n"
		"---\n"
		"apiVersion: networking.istio.io/v1\n"
		"kind: DestinationRule\n"
		"metadata: {name: d}\n"
		"spec:\n"
		"  host: svc\n"
		"  trafficPolicy:\n"
		"    connectionPool: {tcp: {maxConnections: 1}}\n"
		"  subsets:\n"
		"  - name: v1\n"
		"    labels: {version: v1}\n"
		"    trafficPolic: {}\n");
	cr_assert_str_eq(
		got,
		"kanary: s.yaml:8: warning: 'tls.mode: SIMPLE' is ignored: "
		"Istio terminates TLS on this server and routes the decrypted "
		"requests by 'http'; kanary does not terminate TLS, and "
		"forwards the connections encrypted, by the 'http' route's "
		"weights\n"
		"kanary: s.yaml:16: warning: 'connectionPool' is ignored: Istio "
		"limits connections and pending requests and rejects the "
		"excess; kanary sets no limits\n"
		"kanary: s.yaml:20: warning: unknown field 'trafficPolic' in "
		"subsets[], not in Istio's schema: ignored\n");
	cr_assert_eq(cfg.n_warnings, 3);
	free(got);
	kn_config_free(&cfg);
}

Test(schema, redirect_is_refused)
{
	refused(VS_HEAD "    redirect: {uri: /new}\n",
		"s.yaml:10: 'redirect' is not supported by kanary: Istio answers "
		"with a redirect and forwards nothing; kanary only forwards");
}

/* Warnings add up across reads: what apply --strict looks at. */
Test(schema, warnings_are_counted_across_files)
{
	struct kn_config cfg = { 0 };
	char *got;

	got = t_read_warnings(&cfg, "s.yaml", VS_HEAD "    timeout: 1s\n");
	free(got);
	got = t_read_warnings(&cfg, "s.yaml",
			      VS_HEAD "    retries: {attempts: 1}\n"
				      "    fault: {}\n");
	free(got);
	cr_assert_eq(cfg.n_warnings, 3);
	kn_config_free(&cfg);
}

/* The lab's manifests, all of them: read with no warning at all. */
Test(schema, lab_manifests_draw_no_warning)
{
	struct kn_config cfg = { 0 };
	FILE *tmp = tmpfile();
	int saved = dup(2);
	char buf[4096];
	size_t len;

	fflush(stderr);
	dup2(fileno(tmp), 2);
	t_read_ok(&cfg, t_lab_dir());
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	rewind(tmp);
	len = fread(buf, 1, sizeof(buf) - 1, tmp);
	buf[len] = '\0';
	fclose(tmp);
	cr_assert_eq(cfg.n_warnings, 0);
	cr_assert_null(strstr(buf, "warning"), "%s", buf);
	cr_assert_gt(cfg.n_res, 5);
	kn_config_free(&cfg);
}
