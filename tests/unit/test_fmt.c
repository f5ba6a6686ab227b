/* fmt: integer formatting without printf, checked against printf. */
#include <inttypes.h>
#include <stdio.h>

#include "check.h"
#include "fmt.h"

static char out[64];

static const char *dec(uint64_t v)
{
    out[fmt_u64(out, v)] = '\0';
    return out;
}

static const char *hex(uint64_t v)
{
    out[fmt_hex(out, v)] = '\0';
    return out;
}

static const char *i64(int64_t v)
{
    out[fmt_i64(out, v)] = '\0';
    return out;
}

static const char *fixed(uint64_t scaled, size_t digits)
{
    out[fmt_fixed(out, scaled, digits)] = '\0';
    return out;
}

static void test_against_printf(void)
{
    static const uint64_t values[] = {0, 1, 9, 10, 15, 16, 99, 100, 255, 256, 1000, 4095, 65535,
                                      1234567890123ULL, UINT32_MAX, INT64_MAX, UINT64_MAX};
    char want[64];
    for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++) {
        uint64_t v = values[i];
        snprintf(want, sizeof(want), "%" PRIu64, v);
        CHECK_STR(dec(v), want);
        snprintf(want, sizeof(want), "%" PRIx64, v);
        CHECK_STR(hex(v), want);
        snprintf(want, sizeof(want), "%" PRId64, (int64_t)v);
        CHECK_STR(i64((int64_t)v), want);
        snprintf(want, sizeof(want), "-%" PRIu64, v % 1000000);
        if (v % 1000000)
            CHECK_STR(i64(-(int64_t)(v % 1000000)), want);
    }
    snprintf(want, sizeof(want), "%" PRId64, INT64_MIN);
    CHECK_STR(i64(INT64_MIN), want);
}

static void test_fixed(void)
{
    CHECK_STR(fixed(0, 4), "0.0000");
    CHECK_STR(fixed(12, 4), "0.0012");
    CHECK_STR(fixed(123456, 4), "12.3456");
    CHECK_STR(fixed(1000000, 6), "1.000000");
    CHECK_STR(fixed(589, 6), "0.000589");
    CHECK_STR(fixed(7, 0), "7");
}

static void test_chunk_size(void)
{
    out[fmt_chunk_size(out, 31)] = '\0';
    CHECK_STR(out, "1f\r\n");
    out[fmt_chunk_size(out, 0)] = '\0';
    CHECK_STR(out, "0\r\n");
}

int main(void)
{
    test_against_printf();
    test_fixed();
    test_chunk_size();
    return check_done("fmt");
}
