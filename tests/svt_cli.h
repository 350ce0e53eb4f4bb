/* SPDX-License-Identifier: MIT */
/*
 * What an operator sees: one counter of `softverbs dev show DEV` (refused,
 * foreign_drops, raw_tx, ...), read with the project's CLI. Include after
 * svtest.h.
 */
#ifndef SVT_CLI_H
#define SVT_CLI_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static inline unsigned long svt_dev_counter(const char *dev, const char *key)
{
	char cmd[512], line[1024], *p;
	FILE *f;

	snprintf(cmd, sizeof(cmd), "%s/softverbs dev show %s", SVT_BINDIR,
		 dev);
	f = popen(cmd, "r");
	SVT_CHECK(f && fgets(line, sizeof(line), f));
	pclose(f);
	snprintf(cmd, sizeof(cmd), " %s=", key);
	p = strstr(line, cmd);
	SVT_CHECK(p);
	return strtoul(p + strlen(cmd), NULL, 10);
}

#endif
