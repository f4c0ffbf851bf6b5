// SPDX-License-Identifier: MIT
/*
 * Percentiles of the sampler's log2 histogram: slot i holds [2^i, 2^(i+1))
 * microseconds (slot 0 holds [0, 2)), linear within the slot holding the
 * rank, the open last slot answers its lower bound; and slot-wise deltas.
 */
#include <stdint.h>
#include <string.h>

#include "core/histogram.h"

#include "check.h"

#define SLOTS 26	/* HTM_HIST_SLOTS, the sampler's layout */

/* Every answer below is exact in binary floating point (or nearly so);
 * the tolerance only absorbs rounding in the interpolation. */
#define EPS 1e-9

static void test_empty(void)
{
	__u64 c[SLOTS];

	memset(c, 0, sizeof(c));
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 0.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.99), 0.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.0), 0.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, 1, 0.5), 0.0, 0.0);
	/* no slots at all */
	CHECK_EQ_DBL(htm_hist_quantile(c, 0, 0.5), 0.0, 0.0);
}

/* One occupied slot: the answer walks linearly across it with the rank. */
static void test_single_slot(void)
{
	__u64 c[SLOTS];

	/* 4 samples in slot 3, [8, 16): rank r answers 8 + 8 * r / 4 */
	memset(c, 0, sizeof(c));
	c[3] = 4;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.25), 10.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.50), 12.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.75), 14.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.00), 16.0, EPS);
	/* rank = ceil(p * total): 0.3 * 4 = 1.2 -> rank 2 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.30), 12.0, EPS);
	/* a tiny p still ranks the first sample */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.001), 10.0, EPS);

	/* 10 samples in slot 6, [64, 128) */
	memset(c, 0, sizeof(c));
	c[6] = 10;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.50), 96.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.90), 121.6, EPS);
	/* 0.99 * 10 = 9.9 -> rank 10, the top of the slot */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.99), 128.0, EPS);

	/* slot 0 spans [0, 2): a single sample answers 2 */
	memset(c, 0, sizeof(c));
	c[0] = 1;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 2.0, EPS);
	c[0] = 8;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 1.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.125), 0.25, EPS);

	/* slot 1 spans [2, 4) */
	memset(c, 0, sizeof(c));
	c[1] = 2;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 3.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.0), 4.0, EPS);

	/* a single sample in slot 5 answers the top of [32, 64) at any p */
	memset(c, 0, sizeof(c));
	c[5] = 1;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.01), 64.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.0), 64.0, EPS);
}

/* The open last slot answers its lower bound whatever the rank. */
static void test_last_slot(void)
{
	__u64 c[SLOTS];

	memset(c, 0, sizeof(c));
	c[SLOTS - 1] = 10;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.1), 33554432.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 33554432.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.0), 33554432.0, 0.0);

	/* half in slot 0, half in the last slot */
	c[0] = 10;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.5), 2.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.55), 33554432.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.0), 33554432.0, 0.0);

	/* a shorter histogram: its last slot is slot 4, lower bound 16 */
	memset(c, 0, sizeof(c));
	c[4] = 3;
	CHECK_EQ_DBL(htm_hist_quantile(c, 5, 0.5), 16.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, 5, 1.0), 16.0, 0.0);
	/* the same counts in a longer histogram interpolate in [16, 32) */
	CHECK_EQ_DBL(htm_hist_quantile(c, 6, 1.0), 32.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, 6, 1.0 / 3.0), 16.0 + 16.0 / 3.0, EPS);

	/* one slot only: it is slot 0 and the last slot at once: lower bound 0 */
	memset(c, 0, sizeof(c));
	c[0] = 7;
	CHECK_EQ_DBL(htm_hist_quantile(c, 1, 0.5), 0.0, 0.0);
	CHECK_EQ_DBL(htm_hist_quantile(c, 1, 1.0), 0.0, 0.0);
}

/*
 * 100 samples: 50 in slot 0 [0,2), 40 in slot 4 [16,32), 9 in slot 10
 * [1024,2048), 1 in slot 20 [2^20,2^21); the slots between are empty.
 * p50, p90, p99 and p100 rank exactly on the last sample of a slot.
 */
static void test_known_distribution(void)
{
	__u64 c[SLOTS];

	memset(c, 0, sizeof(c));
	c[0] = 50;
	c[4] = 40;
	c[10] = 9;
	c[20] = 1;

	/* rank 50: the last sample of slot 0 -> its top, 2 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.50), 2.0, EPS);
	/* rank 90: the last of slot 4 -> 32 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.90), 32.0, EPS);
	/* rank 99: the last of slot 10 -> 2048 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.99), 2048.0, EPS);
	/* rank 100: slot 20 -> 2^21 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.00), 2097152.0, EPS);

	/* one rank past a boundary: the first sample of the next occupied slot */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.51), 16.4, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.91), 1024.0 + 1024.0 / 9.0, EPS);
	/* inside slots */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.25), 1.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.70), 24.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.95), 1024.0 + 1024.0 * 5.0 / 9.0,
		     EPS);
	/* rank 1 */
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.01), 0.04, EPS);

	/* 1000 samples: 900 in slot 2 [4,8), 90 in slot 7 [128,256),
	 * 10 in slot 12 [4096,8192) */
	memset(c, 0, sizeof(c));
	c[2] = 900;
	c[7] = 90;
	c[12] = 10;
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.50), 4.0 + 4.0 * 500.0 / 900.0,
		     EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.90), 8.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.99), 256.0, EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 0.999), 4096.0 + 4096.0 * 0.9,
		     EPS);
	CHECK_EQ_DBL(htm_hist_quantile(c, SLOTS, 1.00), 8192.0, EPS);
}

