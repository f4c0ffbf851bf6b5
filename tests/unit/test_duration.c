// SPDX-License-Identifier: MIT
/* Human durations: parse what operators type, format the shortest form. */
#include <errno.h>
#include <stdint.h>

#include "core/duration.h"

#include "check.h"

#define MS HTM_NSEC_PER_MSEC
#define S HTM_NSEC_PER_SEC
#define M (60 * S)
#define H (3600 * S)
#define D (86400 * S)

static const struct {
	const char *in;
	uint64_t ns;
} valid[] = {
	{ "500ms", 500 * MS },
	{ "200us", 200 * 1000ull },
	{ "1us", 1000ull },
	{ "1.5ms", 1500 * 1000ull },
	{ "30s", 30 * S },
	{ "5m", 5 * M },
	{ "2h", 2 * H },
	{ "1d", D },
	{ "1h30m", H + 30 * M },
	{ "1.5s", 1500 * MS },
	{ "0.25s", 250 * MS },
	{ "0s", 0 },
	{ "0ms", 0 },
	{ "1ms", MS },
	{ "1s", S },
	{ "1m", M },
	{ "2d3h4m5s6ms", 2 * D + 3 * H + 4 * M + 5 * S + 6 * MS },
	{ "1m30s", 90 * S },
	{ "1.5ms", 1500000 },
	{ "1.5m", 90 * S },
	{ "0.5h", 30 * M },
	{ "1.25d", D + 6 * H },
	{ "4.35s", 4350000000ull },
	{ "0.001s", MS },
	{ "0.000000001s", 1 },
	/* beyond nanoseconds: truncated, not an error */
	{ "1.0000000009s", S },
	{ "007s", 7 * S },
	{ "100000ms", 100 * S },
	/* the largest whole-day value that fits in 64 bits of ns */
	{ "213503d", 213503ull * D },
};

static const char *const invalid[] = {
	"", "10", "s", "ms", "-1s", "+1s", "1x", "1.s", ".5s", "1..5s", "1.5.5s",
	"1e3s", "1S", "1 s", " 1s", "1s ", "1m30", "1ms5", "1h 30m", "1sec",
	"1hr", "1,5s", "0x10s", "5mm", "1µs", "1ns", "1w", "1y",
};

static const char *const overflow[] = {
	"213504d",			/* 2^64 ns is about 213503.98 days */
	"18446744073710ms",
	"5124096h",
	"99999999999999999999s",	/* overflows while reading digits */
	"999999999999999999999999999ms",
	"213503d213503d",		/* each part fits, the sum does not */
	"200000d200000d",
};

static void test_parse_valid(void)
{
	for (size_t i = 0; i < sizeof(valid) / sizeof(valid[0]); i++) {
		uint64_t ns = 12345;
		int r = htm_duration_parse(valid[i].in, &ns);

		check_total++;
		if (r != 0 || ns != valid[i].ns) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "parse(\"%s\") = %d, %llu ns; want 0, %llu ns\n",
				valid[i].in, r, (unsigned long long)ns,
				(unsigned long long)valid[i].ns);
		}
	}
}

static void test_parse_invalid(void)
{
	for (size_t i = 0; i < sizeof(invalid) / sizeof(invalid[0]); i++) {
		uint64_t ns = 777;
		int r = htm_duration_parse(invalid[i], &ns);

		check_total++;
		/* refused, and the output untouched */
		if (r != -EINVAL || ns != 777) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "parse(\"%s\") = %d, %llu; want -EINVAL\n",
				invalid[i], r, (unsigned long long)ns);
		}
	}
	{
		uint64_t ns = 777;

		CHECK_EQ_INT(htm_duration_parse(NULL, &ns), -EINVAL);
		CHECK_EQ_U64(ns, 777);
	}
}

static void test_parse_overflow(void)
{
	for (size_t i = 0; i < sizeof(overflow) / sizeof(overflow[0]); i++) {
		uint64_t ns = 777;
		int r = htm_duration_parse(overflow[i], &ns);

		check_total++;
		if (r != -ERANGE || ns != 777) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "parse(\"%s\") = %d, %llu; want -ERANGE\n",
				overflow[i], r, (unsigned long long)ns);
		}
	}
}

