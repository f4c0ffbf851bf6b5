// SPDX-License-Identifier: MIT
/* Parsing PSI files and /proc/meminfo; the stall percentage between readings. */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/pressure.h"

#include "check.h"

static void test_names(void)
{
	CHECK_EQ_STR(htm_resource_names[HTM_RES_CPU], "cpu");
	CHECK_EQ_STR(htm_resource_names[HTM_RES_MEMORY], "memory");
	CHECK_EQ_STR(htm_resource_names[HTM_RES_IO], "io");
	CHECK(htm_resource_names[HTM_RES_COUNT] == NULL);
}

static void test_psi_some_and_full(void)
{
	struct htm_psi psi;

	memset(&psi, 0xAA, sizeof(psi));
	CHECK_EQ_INT(htm_psi_parse("some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
				   "full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
				   &psi), 0);
	CHECK_EQ_DBL(psi.some.avg10, 1.23, 1e-12);
	CHECK_EQ_DBL(psi.some.avg60, 4.56, 1e-12);
	CHECK_EQ_DBL(psi.some.avg300, 7.89, 1e-12);
	CHECK_EQ_U64(psi.some.total, 123456);
	CHECK(psi.has_full);
	CHECK_EQ_DBL(psi.full.avg10, 0.0, 0.0);
	CHECK_EQ_DBL(psi.full.avg60, 0.0, 0.0);
	CHECK_EQ_DBL(psi.full.avg300, 0.0, 0.0);
	CHECK_EQ_U64(psi.full.total, 0);

	/* a busy memory.pressure: full non-zero, large totals, no final newline */
	memset(&psi, 0xAA, sizeof(psi));
	CHECK_EQ_INT(htm_psi_parse("some avg10=45.10 avg60=30.02 avg300=12.50 total=98765432101\n"
				   "full avg10=20.00 avg60=10.50 avg300=3.25 total=4294967296",
				   &psi), 0);
	CHECK_EQ_DBL(psi.some.avg10, 45.10, 1e-12);
	CHECK_EQ_DBL(psi.some.avg60, 30.02, 1e-12);
	CHECK_EQ_DBL(psi.some.avg300, 12.50, 1e-12);
	CHECK_EQ_U64(psi.some.total, 98765432101ull);
	CHECK(psi.has_full);
	CHECK_EQ_DBL(psi.full.avg10, 20.0, 1e-12);
	CHECK_EQ_DBL(psi.full.avg60, 10.5, 1e-12);
	CHECK_EQ_DBL(psi.full.avg300, 3.25, 1e-12);
	CHECK_EQ_U64(psi.full.total, 4294967296ull);

	/* the largest cumulative total the kernel could report */
	CHECK_EQ_INT(htm_psi_parse("some avg10=100.00 avg60=100.00 avg300=100.00 "
				   "total=18446744073709551615\n", &psi), 0);
	CHECK_EQ_U64(psi.some.total, UINT64_MAX);
	CHECK_EQ_DBL(psi.some.avg10, 100.0, 0.0);
}

/* cpu.pressure before 5.13 has no full line */
static void test_psi_without_full(void)
{
	struct htm_psi psi;

	memset(&psi, 0xAA, sizeof(psi));
	CHECK_EQ_INT(htm_psi_parse("some avg10=0.50 avg60=0.25 avg300=0.10 total=987654321\n",
				   &psi), 0);
	CHECK_EQ_DBL(psi.some.avg10, 0.50, 1e-12);
	CHECK_EQ_DBL(psi.some.avg60, 0.25, 1e-12);
	CHECK_EQ_DBL(psi.some.avg300, 0.10, 1e-12);
	CHECK_EQ_U64(psi.some.total, 987654321);
	CHECK(!psi.has_full);
	/* the absent line reads as zeros, not left-over memory */
	CHECK_EQ_DBL(psi.full.avg10, 0.0, 0.0);
	CHECK_EQ_DBL(psi.full.avg60, 0.0, 0.0);
	CHECK_EQ_DBL(psi.full.avg300, 0.0, 0.0);
	CHECK_EQ_U64(psi.full.total, 0);

	/* no trailing newline either */
	memset(&psi, 0xAA, sizeof(psi));
	CHECK_EQ_INT(htm_psi_parse("some avg10=0.00 avg60=0.00 avg300=0.00 total=0", &psi), 0);
	CHECK_EQ_U64(psi.some.total, 0);
	CHECK(!psi.has_full);
}

static void test_psi_malformed(void)
{
	static const char *const bad[] = {
		"",
		"\n",
		"garbage",
		/* no some line first */
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=0\n",
		" some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n",
		"Some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n",
		"some\n",
		"some \n",
		/* truncated some lines */
		"some avg10=1.23 avg60=4.56 avg300=7.89\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 tot",
		"some avg10=1.23 avg60=",
		"some avg10=1.23",
		/* bad numbers, wrong keys, wrong order */
		"some avg10=abc avg60=4.56 avg300=7.89 total=123456\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=x\n",
		"some avg10=1.23 avg60=4.56 avg900=7.89 total=123456\n",
		"some total=123456 avg10=1.23 avg60=4.56 avg300=7.89\n",
		/* a good some line, then a malformed full line */
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full avg10=0.00 avg60=0.00 avg300=0.00\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full avg10=0.00 avg60=0.00 avg300=0.00 total=\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full avg10=0.00 avg60=",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full avg10=x avg60=0.00 avg300=0.00 total=0\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full garbage\n",
		"some avg10=1.23 avg60=4.56 avg300=7.89 total=123456\n"
		"full \n",
	};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		struct htm_psi psi;
		int r = htm_psi_parse(bad[i], &psi);

		if (r != -EINVAL)
			fprintf(stderr, "input %zu: \"%s\"\n", i, bad[i]);
		CHECK_EQ_INT(r, -EINVAL);
	}
}