/* Deterministic xorshift64*, so a failure reproduces. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t rnd(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545F4914F6CDD1Dull;
}

/*
 * Random histograms: the quantile never decreases as p grows, stays within
 * [0, 2^(nslots-1)], p=1 answers the top of the highest occupied slot (its
 * lower bound if it is the last) and the smallest p the first sample.
 */
static void test_monotonic_random(void)
{
	unsigned bad_order = 0, bad_range = 0, bad_top = 0, bad_bottom = 0;

	for (int trial = 0; trial < 500; trial++) {
		__u64 c[SLOTS];
		int n = 1 + (int)(rnd() % SLOTS), first = -1, top = -1;
		double prev = -1, max = n > 1 ? (double)(1ull << (n - 1)) : 0;
		double want_top, want_bottom;

		for (int i = 0; i < n; i++) {
			/* about half the slots empty, some counts large */
			switch (rnd() % 4) {
			case 0:
			case 1:
				c[i] = 0;
				break;
			case 2:
				c[i] = 1 + rnd() % 10;
				break;
			default:
				c[i] = 1 + rnd() % 1000000;
				break;
			}
			if (c[i]) {
				if (first < 0)
					first = i;
				top = i;
			}
		}
		if (top < 0) {
			c[n - 1] = 1 + rnd() % 5;
			first = top = n - 1;
		}

		for (int k = 1; k <= 1000; k++) {
			double p = k / 1000.0, q = htm_hist_quantile(c, n, p);

			if (q < prev)
				bad_order++;
			if (q < 0 || q > max)
				bad_range++;
			prev = q;
		}
		/* the extra p values the monitor asks for, in order */
		{
			double q50 = htm_hist_quantile(c, n, 0.50);
			double q90 = htm_hist_quantile(c, n, 0.90);
			double q99 = htm_hist_quantile(c, n, 0.99);
			double q100 = htm_hist_quantile(c, n, 1.0);

			if (!(q50 <= q90 && q90 <= q99 && q99 <= q100))
				bad_order++;
		}

		want_top = top == n - 1 ? (top ? (double)(1ull << top) : 0)
					: (double)(1ull << (top + 1));
		if (htm_hist_quantile(c, n, 1.0) != want_top)
			bad_top++;
		if (first == n - 1) {
			want_bottom = first ? (double)(1ull << first) : 0;
		} else {
			double lo = first ? (double)(1ull << first) : 0;
			double hi = (double)(1ull << (first + 1));

			want_bottom = lo + (hi - lo) / (double)c[first];
		}
		/* p small enough that ceil(p * total) is 1 */
		{
			__u64 total = 0;
			double q;

			for (int i = 0; i < n; i++)
				total += c[i];
			q = htm_hist_quantile(c, n, 0.5 / (double)total);
			if (q - want_bottom > EPS || want_bottom - q > EPS)
				bad_bottom++;
		}
	}
	CHECK_EQ_INT(bad_order, 0);
	CHECK_EQ_INT(bad_range, 0);
	CHECK_EQ_INT(bad_top, 0);
	CHECK_EQ_INT(bad_bottom, 0);
}

static void test_delta(void)
{
	__u64 now[6] = { 5, 10, 3, 0, 1000000, (1ull << 63) + 5 };
	__u64 before[6] = { 2, 10, 7, 0, 1, 5 };
	__u64 out[6];

	memset(out, 0xAA, sizeof(out));
	htm_hist_delta(now, before, 6, out);
	CHECK_EQ_U64(out[0], 3);
	CHECK_EQ_U64(out[1], 0);
	/* went backwards (a reset): reads 0, not a huge wrapped count */
	CHECK_EQ_U64(out[2], 0);
	CHECK_EQ_U64(out[3], 0);
	CHECK_EQ_U64(out[4], 999999);
	CHECK_EQ_U64(out[5], 1ull << 63);

	/* nslots bounds the write */
	memset(out, 0xAA, sizeof(out));
	htm_hist_delta(now, before, 2, out);
	CHECK_EQ_U64(out[0], 3);
	CHECK_EQ_U64(out[1], 0);
	CHECK_EQ_U64(out[2], 0xAAAAAAAAAAAAAAAAull);

	/* the monitor's use: quantile of the delta between two readings */
	{
		__u64 a[SLOTS], b[SLOTS], d[SLOTS];

		memset(a, 0, sizeof(a));
		memset(b, 0, sizeof(b));
		a[0] = 100;	/* old samples only: no new ones in slot 0 */
		b[0] = 100;
		a[3] = 7;	/* 4 new samples in [8, 16) */
		b[3] = 3;
		a[9] = 2;	/* counter reset: must not count */
		b[9] = 50;
		htm_hist_delta(b, a, SLOTS, d);
		CHECK_EQ_U64(d[0], 0);
		CHECK_EQ_U64(d[3], 0);
		CHECK_EQ_U64(d[9], 48);
		htm_hist_delta(a, b, SLOTS, d);
		CHECK_EQ_U64(d[0], 0);
		CHECK_EQ_U64(d[3], 4);
		CHECK_EQ_U64(d[9], 0);
		CHECK_EQ_DBL(htm_hist_quantile(d, SLOTS, 0.5), 12.0, EPS);
		CHECK_EQ_DBL(htm_hist_quantile(d, SLOTS, 1.0), 16.0, EPS);
	}
}

int main(void)
{
	test_empty();
	test_single_slot();
	test_last_slot();
	test_known_distribution();
	test_monotonic_random();
	test_delta();
	return check_report();
}
