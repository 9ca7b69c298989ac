/* test_duckdb_link.c — proves the DuckDB dependency is wired up: the header compiles
 * under our warning flags, libduckdb.so links, and the executable finds it at run
 * time through the build rpath (no LD_LIBRARY_PATH). Runs `SELECT 42` in memory. */
#include <duckdb.h>

#include "test.h"

int main(void) {
    const char *ver = duckdb_library_version();
    CHECK(ver != NULL);
    if (ver) {
        printf("duckdb %s\n", ver);
        /* Strata is pinned to DuckDB 1.4.x (1.4.4 LTS from scripts/bootstrap). */
        CHECK(strncmp(ver, "v1.4.", 5) == 0 || strncmp(ver, "1.4.", 4) == 0);
    }

    duckdb_database db = NULL;
    duckdb_connection con = NULL;
    CHECK(duckdb_open(NULL, &db) == DuckDBSuccess); /* NULL path: in-memory */
    CHECK(db != NULL);
    if (db) {
        CHECK(duckdb_connect(db, &con) == DuckDBSuccess);
        CHECK(con != NULL);
    }
    if (con) {
        duckdb_result res;
        duckdb_state st = duckdb_query(con, "SELECT 42 AS answer", &res);
        CHECK(st == DuckDBSuccess);
        if (st == DuckDBSuccess) {
            CHECK(duckdb_column_count(&res) == 1);
            CHECK(duckdb_row_count(&res) == 1);
            const char *name = duckdb_column_name(&res, 0);
            CHECK(name != NULL && strcmp(name, "answer") == 0);
            duckdb_data_chunk chunk = duckdb_fetch_chunk(res);
            CHECK(chunk != NULL);
            if (chunk) {
                CHECK(duckdb_data_chunk_get_size(chunk) == 1);
                duckdb_vector vec = duckdb_data_chunk_get_vector(chunk, 0);
                duckdb_logical_type type = duckdb_vector_get_column_type(vec);
                CHECK(duckdb_get_type_id(type) == DUCKDB_TYPE_INTEGER);
                duckdb_destroy_logical_type(&type);
                const int32_t *vals = (const int32_t *)duckdb_vector_get_data(vec);
                CHECK(vals != NULL && vals[0] == 42);
                duckdb_destroy_data_chunk(&chunk);
            }
        } else {
            fprintf(stderr, "duckdb_query: %s\n", duckdb_result_error(&res));
        }
        duckdb_destroy_result(&res);
        duckdb_disconnect(&con);
    }
    duckdb_close(&db);
    CHECK(db == NULL);
    return t_done();
}
