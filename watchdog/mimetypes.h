/* The Content-Type Go's mime.TypeByExtension gives a file name's extension,
 * which is what Go's FileServer sends before it sniffs: Go's own short
 * table, then the system's database when there is one (shared-mime-info's
 * globs2, else the mime.types files), read in Go's order and with its
 * rules. So an image with a database answers as Go does there, and one
 * without (FROM scratch) as Go does there. */
#ifndef FW_MIMETYPES_H
#define FW_MIMETYPES_H

struct mime_table;

/* The system's files, in Go's order. */
extern const char *const mime_globs_files[];    /* NULL-terminated */
extern const char *const mime_types_files[];    /* NULL-terminated */

/* The built-in table, then the first globs file that opens (the others are
 * not read), or when none does every types file. NULL when out of memory. */
struct mime_table *mime_table_load(const char *const *globs, const char *const *types);
void mime_table_free(struct mime_table *t);

/* ext includes its dot (".txt"): looked up as given, then in ASCII lower
 * case. NULL when unknown. */
const char *mime_table_lookup(const struct mime_table *t, const char *ext);

#endif
