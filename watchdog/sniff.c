/* http.DetectContentType's table, in its order: the first signature that
 * matches names the type. */
#include "sniff.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

enum sig_kind { SIG_EXACT, SIG_MASKED, SIG_HTML };

struct sig {
    enum sig_kind kind;
    const char *pat;
    const char *mask;   /* SIG_MASKED only */
    size_t len;
    bool skip_ws;
    const char *type;
};

#define EXACT(p, t) {SIG_EXACT, p, NULL, sizeof(p) - 1, false, t}
#define MASKED(p, m, ws, t) {SIG_MASKED, p, m, sizeof(p) - 1, ws, t}
#define HTML(p) {SIG_HTML, p, NULL, sizeof(p) - 1, true, "text/html; charset=utf-8"}
#define RIFF_MASK "\xFF\xFF\xFF\xFF\x00\x00\x00\x00\xFF\xFF\xFF\xFF"
#define EOT_ZEROS "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00" \
                  "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00"

static const struct sig before_mp4[] = {
    HTML("<!DOCTYPE HTML"), HTML("<HTML"), HTML("<HEAD"), HTML("<SCRIPT"), HTML("<IFRAME"),
    HTML("<H1"), HTML("<DIV"), HTML("<FONT"), HTML("<TABLE"), HTML("<A"), HTML("<STYLE"),
    HTML("<TITLE"), HTML("<B"), HTML("<BODY"), HTML("<BR"), HTML("<P"), HTML("<!--"),
    MASKED("<?xml", "\xFF\xFF\xFF\xFF\xFF", true, "text/xml; charset=utf-8"),
    EXACT("%PDF-", "application/pdf"),
    EXACT("%!PS-Adobe-", "application/postscript"),
    MASKED("\xFE\xFF\x00\x00", "\xFF\xFF\x00\x00", false, "text/plain; charset=utf-16be"),
    MASKED("\xFF\xFE\x00\x00", "\xFF\xFF\x00\x00", false, "text/plain; charset=utf-16le"),
    MASKED("\xEF\xBB\xBF\x00", "\xFF\xFF\xFF\x00", false, "text/plain; charset=utf-8"),
    EXACT("\x00\x00\x01\x00", "image/x-icon"),
    EXACT("\x00\x00\x02\x00", "image/x-icon"),
    EXACT("BM", "image/bmp"),
    EXACT("GIF87a", "image/gif"),
    EXACT("GIF89a", "image/gif"),
    MASKED("RIFF\x00\x00\x00\x00WEBPVP", RIFF_MASK "\xFF\xFF", false, "image/webp"),
    EXACT("\x89PNG\x0D\x0A\x1A\x0A", "image/png"),
    EXACT("\xFF\xD8\xFF", "image/jpeg"),
    MASKED("FORM\x00\x00\x00\x00" "AIFF", RIFF_MASK, false, "audio/aiff"),
    MASKED("ID3", "\xFF\xFF\xFF", false, "audio/mpeg"),
    MASKED("OggS\x00", "\xFF\xFF\xFF\xFF\xFF", false, "application/ogg"),
    MASKED("MThd\x00\x00\x00\x06", "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF", false, "audio/midi"),
    MASKED("RIFF\x00\x00\x00\x00" "AVI ", RIFF_MASK, false, "video/avi"),
    MASKED("RIFF\x00\x00\x00\x00WAVE", RIFF_MASK, false, "audio/wave"),
};

static const struct sig after_mp4[] = {
    EXACT("\x1A\x45\xDF\xA3", "video/webm"),
    MASKED(EOT_ZEROS "LP", EOT_ZEROS "\xFF\xFF", false, "application/vnd.ms-fontobject"),
    EXACT("\x00\x01\x00\x00", "font/ttf"),
    EXACT("OTTO", "font/otf"),
    EXACT("ttcf", "font/collection"),
    EXACT("wOFF", "font/woff"),
    EXACT("wOF2", "font/woff2"),
    EXACT("\x1F\x8B\x08", "application/x-gzip"),
    EXACT("PK\x03\x04", "application/zip"),
    EXACT("Rar!\x1A\x07\x00", "application/x-rar-compressed"),
    EXACT("Rar!\x1A\x07\x01\x00", "application/x-rar-compressed"),
    EXACT("\x00\x61\x73\x6D", "application/wasm"),
};

static bool is_ws(unsigned char c)
{
    return c == '\t' || c == '\n' || c == '\x0c' || c == '\r' || c == ' ';
}

static bool match(const struct sig *s, const unsigned char *d, size_t n, size_t ws)
{
    if (s->skip_ws) {
        d += ws;
        n -= ws;
    }
    const unsigned char *pat = (const unsigned char *)s->pat;
    switch (s->kind) {
    case SIG_EXACT:
        return n >= s->len && memcmp(d, pat, s->len) == 0;
    case SIG_MASKED:
        if (n < s->len)
            return false;
        for (size_t i = 0; i < s->len; i++) {
            if ((d[i] & (unsigned char)s->mask[i]) != pat[i])
                return false;
        }
        return true;
    case SIG_HTML:
        if (n < s->len + 1)
            return false;
        for (size_t i = 0; i < s->len; i++) {
            unsigned char c = d[i];
            if (pat[i] >= 'A' && pat[i] <= 'Z')
                c &= 0xDF;
            if (c != pat[i])
                return false;
        }
        return d[s->len] == ' ' || d[s->len] == '>';
    }
    return false;
}

static uint32_t be32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

/* An ISO base media file whose "ftyp" box names an mp4 brand. */
static bool is_mp4(const unsigned char *d, size_t n)
{
    if (n < 12)
        return false;
    uint32_t box = be32(d);
    if (n < box || box % 4 != 0 || memcmp(d + 4, "ftyp", 4) != 0)
        return false;
    for (uint32_t st = 8; st < box; st += 4) {
        if (st == 12) /* the major brand's version */
            continue;
        if (memcmp(d + st, "mp4", 3) == 0)
            return true;
    }
    return false;
}

/* Text unless a byte that never appears in text does. */
static bool is_binary(unsigned char c)
{
    return c <= 0x08 || c == 0x0B || (c >= 0x0E && c <= 0x1A) || (c >= 0x1C && c <= 0x1F);
}

static const char *first_match(const struct sig *t, size_t n, const unsigned char *d, size_t len,
                               size_t ws)
{
    for (size_t i = 0; i < n; i++) {
        if (match(&t[i], d, len, ws))
            return t[i].type;
    }
    return NULL;
}

const char *sniff_type(const char *data, size_t len)
{
    const unsigned char *d = (const unsigned char *)data;
    const char *type;
    size_t ws = 0;

    if (len > SNIFF_LEN)
        len = SNIFF_LEN;
    while (ws < len && is_ws(d[ws]))
        ws++;
    type = first_match(before_mp4, sizeof(before_mp4) / sizeof(before_mp4[0]), d, len, ws);
    if (type)
        return type;
    if (is_mp4(d, len))
        return "video/mp4";
    type = first_match(after_mp4, sizeof(after_mp4) / sizeof(after_mp4[0]), d, len, ws);
    if (type)
        return type;
    for (size_t i = ws; i < len; i++) {
        if (is_binary(d[i]))
            return "application/octet-stream";
    }
    return "text/plain; charset=utf-8";
}
