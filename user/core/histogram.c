// SPDX-License-Identifier: MIT
#include <math.h>

#include "histogram.h"

double htm_hist_quantile(const __u64 *counts, int nslots, double p)
{
	__u64 total = 0, seen = 0, rank;
	double lo, hi;

	for (int i = 0; i < nslots; i++)
		total += counts[i];
	if (!total)
		return 0;
	/* the epsilon keeps 0.07 * 100 at rank 7, not 8 */
	rank = (__u64)ceil(p * (double)total - 1e-9);
	if (rank < 1)
		rank = 1;
	for (int i = 0; i < nslots; i++) {
		if (!counts[i] || seen + counts[i] < rank) {
			seen += counts[i];
			continue;
		}
		lo = i ? ldexp(1.0, i) : 0.0;
		if (i == nslots - 1)
			return lo;
		hi = ldexp(1.0, i + 1);
		return lo + (hi - lo) * (double)(rank - seen) / (double)counts[i];
	}
	return ldexp(1.0, nslots - 1);
}

void htm_hist_delta(const __u64 *now, const __u64 *before, int nslots,
		    __u64 *out)
{
	for (int i = 0; i < nslots; i++)
		out[i] = now[i] >= before[i] ? now[i] - before[i] : 0;
}
