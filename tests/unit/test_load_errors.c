// SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
/* What the CLI says when the programs do not load, by errno and caller. */
#include <errno.h>
#include <string.h>

#include <criterion/criterion.h>

#include "pins.h"

/* Without privileges, EPERM and EACCES are what finding 8 made them. */
Test(load_errors, unprivileged_is_permission_denied)
{
	cr_assert_str_eq(kn_load_strerror(EPERM, false), KN_DENIED);
	cr_assert_str_eq(kn_load_strerror(EACCES, false), KN_DENIED);
	cr_assert_str_eq(kn_load_strerror(EPERM, true), KN_DENIED);
}

/*
 * The finding: a program the verifier refused (EACCES, as root) was
 * reported as "permission denied (run as root ...)" to root.
 */
Test(load_errors, root_eacces_is_the_verifier)
{
	const char *m = kn_load_strerror(EACCES, true);

	cr_assert(strstr(m, "the verifier"), "said: %s", m);
	cr_assert(strstr(m, "KANARY_DEBUG=1"), "said: %s", m);
	cr_assert_null(strstr(m, "run as root"), "said: %s", m);
}

Test(load_errors, other_errors_are_strerror)
{
	cr_assert_str_eq(kn_load_strerror(E2BIG, true), strerror(E2BIG));
}
