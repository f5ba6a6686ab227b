/* mimetypes.c: Go 1.19's mime.TypeByExtension over its built-in table and
 * the system's database, from files written here. */
#include "mimetypes.h"

#include <stdlib.h>
#include <unistd.h>

#include "check.h"

static char dir[] = "/tmp/fw-mimetypes-XXXXXX";

static char *write_file(const char *name, const char *text)
{
    char *path = NULL;
    if (asprintf(&path, "%s/%s", dir, name) < 0)
        return NULL;
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(text, f);
        fclose(f);
    }
    return path;
}

static void check_type(const struct mime_table *t, const char *ext, const char *want)
{
    CHECK_STR(mime_table_lookup(t, ext), want);
}

static void test_builtin_only(void)
{
    const char *none[] = {"/nonexistent/globs2", NULL};
    const char *no_types[] = {"/nonexistent/mime.types", NULL};
    struct mime_table *t = mime_table_load(none, no_types);
    CHECK(t != NULL);
    if (!t)
        return;
    check_type(t, ".html", "text/html; charset=utf-8");
    check_type(t, ".HTML", "text/html; charset=utf-8");
    check_type(t, ".Js", "text/javascript; charset=utf-8");
    check_type(t, ".wasm", "application/wasm");
    check_type(t, ".avif", "image/avif");
    check_type(t, ".txt", NULL);
    check_type(t, ".ico", NULL);
    check_type(t, "", NULL);
    check_type(t, ".", NULL);
    mime_table_free(t);
}

static void test_globs(void)
{
    char *g = write_file("globs2",
                         "# comment:text/x-no:*.no\n"
                         "50:text/plain:*.txt\n"
                         "50:text/x-c++src:*.C:cs\n"
                         "50:text/x-csrc:*.c\n"
                         "50:image/vnd.microsoft.icon:*.ico\n"
                         "40:image/x-icon:*.ico\n"            /* seen already: kept first */
                         "50:application/evil:*.html\n"       /* the built-in table wins */
                         "50:Text/X-Upper:*.up\n"             /* text/ is case-sensitive */
                         "50:TEXT/X-Mixed:*.mx\n"
                         "50:text/X-Lower:*.lw\n"
                         "50:application/x-wild:*.w?\n"
                         "50:application/x-wild:*.[ab]\n"
                         "50:application/x-star:*.*\n"
                         "50:application/x-noglob:foo.bar\n"
                         "50:bad type:*.bad\n"
                         "50::*.empty\n"
                         "50:application/x-tgz:*.tar.gz\n"
                         "50:application/gzip:*.gz\n"
                         "50:application/x-Keep-Case:*.kc\n"
                         "50:application/x-one:*.Dup\n"
                         "50:application/x-two:*.DUP\n"
                         ":application/x-noweight:*.nw\n"
                         "50:application/x-short:*\n");
    char *later = write_file("globs2-later", "50:application/x-never:*.never\n");
    const char *globs[] = {"/nonexistent/globs2", g, later, NULL};
    char *types = write_file("mime.types", "application/x-never never\n");
    const char *type_files[] = {types, NULL};
    struct mime_table *t = mime_table_load(globs, type_files);
    CHECK(t != NULL);
    if (t) {
        check_type(t, ".txt", "text/plain; charset=utf-8");
        check_type(t, ".TXT", "text/plain; charset=utf-8");
        check_type(t, ".C", "text/x-c++src; charset=utf-8");
        check_type(t, ".c", "text/x-csrc; charset=utf-8");
        check_type(t, ".ico", "image/vnd.microsoft.icon");
        check_type(t, ".html", "text/html; charset=utf-8");
        check_type(t, ".up", "Text/X-Upper");
        check_type(t, ".mx", "TEXT/X-Mixed");
        check_type(t, ".lw", "text/x-lower; charset=utf-8");
        check_type(t, ".wa", NULL);
        check_type(t, ".a", NULL);
        check_type(t, ".no", NULL);
        check_type(t, ".bad", NULL);
        check_type(t, ".empty", NULL);
        check_type(t, ".gz", "application/gzip");
        check_type(t, ".tar.gz", "application/x-tgz");
        check_type(t, ".kc", "application/x-Keep-Case");
        /* as written, then the last stored of its lower-case form */
        check_type(t, ".Dup", "application/x-one");
        check_type(t, ".DUP", "application/x-two");
        check_type(t, ".dup", "application/x-two");
        check_type(t, ".nw", NULL);
        /* only the first globs file that opens is read, and no types file */
        check_type(t, ".never", NULL);
        mime_table_free(t);
    }
    free(g);
    free(later);
    free(types);
}

static void test_types_files(void)
{
    char *a = write_file("a.types",
                         "# a comment line\n"
                         "text/plain\ttxt text # conf\n"
                         "application/javascript js\n"    /* replaces the built-in */
                         "image/x-icon ico\n"
                         "application/x-lonely\n"
                         "bad/ty pe bad\n"
                         "token-only tok\n");
    char *b = write_file("b.types", "image/vnd.microsoft.icon ico\n  text/x-Later   TXT\n");
    const char *globs[] = {"/nonexistent/globs2", NULL};
    const char *files[] = {a, "/nonexistent/mime.types", b, NULL};
    struct mime_table *t = mime_table_load(globs, files);
    CHECK(t != NULL);
    if (t) {
        check_type(t, ".txt", "text/plain; charset=utf-8");
        check_type(t, ".text", "text/plain; charset=utf-8");
        check_type(t, ".conf", NULL);
        check_type(t, ".js", "application/javascript");
        check_type(t, ".ico", "image/vnd.microsoft.icon");
        check_type(t, ".TXT", "text/x-later; charset=utf-8");
        check_type(t, ".Txt", "text/x-later; charset=utf-8");
        check_type(t, ".pe", "bad/ty");
        check_type(t, ".bad", "bad/ty");
        check_type(t, ".tok", "token-only");
        check_type(t, ".html", "text/html; charset=utf-8");
        mime_table_free(t);
    }
    free(a);
    free(b);
}

int main(void)
{
    if (!mkdtemp(dir)) {
        perror("mkdtemp");
        return 1;
    }
    test_builtin_only();
    test_globs();
    test_types_files();
    char *cmd = NULL;
    if (asprintf(&cmd, "rm -rf %s", dir) >= 0 && system(cmd) != 0)
        fprintf(stderr, "could not remove %s\n", dir);
    free(cmd);
    return check_done("mimetypes");
}
