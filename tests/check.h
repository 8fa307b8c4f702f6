/*
 * check.h - the test suite's assertions: small, loud, counted.
 * A test file calls CHECK*(...) and ends main with CHECK_DONE(), which prints
 * "N passed, M failed" and returns non-zero on any failure.
 */
#ifndef DMVF_TEST_CHECK_H
#define DMVF_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static unsigned check_pass_, check_fail_;

#define CHECK(cond) do { \
    if (cond) check_pass_++; \
    else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); } \
} while (0)

#define CHECK_MSG(cond, ...) do { \
    if (cond) check_pass_++; \
    else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s: ", __FILE__, __LINE__, #cond); \
           fprintf(stderr, __VA_ARGS__); fputc('\n', stderr); } \
} while (0)

#define CHECK_EQ_INT(a, b) do { \
    long long a_ = (long long)(a), b_ = (long long)(b); \
    if (a_ == b_) check_pass_++; \
    else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s == %s (%lld vs %lld)\n", \
           __FILE__, __LINE__, #a, #b, a_, b_); } \
} while (0)

#define CHECK_EQ_STR(a, b) do { \
    const char *a_ = (a), *b_ = (b); \
    if (a_ && b_ && strcmp(a_, b_) == 0) check_pass_++; \
    else { check_fail_++; fprintf(stderr, "%s:%d: CHECK failed: %s == %s (\"%s\" vs \"%s\")\n", \
           __FILE__, __LINE__, #a, #b, a_ ? a_ : "(null)", b_ ? b_ : "(null)"); } \
} while (0)

#define CHECK_DONE() do { \
    printf("%u passed, %u failed\n", check_pass_, check_fail_); \
    return check_fail_ ? 1 : 0; \
} while (0)

#endif
