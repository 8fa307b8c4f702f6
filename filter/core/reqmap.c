/* reqmap.c - dmvf_request <-> dmv.v1.Request (core/reqmap.h). */
#include <stdint.h>
#include <string.h>
#include "filter/core/reqmap.h"

/* protobuf-c's message structs are not const-correct: the strings are
 * only read (packed). */
static char *str(const char *s)
{
    return (char *)(uintptr_t)(s ? s : "");
}

void dmvf__request_to_pb(const dmvf_request *r, Dmv__V1__Request *m)
{
    dmv__v1__request__init(m);
    m->request_id = str(r->request_id);
    m->ori = str(r->ori);
    m->agency_name = str(r->agency_name);
    m->agency_kind = (Dmv__V1__AgencyKind)r->agency_kind;
    m->jurisdiction = str(r->jurisdiction);
    m->n_tags = r->ntags;
    m->tags = (char **)(uintptr_t)r->tags;
    m->operator_id = str(r->operator_id);
    m->purpose = r->purpose;
    m->legal_process = (Dmv__V1__LegalProcess)r->legal_process;
    m->legal_reference = str(r->legal_reference);
    m->query_kind = (Dmv__V1__QueryKind)r->query_kind;
    m->n_fields = r->nfields;
    m->fields = (char **)(uintptr_t)r->fields;
    m->channel = str(r->channel);
    m->date = r->date;
}

void dmvf__request_from_pb(const Dmv__V1__Request *m, dmvf_request *r)
{
    memset(r, 0, sizeof *r);
    r->request_id = m->request_id;
    r->ori = m->ori;
    r->agency_name = m->agency_name;
    r->agency_kind = (dmvf_agency_kind)m->agency_kind;
    r->jurisdiction = m->jurisdiction;
    r->tags = (const char *const *)m->tags;
    r->ntags = m->n_tags;
    r->operator_id = m->operator_id;
    r->purpose = m->purpose;
    r->legal_process = (dmvf_legal_process)m->legal_process;
    r->legal_reference = m->legal_reference;
    r->query_kind = (dmvf_query_kind)m->query_kind;
    r->fields = (const char *const *)m->fields;
    r->nfields = m->n_fields;
    r->channel = m->channel;
    r->date = m->date;
}
