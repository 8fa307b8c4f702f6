/*
 * audit_int.h - what the audit log's reader shares with the report and the
 * review queue inside the library.
 */
#ifndef DMVF_AUDIT_INT_H
#define DMVF_AUDIT_INT_H

#include "filter/internal.h"
#include "dmv/v1/audit.pb-c.h"

/* Calls fn for every entry of the log in dir, oldest first (parsing only:
 * no MAC or signature is checked; dmvf_audit_verify does that). The entry
 * is valid during the call only. Returns DMVF_OK, fn's non-zero return, or
 * an error (DMVF_EIO; DMVF_EMALFORMED naming the file and byte offset). */
typedef int (*dmvf__audit_entry_fn)(void *ud, const Dmv__V1__AuditEntry *e);
int dmvf__audit_scan(const char *dir, dmvf__audit_entry_fn fn, void *ud, dmvf_error *err);

#endif
