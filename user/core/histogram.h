/* SPDX-License-Identifier: MIT */
/* Percentiles of a log2 histogram of microseconds (the sampler's layout). */
#ifndef HTM_CORE_HISTOGRAM_H
#define HTM_CORE_HISTOGRAM_H

#include <linux/types.h>

/*
 * The p-quantile (0 < p <= 1) of counts[0..nslots), where slot i holds
 * values in [2^i, 2^(i+1)) us and slot 0 also [0, 1). Linear within the
 * slot that holds the rank; the open last slot answers its lower bound.
 * 0 when the histogram is empty.
 */
double htm_hist_quantile(const __u64 *counts, int nslots, double p);
/* counts = now - before, slot by slot (counters only grow; a reset reads 0). */
void htm_hist_delta(const __u64 *now, const __u64 *before, int nslots,
		    __u64 *out);

#endif