static void test_stall_pct(void)
{
	/* 0.5 s stalled in 1 s */
	CHECK_EQ_DBL(htm_psi_stall_pct(1500000, 1000000, 1000000), 50.0, 1e-12);
	CHECK_EQ_DBL(htm_psi_stall_pct(1000, 0, 1000000), 0.1, 1e-12);
	CHECK_EQ_DBL(htm_psi_stall_pct(2250000, 2000000, 5000000), 5.0, 1e-12);
	/* nothing stalled */
	CHECK_EQ_DBL(htm_psi_stall_pct(777, 777, 1000000), 0.0, 0.0);
	/* zero interval: no division */
	CHECK_EQ_DBL(htm_psi_stall_pct(1500000, 1000000, 0), 0.0, 0.0);
	CHECK_EQ_DBL(htm_psi_stall_pct(0, 0, 0), 0.0, 0.0);
	/* the counter went backwards (new cgroup, wrap): 0, not a huge value */
	CHECK_EQ_DBL(htm_psi_stall_pct(100, 200, 1000000), 0.0, 0.0);
	CHECK_EQ_DBL(htm_psi_stall_pct(0, UINT64_MAX, 1000000), 0.0, 0.0);
	/* exactly all the time; more than the interval (timer skew) caps */
	CHECK_EQ_DBL(htm_psi_stall_pct(1000000, 0, 1000000), 100.0, 0.0);
	CHECK_EQ_DBL(htm_psi_stall_pct(1000001, 0, 1000000), 100.0, 0.0);
	CHECK_EQ_DBL(htm_psi_stall_pct(5000000, 0, 1000000), 100.0, 0.0);
	/* near the top of the counter the difference still counts */
	CHECK_EQ_DBL(htm_psi_stall_pct(UINT64_MAX, UINT64_MAX - 250000, 1000000), 25.0,
		     1e-12);
}

static const char meminfo[] =
	"MemTotal:       16303428 kB\n"
	"MemFree:         1187636 kB\n"
	"MemAvailable:    8151714 kB\n"
	"Buffers:          412340 kB\n"
	"Cached:          6922120 kB\n"
	"SwapCached:        10240 kB\n"
	"Active:          7534012 kB\n"
	"Inactive:        5900132 kB\n"
	"SwapTotal:       2097148 kB\n"
	"SwapFree:        2001024 kB\n"
	"HugePages_Total:       0\n"
	"Hugepagesize:       2048 kB\n";

static void test_meminfo(void)
{
	struct htm_meminfo mi;

	memset(&mi, 0xAA, sizeof(mi));
	CHECK_EQ_INT(htm_meminfo_parse(meminfo, &mi), 0);
	CHECK_EQ_U64(mi.total_kb, 16303428);
	CHECK_EQ_U64(mi.available_kb, 8151714);

	/* order does not matter, nor does the absence of other keys */
	memset(&mi, 0xAA, sizeof(mi));
	CHECK_EQ_INT(htm_meminfo_parse("MemAvailable: 1024 kB\nMemTotal: 4096 kB\n", &mi), 0);
	CHECK_EQ_U64(mi.total_kb, 4096);
	CHECK_EQ_U64(mi.available_kb, 1024);

	/* a machine larger than 4 TiB */
	CHECK_EQ_INT(htm_meminfo_parse("MemTotal:  6442450944 kB\n"
				       "MemAvailable: 5368709120 kB\n", &mi), 0);
	CHECK_EQ_U64(mi.total_kb, 6442450944ull);
	CHECK_EQ_U64(mi.available_kb, 5368709120ull);
}

static void test_meminfo_bad(void)
{
	struct htm_meminfo mi;

	/* before 3.14 there is no MemAvailable */
	CHECK_EQ_INT(htm_meminfo_parse("MemTotal:       16303428 kB\n"
				       "MemFree:         1187636 kB\n"
				       "Buffers:          412340 kB\n"
				       "Cached:          6922120 kB\n", &mi), -EINVAL);
	/* no MemTotal */
	CHECK_EQ_INT(htm_meminfo_parse("MemFree:         1187636 kB\n"
				       "MemAvailable:    8151714 kB\n", &mi), -EINVAL);
	CHECK_EQ_INT(htm_meminfo_parse("", &mi), -EINVAL);
	/* values that are not numbers */
	CHECK_EQ_INT(htm_meminfo_parse("MemTotal: lots kB\nMemAvailable: 1 kB\n", &mi),
		     -EINVAL);
	CHECK_EQ_INT(htm_meminfo_parse("MemTotal: 4096 kB\nMemAvailable: kB\n", &mi),
		     -EINVAL);
	CHECK_EQ_INT(htm_meminfo_parse("MemTotal: 4096 kB\nMemAvailable:", &mi), -EINVAL);
}

int main(void)
{
	test_names();
	test_psi_some_and_full();
	test_psi_without_full();
	test_psi_malformed();
	test_stall_pct();
	test_meminfo();
	test_meminfo_bad();
	return check_report();
}