static void test_format(void)
{
	static const struct {
		uint64_t ns;
		const char *out;
	} cases[] = {
		{ 0, "0s" },
		{ MS, "1ms" },
		{ 500 * MS, "500ms" },
		{ 999 * MS, "999ms" },
		{ S, "1s" },
		{ 1500 * MS, "1.5s" },
		{ 2500 * MS, "2.5s" },
		{ 1250 * MS, "1.25s" },
		{ 1001 * MS, "1.001s" },
		{ 1010 * MS, "1.01s" },
		{ 30 * S, "30s" },
		{ 59 * S + 999 * MS, "59.999s" },
		{ M, "1m" },
		{ 90 * S, "1m30s" },
		{ 5 * M, "5m" },
		{ H, "1h" },
		{ H + 30 * M, "1h30m" },
		{ H + S, "1h1s" },
		{ 2 * H, "2h" },
		{ D, "1d" },
		{ D + H + M + S + MS, "1d1h1m1.001s" },
		{ 2 * D + 500 * MS, "2d0.5s" },
		{ 36 * H, "1d12h" },
		/* below a millisecond is cut, not rounded */
		{ 1500 * MS + 999999, "1.5s" },
		{ 999999, "999us" },
		{ 999, "0s" },
		{ 200000, "200us" },
	};
	char buf[64];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *r = htm_duration_format(cases[i].ns, buf, sizeof(buf));

		CHECK_EQ_PTR(r, buf);
		check_total++;
		if (strcmp(buf, cases[i].out) != 0) {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "format(%llu) = \"%s\", want \"%s\"\n",
				(unsigned long long)cases[i].ns, buf, cases[i].out);
		}
	}
}

/* A short buffer truncates (always terminated) and never overruns. */
static void test_format_short_buffer(void)
{
	const char *full = "1d1h1m1.001s";
	uint64_t ns = D + H + M + S + MS;

	for (size_t len = 1; len <= strlen(full) + 1; len++) {
		char buf[32];

		memset(buf, 'X', sizeof(buf));
		htm_duration_format(ns, buf, len);
		check_total++;
		if (strlen(buf) >= len || strncmp(buf, full, strlen(buf)) != 0 ||
		    buf[len] != 'X') {
			check_fail_(__FILE__, __LINE__);
			fprintf(stderr, "format into %zu bytes: \"%.*s\"\n", len,
				(int)len, buf);
		}
	}
}

/* xorshift64*, fixed seed: deterministic */
static uint64_t rng(void)
{
	static uint64_t x = 0x2545f4914f6cdd1dull;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	return x * 0x2545f4914f6cdd1dull;
}

/* format then parse gives back any millisecond-exact value */
static void test_round_trip(void)
{
	unsigned bad = 0;
	char buf[64];

	for (int i = 0; i < 20000; i++) {
		uint64_t ns, back = 0;

		switch (i % 4) {
		case 0: ns = rng() % (10 * S) / MS * MS; break;
		case 1: ns = rng() % (3 * D) / MS * MS; break;
		case 2: ns = rng() % (400 * D) / S * S; break;
		default: ns = rng() / MS * MS; break;	/* up to 2^64 */
		}
		htm_duration_format(ns, buf, sizeof(buf));
		if (htm_duration_parse(buf, &back) != 0 || back != ns) {
			if (bad++ < 5)
				fprintf(stderr, "round trip %llu -> \"%s\" -> %llu\n",
					(unsigned long long)ns, buf,
					(unsigned long long)back);
		}
	}
	CHECK_EQ_INT(bad, 0);

	/* and parse then format reproduces canonical spellings */
	{
		static const char *const canon[] = {
			"500ms", "30s", "5m", "2h", "1d", "1h30m", "1.5s",
			"250ms", "0s", "1d2h3m4.005s", "59.999s",
		};

		for (size_t i = 0; i < sizeof(canon) / sizeof(canon[0]); i++) {
			uint64_t ns = 0;

			CHECK_EQ_INT(htm_duration_parse(canon[i], &ns), 0);
			CHECK_EQ_STR(htm_duration_format(ns, buf, sizeof(buf)),
				     canon[i]);
		}
	}
}

int main(void)
{
	test_parse_valid();
	test_parse_invalid();
	test_parse_overflow();
	test_format();
	test_format_short_buffer();
	test_round_trip();
	return check_report();
}
