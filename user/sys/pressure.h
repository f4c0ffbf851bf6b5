/* SPDX-License-Identifier: MIT */
/* Reading PSI and /proc/meminfo, and opening PSI triggers. */
#ifndef HTM_SYS_PRESSURE_H
#define HTM_SYS_PRESSURE_H

#include "core/pressure.h"

/* /proc/pressure/<res> (cg NULL) or <cg>/<res>.pressure. */
int htm_psi_read(const char *cg, enum htm_resource res, struct htm_psi *out);
int htm_meminfo_read(struct htm_meminfo *out);
/*
 * A PSI trigger on /proc/pressure/<res>: the returned fd polls POLLPRI when
 * the stall in the window exceeds the threshold (spec "some 150000 1000000").
 */
int htm_psi_trigger_open(enum htm_resource res, const char *spec);

#endif
