/* SPDX-License-Identifier: MIT */
/*
 * A minimal check library for the unit tier: every CHECK* counts, a failing
 * one prints file:line and the values involved and the test carries on, so
 * one run reports every broken expectation. main() ends with
 * `return check_report();` which prints the totals and returns 1 when
 * anything failed.
 */
#ifndef HTM_TESTS_CHECK_H
#define HTM_TESTS_CHECK_H

#include <stdio.h>
#include <string.h>

static unsigned check_total, check_failed;

static inline int check_fail_(const char *file, int line)
{
	check_failed++;
	return fprintf(stderr, "%s:%d: ", file, line);
}

#define CHECK(cond)                                                           \
	do {                                                                  \
		check_total++;                                                \
		if (!(cond)) {                                                \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "CHECK(%s) failed\n", #cond);         \
		}                                                             \
	} while (0)

#define CHECK_EQ_INT(a, b)                                                    \
	do {                                                                  \
		long long a_ = (long long)(a), b_ = (long long)(b);           \
		check_total++;                                                \
		if (a_ != b_) {                                               \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s == %s: %lld != %lld\n", #a, #b,   \
				a_, b_);                                      \
		}                                                             \
	} while (0)

#define CHECK_EQ_U64(a, b)                                                    \
	do {                                                                  \
		unsigned long long a_ = (unsigned long long)(a);              \
		unsigned long long b_ = (unsigned long long)(b);              \
		check_total++;                                                \
		if (a_ != b_) {                                               \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s == %s: %llu != %llu\n", #a, #b,   \
				a_, b_);                                      \
		}                                                             \
	} while (0)

#define CHECK_EQ_DBL(a, b, eps)                                               \
	do {                                                                  \
		double a_ = (double)(a), b_ = (double)(b);                    \
		check_total++;                                                \
		if (!(a_ - b_ <= (eps) && b_ - a_ <= (eps))) {                \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s == %s: %.9f != %.9f\n", #a, #b,   \
				a_, b_);                                      \
		}                                                             \
	} while (0)

#define CHECK_EQ_PTR(a, b)                                                    \
	do {                                                                  \
		const void *a_ = (a), *b_ = (b);                              \
		check_total++;                                                \
		if (a_ != b_) {                                               \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s == %s: %p != %p\n", #a, #b, a_,   \
				b_);                                          \
		}                                                             \
	} while (0)

#define CHECK_EQ_STR(a, b)                                                    \
	do {                                                                  \
		const char *a_ = (a), *b_ = (b);                              \
		check_total++;                                                \
		if (!a_ || !b_ ? a_ != b_ : strcmp(a_, b_) != 0) {            \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s == %s: \"%s\" != \"%s\"\n", #a,   \
				#b, a_ ? a_ : "(null)", b_ ? b_ : "(null)");  \
		}                                                             \
	} while (0)

/* haystack contains needle */
#define CHECK_HAS_STR(hay, needle)                                            \
	do {                                                                  \
		const char *a_ = (hay), *b_ = (needle);                       \
		check_total++;                                                \
		if (!a_ || !strstr(a_, b_)) {                                 \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s contains %s: \"%s\" lacks \"%s\"\n", \
				#hay, #needle, a_ ? a_ : "(null)", b_);       \
		}                                                             \
	} while (0)

/* haystack starts with prefix */
#define CHECK_PREFIX(hay, prefix)                                             \
	do {                                                                  \
		const char *a_ = (hay), *b_ = (prefix);                       \
		check_total++;                                                \
		if (!a_ || strncmp(a_, b_, strlen(b_)) != 0) {                \
			check_fail_(__FILE__, __LINE__);                      \
			fprintf(stderr, "%s starts with %s: \"%s\"\n", #hay,  \
				#prefix, a_ ? a_ : "(null)");                 \
		}                                                             \
	} while (0)

/* Print the totals; the exit status of the test. */
static inline int check_report(void)
{
	fprintf(check_failed ? stderr : stdout, "%s: %u checks, %u failed\n",
		check_failed ? "FAIL" : "ok", check_total, check_failed);
	return check_failed ? 1 : 0;
}

#endif
