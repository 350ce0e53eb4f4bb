/* SPDX-License-Identifier: MIT */
/*
 * Checks for the unit tests (no daemon; the integration tests have
 * SVT_CHECK in svtest.h). CHECK counts a failure in svt_failures and goes
 * on, so one run names every broken case; REQUIRE stops the test at the
 * first, for what the rest of it stands on.
 */
#ifndef SVT_UNIT_H
#define SVT_UNIT_H

#include <stdio.h>
#include <stdlib.h>

static int svt_failures __attribute__((unused));

#define SVT_UNIT_FAIL(c)                                                     \
	fprintf(stderr, "%s:%d: FAIL %s\n", __FILE__, __LINE__, #c)

#define CHECK(c)                                                             \
	do {                                                                 \
		if (!(c)) {                                                  \
			SVT_UNIT_FAIL(c);                                    \
			svt_failures++;                                      \
		}                                                            \
	} while (0)

#define REQUIRE(c)                                                           \
	do {                                                                 \
		if (!(c)) {                                                  \
			SVT_UNIT_FAIL(c);                                    \
			exit(1);                                             \
		}                                                            \
	} while (0)

#endif
