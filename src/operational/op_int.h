/* op_int.h — what the catalogue's other files (op_vec.c, ...) share with op.c: a
 * statement cache keyed by the address of a static SQL string, on the writer or the
 * reader connection (the reader's held read transaction is begun as needed). */
#ifndef STRATA_OP_INT_H
#define STRATA_OP_INT_H
#include <sqlite3.h>
#include "operational/op.h"

/* The cached statement for `sql` (a string with static storage), prepared on first
 * use; NULL on failure (op_keyed_status tells why). */
sqlite3_stmt *op_keyed(op_db *db, int writer, const char *sql);
int op_keyed_status(op_db *db, int writer);
/* Step a statement that returns no rows, reset it: a STRATA status. */
int op_run(sqlite3_stmt *s);
/* Reset a statement after reading rows and return rc. */
int op_done(sqlite3_stmt *s, int rc);
int op_changes(op_db *db);
int64_t op_last_rowid(op_db *db);
#endif
