/* sniff.c: Go's http.DetectContentType table. */
#include <string.h>

#include "check.h"
#include "sniff.h"

#define SNIFF(lit) sniff_type(lit, sizeof(lit) - 1)

int main(void)
{
    CHECK_STR(SNIFF("<html><body>x"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("  \n<!DOCTYPE html>"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("<p>"), "text/html; charset=utf-8");
    CHECK_STR(SNIFF("<pre>"), "text/plain; charset=utf-8"); /* <P must end at ' ' or '>' */
    CHECK_STR(SNIFF("<?xml version"), "text/xml; charset=utf-8");
    CHECK_STR(SNIFF("%PDF-1.4"), "application/pdf");
    CHECK_STR(SNIFF("\x89PNG\r\n\x1a\n...."), "image/png");
    CHECK_STR(SNIFF("\xff\xd8\xff\xe0"), "image/jpeg");
    CHECK_STR(SNIFF("GIF89a"), "image/gif");
    CHECK_STR(SNIFF("RIFF\x10\x00\x00\x00WEBPVP8 "), "image/webp");
    CHECK_STR(SNIFF("RIFF\x10\x00\x00\x00WAVEfmt "), "audio/wave");
    CHECK_STR(SNIFF("\x00\x00\x00\x18" "ftypmp42\x00\x00\x00\x00mp42isom"), "video/mp4");
    CHECK_STR(SNIFF("\x1f\x8b\x08\x00"), "application/x-gzip");
    CHECK_STR(SNIFF("PK\x03\x04"), "application/zip");
    CHECK_STR(SNIFF("\x00\x61\x73\x6d\x01"), "application/wasm");
    CHECK_STR(SNIFF("wOF2...."), "font/woff2");
    CHECK_STR(SNIFF("\xef\xbb\xbfhello"), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("\xfe\xff\x00h"), "text/plain; charset=utf-16be");
    CHECK_STR(SNIFF("plain words\n"), "text/plain; charset=utf-8");
    CHECK_STR(SNIFF("\x00\x01\x02"), "application/octet-stream");
    CHECK_STR(sniff_type("", 0), "text/plain; charset=utf-8");
    /* Only the first 512 bytes count. */
    char big[600];
    memset(big, 'a', sizeof(big));
    big[550] = '\x01';
    CHECK_STR(sniff_type(big, sizeof(big)), "text/plain; charset=utf-8");
    return check_done("test_sniff");
}
