/* an_backup.c — analytics.duckdb in a backup: flush what is buffered, stop the
 * flusher's writes (write_mu: flusher cycles, retention and export take it), and
 * CHECKPOINT, so that the file alone holds every committed metric and does not change
 * while the backup copies it. The copy itself is the backup's (src/api_backup.c). */
#include "an_int.h"

#include <stdio.h>
#include <string.h>

int an_backup_pause(analytics *an, const char **path, char *err, size_t errlen) {
    int rc = an_flush(an, err, errlen);
    if (rc) return rc;
    duckdb_connection con;
    if ((rc = an_lease(an, &con, err, errlen)) != STRATA_OK) return rc;
    pthread_mutex_lock(&an->write_mu);
    rc = an_exec(con, "CHECKPOINT", "backup", err, errlen);
    an_unlease(an, con);
    if (rc) {
        pthread_mutex_unlock(&an->write_mu);
        return rc;
    }
    *path = an->db_path;
    return STRATA_OK;
}

void an_backup_resume(analytics *an) { pthread_mutex_unlock(&an->write_mu); }
