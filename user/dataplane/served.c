// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
#include <arpa/inet.h>
#include <string.h>

#include "served.h"
#include "stats.h"
#include "vhosts.h"

/* Why nothing serves VirtualService vs: what its gateways say. */
static const char *unserved_why(const struct kn_resource *vs)
{
	if (!vs->vs.n_gateways)
		return "no gateways (Istio's sidecars only)";
	for (int i = 0; i < vs->vs.n_gateways; i++) {
		if (!strcmp(vs->vs.gateways[i], "mesh"))
			continue;
		/* tls routes serve PASSTHROUGH servers only (vhosts.c) */
		if (!vs->vs.n_tls)
			return "no server of its gateways has one of its hosts";
		if (!vs->vs.n_http)
			return "no PASSTHROUGH server of its gateways has one "
			       "of its hosts on a port its tls routes match";
		return "no server of its gateways has one of its hosts (for "
		       "its tls routes, a PASSTHROUGH one on a port they "
		       "match)";
	}
	return "only 'mesh' (Istio's sidecars)";
}

static void print_listen(FILE *f, const uint32_t *vips, int n_vips,
			 uint16_t port, bool json)
{
	char addr[INET_ADDRSTRLEN], buf[INET_ADDRSTRLEN + 8];

	if (!n_vips) {
		snprintf(buf, sizeof(buf), "*:%u", port);
		if (json)
			kn_json_str(f, buf);
		else
			fputs(buf, f);
	}
	for (int i = 0; i < n_vips; i++) {
		snprintf(buf, sizeof(buf), "%s:%u",
			 inet_ntop(AF_INET, &vips[i], addr, sizeof(addr)),
			 port);
		if (i)
			fputc(',', f);
		if (json)
			kn_json_str(f, buf);
		else
			fputs(buf, f);
	}
}

void kn_served_print(FILE *f, const struct kn_config *cfg, const uint32_t *vips,
		     int n_vips)
{
	struct kn_ports ports;
	struct kn_err err;

	if (kn_ports_plan(cfg, &ports, &err))
		return;
	for (int i = 0; i < ports.n; i++) {
		const struct kn_port *p = &ports.port[i];

		fprintf(f, "port:        ");
		print_listen(f, vips, n_vips, p->port, false);
		fprintf(f, " %s %s:", p->protocol ? p->protocol : "HTTP",
			p->l7 ? "L7" : "L4");
		for (int v = 0; v < p->n_vs; v++) {
			const struct kn_resource *vs = &cfg->res[p->vs[v]];

			fprintf(f, "%s %s/%s (", v ? "," : "", vs->ns,
				vs->name);
			for (int h = 0; h < p->n_hosts[v]; h++)
				fprintf(f, "%s%s", h ? " " : "",
					p->hosts[v][h]);
			fputc(')', f);
		}
		fputc('\n', f);
	}
	for (int i = 0; i < ports.n_unserved; i++) {
		const struct kn_resource *vs = &cfg->res[ports.unserved[i]];

		fprintf(f, "not served:  %s/%s: %s\n", vs->ns, vs->name,
			unserved_why(vs));
	}
	kn_ports_free(&ports);
}

void kn_served_print_json(FILE *f, const struct kn_config *cfg,
			  const uint32_t *vips, int n_vips)
{
	struct kn_ports ports = { 0 };
	char name[2 * KANARY_NAME_LEN + 2];
	struct kn_err err;

	if (cfg && kn_ports_plan(cfg, &ports, &err))
		memset(&ports, 0, sizeof(ports));
	fputs("\"ports\":[", f);
	for (int i = 0; i < ports.n; i++) {
		const struct kn_port *p = &ports.port[i];

		fprintf(f, "%s{\"listen\":[", i ? "," : "");
		print_listen(f, vips, n_vips, p->port, true);
		fprintf(f, "],\"port\":%u,\"protocol\":", p->port);
		kn_json_str(f, p->protocol ? p->protocol : "HTTP");
		fprintf(f, ",\"path\":\"%s\",\"virtualservices\":[",
			p->l7 ? "L7" : "L4");
		for (int v = 0; v < p->n_vs; v++) {
			const struct kn_resource *vs = &cfg->res[p->vs[v]];

			snprintf(name, sizeof(name), "%s/%s", vs->ns, vs->name);
			fprintf(f, "%s{\"name\":", v ? "," : "");
			kn_json_str(f, name);
			fputs(",\"hosts\":[", f);
			for (int h = 0; h < p->n_hosts[v]; h++) {
				if (h)
					fputc(',', f);
				kn_json_str(f, p->hosts[v][h]);
			}
			fputs("]}", f);
		}
		fputs("]}", f);
	}
	fputs("],\"not_served\":[", f);
	for (int i = 0; i < ports.n_unserved; i++) {
		const struct kn_resource *vs = &cfg->res[ports.unserved[i]];

		snprintf(name, sizeof(name), "%s/%s", vs->ns, vs->name);
		fprintf(f, "%s{\"name\":", i ? "," : "");
		kn_json_str(f, name);
		fputs(",\"why\":", f);
		kn_json_str(f, unserved_why(vs));
		fputc('}', f);
	}
	fputc(']', f);
	kn_ports_free(&ports);
}
