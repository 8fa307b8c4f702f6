/* hook.c - dmvfilter as a per-request hook in a state's message switch.
 * The switch loads the policy and keyring once; for every request it builds
 * a filter (the decision is made there), rewrites each DMV reply record into
 * a buffer it owns, and sends only what comes out.
 * usage: hook POLICY KEYRING RECORD_FILE   (RECORD_FILE: one bare DriverRecord) */
#include <stdio.h>
#include <stdlib.h>
#include <dmvfilter/dmvfilter.h>

static void handle(const dmvf_policy *pol, const dmvf_keyring *kr, const dmvf_request *req,
                   const unsigned char *rec, size_t n)
{
    static unsigned char out[1 << 16];  /* caller-owned, reused: no allocation per record */
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, req, NULL, &err);
    if (!f) {
        printf("%s: error: %s\n", req->request_id, err.msg);
        return;
    }
    size_t len = 0;
    if (dmvf_filter_decision(f) != DMVF_DECISION_RELEASE) {
        int miss = dmvf_filter_refusal(f) == DMVF_REFUSAL_NOT_FOUND;
        printf("%s: refused, reply %s (%s)\n", req->request_id, miss ? "not-found" : "refused",
               dmvf_filter_reason(f));
    } else if (dmvf_filter_record(f, rec, n, out, sizeof out, &len, NULL, &err) == DMVF_OK) {
        dmvf_trailer t;
        dmvf_filter_finish(f, &t);
        printf("%s: released %zu of %zu bytes, rule '%s', epoch %u\n", req->request_id, len, n,
               dmvf_filter_rule(f), (unsigned)t.key_epoch);
    } else {
        printf("%s: error: %s\n", req->request_id, err.msg);
    }
    dmvf_filter_free(f);
}

int main(int argc, char **argv)
{
    if (argc != 4) {
        fprintf(stderr, "usage: hook POLICY KEYRING RECORD_FILE\n");
        return 64;
    }
    dmvf_error err;
    dmvf_policy *pol = dmvf_policy_load_file(argv[1], &err);
    dmvf_keyring *kr = pol ? dmvf_keyring_load(argv[2], NULL, &err) : NULL;
    if (!pol || !kr) {
        fprintf(stderr, "hook: %s\n", err.msg);
        return 78;
    }
    static unsigned char rec[1 << 16];
    FILE *fp = fopen(argv[3], "rb");
    size_t n = fp ? fread(rec, 1, sizeof rec, fp) : 0;
    if (fp)
        fclose(fp);
    /* a request names its ORI; who that is (kind, tags, jurisdiction), the
     * policy's requester directory says, and the DMV's clock dates it */
    dmvf_request police = {.request_id = "police-1", .ori = "NY0300000", .purpose = 1,
                           .query_kind = DMVF_QUERY_BY_LICENSE};
    dmvf_request ice = {.request_id = "ice-1", .ori = "DCICE0100", .query_kind = DMVF_QUERY_BY_LICENSE,
                        .legal_process = DMVF_LEGAL_ADMINISTRATIVE_SUBPOENA};
    handle(pol, kr, &police, rec, n);
    handle(pol, kr, &ice, rec, n);
    dmvf_keyring_free(kr);
    dmvf_policy_free(pol);
    return 0;
}
