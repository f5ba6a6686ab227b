/* Integers to text without printf. printf's machinery (format parsing,
 * a FILE set up per call) was a fifth of the instructions the watchdog
 * spent on a proxied request, for a status code, a length or a chunk
 * size. Each writes into out, which must have room, and returns the
 * number of characters; no terminating NUL. */
#ifndef FW_FMT_H
#define FW_FMT_H

#include <stddef.h>
#include <stdint.h>

#define FMT_U64_LEN 20 /* digits of UINT64_MAX */

static inline size_t fmt_u64_base(char *out, uint64_t v, unsigned base)
{
    static const char digits[] = "0123456789abcdef";
    char tmp[FMT_U64_LEN];
    size_t n = 0;
    do {
        tmp[n++] = digits[v % base];
        v /= base;
    } while (v);
    for (size_t i = 0; i < n; i++)
        out[i] = tmp[n - 1 - i];
    return n;
}

/* Decimal, as "%llu". */
static inline size_t fmt_u64(char *out, uint64_t v)
{
    return fmt_u64_base(out, v, 10);
}

/* Lower-case hexadecimal, as "%llx" (chunk sizes). */
static inline size_t fmt_hex(char *out, uint64_t v)
{
    return fmt_u64_base(out, v, 16);
}

/* A chunk-size line of chunked framing: "%llx\r\n". */
#define FMT_CHUNK_LEN (FMT_U64_LEN + 2)
static inline size_t fmt_chunk_size(char *out, uint64_t len)
{
    size_t n = fmt_hex(out, len);
    out[n++] = '\r';
    out[n++] = '\n';
    return n;
}

/* Decimal, as "%lld". */
static inline size_t fmt_i64(char *out, int64_t v)
{
    if (v >= 0)
        return fmt_u64(out, (uint64_t)v);
    out[0] = '-';
    return 1 + fmt_u64(out + 1, (uint64_t)0 - (uint64_t)v);
}

/* Exactly width decimal digits, zero-padded, as "%0*llu"; v must fit. */
static inline size_t fmt_u64_zpad(char *out, uint64_t v, size_t width)
{
    for (size_t i = width; i > 0; i--) {
        out[i - 1] = (char)('0' + v % 10);
        v /= 10;
    }
    return width;
}

/* A fixed-point number with frac_digits decimals, from the value scaled
 * by 10^frac_digits: "%llu.%0*llu" (no point for 0 decimals). */
static inline size_t fmt_fixed(char *out, uint64_t scaled, size_t frac_digits)
{
    uint64_t unit = 1;
    for (size_t i = 0; i < frac_digits; i++)
        unit *= 10;
    size_t n = fmt_u64(out, scaled / unit);
    if (frac_digits == 0)
        return n;
    out[n++] = '.';
    return n + fmt_u64_zpad(out + n, scaled % unit, frac_digits);
}

/* Seconds as Go's "%f" writes them: six decimals, rounded to the
 * microsecond, a negative value as 0. At most FMT_U64_LEN + 2 bytes. */
static inline size_t fmt_seconds(char *out, double secs)
{
    return fmt_fixed(out, secs > 0 ? (uint64_t)(secs * 1e6 + 0.5) : 0, 6);
}

#endif
