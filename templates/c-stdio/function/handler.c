/* One process per request (serializing mode): the whole request body is on
 * stdin, everything written to stdout becomes the response body. Exit with a
 * non-zero status to answer 500. Request headers are in the environment:
 * getenv("Http_Method"), getenv("Http_Path"), getenv("Http_Content_Type")... */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads all of f into a malloc'd buffer; NULL on error. */
static char *read_all(FILE *f, size_t *len)
{
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap), *bigger;

    while (buf) {
        n += fread(buf + n, 1, cap - n, f);
        if (n < cap)
            break;
        bigger = realloc(buf, cap *= 2);
        if (!bigger)
            free(buf);
        buf = bigger;
    }
    if (buf && ferror(f)) {
        free(buf);
        return NULL;
    }
    *len = n;
    return buf;
}

int main(void)
{
    size_t len;
    char *body = read_all(stdin, &len);

    if (!body) {
        perror("reading the request");
        return 1;
    }
    while (len > 0 && (body[len - 1] == '\n' || body[len - 1] == '\r'))
        len--;
    if (len == 0)
        printf("Hello, world!\n");
    else
        printf("Hello, %.*s!\n", (int)len, body);
    free(body);
    return 0;
}
