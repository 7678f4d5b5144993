// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/*
 * VirtualService hosts as Istio writes them: what kinds there are, and
 * which are valid. The reader refuses the invalid ones; the compiler
 * matches the rest against the request's Host (user/compile/vhosts.c).
 */
#include <string.h>

#include "config.h"

enum kn_host_kind kn_host_kind(const char *host)
{
	if (!strcmp(host, "*"))
		return KN_HOST_ANY;
	if (host[0] == '*')
		return KN_HOST_SUFFIX;
	return KN_HOST_EXACT;
}

const char *kn_host_invalid(const char *host)
{
	const char *rest = host[0] == '*' ? host + 1 : host;

	if (!*host)
		return "an empty host";
	if (!strcmp(host, "*"))
		return NULL;
	/* Istio: a wildcard is the whole leftmost label, or nothing. */
	if (host[0] == '*' && (rest[0] != '.' || !rest[1]))
		return "a wildcard must be \"*\" or start \"*.\"";
	if (strchr(rest, '*'))
		return "a wildcard may only be the first label (\"*.example.com\")";
	return NULL;
}
