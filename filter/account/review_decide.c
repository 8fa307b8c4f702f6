/*
 * review_decide.c - a reviewer's decision on a held item
 * (dmvf_review_approve, dmvf_review_deny), with ID.sealed flock'd while
 * it is made. The item must be the filter's (signed with the DMV's key,
 * its body the signed one: review_item.c).
 *
 *   approve  the item checked against its REVIEW_HOLD entry in the audit
 *            log (review_audit.c: the log is required), the release
 *            written aside (or, to standard output, a device or a FIFO, in
 *            place once logged), the REVIEW_APPROVE entry logged (with the
 *            field counts and the subjects' keyed hashes, sorted, without
 *            repeats), the release renamed into place, then ID.approved
 *            written
 *   deny     the REVIEW_DENY entry logged (when there is a log), then
 *            ID.denied written
 *
 * A decided item is refused; the marker is never replaced, so of two
 * reviewers deciding at once one fails. A decision is logged before
 * anything is released.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <sodium.h>
#include "dmv/v1/audit.pb-c.h"
#include "dmvfilter/dmvfilter.h"
#include "filter/core/error.h"
#include "filter/core/fileio.h"
#include "filter/core/reqmap.h"
#include "filter/account/review_int.h"

/* The event for a decision on it (fields and subjects filled for approve). */
static int audit_decision(dmvf_audit *a, const dmvf_keyring *kr, const dmvf__review_item *it,
                          dmvf_audit_kind kind, const char *reviewer, const char *note,
                          dmvf_error *err)
{
    const Dmv__V1__ReviewBody *b = it->body;
    dmvf_request req;
    dmvf_audit_event ev;
    dmvf_field_count *fc = NULL;
    uint8_t *subj = NULL;
    size_t nsub = 0;
    int rc;

    memset(&ev, 0, sizeof ev);
    dmvf__request_from_pb(b->request ? b->request : &(Dmv__V1__Request)DMV__V1__REQUEST__INIT, &req);
    ev.kind = kind;
    ev.request = &req;
    ev.rule = it->meta->rule;
    ev.policy_id = it->meta->policy_id;
    ev.review_id = it->id;
    ev.actor = reviewer;
    ev.note = note;
    ev.ref = it->meta->request_seq;
    ev.counts.records_in = b->records_in;
    if (kind == DMVF_AUDIT_REVIEW_APPROVE) {
        ev.counts.records_out = b->records_out;
        fc = calloc(b->n_fields ? b->n_fields : 1, sizeof *fc);
        subj = malloc(b->n_subject_ids ? b->n_subject_ids * DMVF_SUBJECT_HASH_LEN : 1);
        if (!fc || !subj) {
            free(fc);
            free(subj);
            return dmvf__seterr(err, DMVF_ENOMEM, "out of memory auditing review item %s",
                                it->id);
        }
        for (size_t i = 0; i < b->n_fields; i++) {
            fc[i].path = b->fields[i]->path;
            fc[i].action = (dmvf_field_action)b->fields[i]->action;
            fc[i].klass = b->fields[i]->klass;
            fc[i].values = b->fields[i]->values;
        }
        ev.fields = fc;
        ev.nfields = b->n_fields;
        for (size_t i = 0; i < b->n_subject_ids; i++) {
            const char *s = dmvf__review_nz(b->subject_ids[i]);
            if (*s)
                dmvf_keyring_subject_hash(kr, s, strlen(s), subj + nsub++ * DMVF_SUBJECT_HASH_LEN);
        }
        /* sorted and without repeats by the entry's writer (audit_entry.c) */
        ev.subjects = nsub ? subj : NULL;
        ev.nsubjects = nsub;
    }
    rc = dmvf_audit_event_write(a, &ev, NULL, err);
    free(fc);
    free(subj);
    return rc;
}

/* A pending item opened for a decision by a reviewer with a name, its
 * ID.sealed flock'd until it is closed. */
static int decision_open(const char *spool, const char *id, const uint8_t pub[32],
                         const char *secret_key_path, const char *passphrase,
                         const char *reviewer, dmvf__review_item *it, dmvf_error *err)
{
    memset(it, 0, sizeof *it);
    it->fd = -1;
    if (!*reviewer)
        return dmvf__seterr(err, DMVF_EINVAL, "the reviewer's name is empty");
    return dmvf__review_item_open(spool, id, pub, secret_key_path, passphrase,
                                  DMVF__REVIEW_OPEN_LOCK | DMVF__REVIEW_OPEN_PENDING, it, err);
}

/* The held release rel (delimited records, 0-length ones among them) in
 * format fmt, into *out (malloc'ed; the caller wipes and frees it). A
 * release of no record is empty. DMVF_OK or the codec's error. */
static int convert_release(const ProtobufCBinaryData *rel, uint64_t records, dmvf_format fmt,
                           const dmvf_columns_options *copts, uint8_t **out, size_t *len,
                           size_t *cap, dmvf_error *err)
{
    *out = NULL;
    *len = *cap = 0;
    if (records == 0)
        return DMVF_OK;
    dmvf_columns *cols = NULL;
    int rc = DMVF_OK;
    if (fmt == DMVF_FORMAT_CSV && (rc = dmvf_columns_for_filter(NULL, copts, &cols, err)) != DMVF_OK)
        return rc;
    dmvf_codec_options o = {.in = DMVF_FORMAT_RECORDS, .out = fmt, .columns = cols, .empty_records = 1};
    dmvf_codec *c = dmvf_codec_create(NULL, &o, err);
    if (!c) {
        dmvf_columns_free(cols);
        return err ? err->code : DMVF_ENOMEM;
    }
    dmvf_in_buffer in = {rel->data, rel->len, 0};
    for (;;) {
        size_t want = *cap ? *cap * 2 : rel->len * 2 + 65536;
        uint8_t *b = malloc(want);
        if (!b) {
            rc = dmvf__seterr(err, DMVF_ENOMEM, "out of memory converting the release");
            break;
        }
        if (*len)
            memcpy(b, *out, *len);
        if (*out) {
            sodium_memzero(*out, *cap);
            free(*out);
        }
        *out = b;
        *cap = want;
        dmvf_out_buffer ob = {*out + *len, *cap - *len, 0};
        rc = dmvf_codec_stream(c, &ob, &in, 1, err);
        *len += ob.pos;
        if (rc != DMVF_ESPACE)
            break;
    }
    dmvf_codec_free(c);
    dmvf_columns_free(cols);
    return rc;
}

int dmvf_review_approve(const char *spool, const char *id, const char *secret_key_path,
                        const char *passphrase, const char *reviewer, const char *note,
                        const char *out_path, dmvf_audit *a, const dmvf_keyring *kr,
                        uint64_t *records, dmvf_error *err)
{
    return dmvf_review_approve_as(spool, id, secret_key_path, passphrase, reviewer, note, out_path,
                                  DMVF_FORMAT_RECORDS, NULL, a, kr, records, err);
}

int dmvf_review_approve_as(const char *spool, const char *id, const char *secret_key_path,
                           const char *passphrase, const char *reviewer, const char *note,
                           const char *out_path, dmvf_format fmt, const dmvf_columns_options *columns,
                           dmvf_audit *a, const dmvf_keyring *kr, uint64_t *records, dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && secret_key_path && reviewer && out_path, "NULL argument");
    if ((unsigned)fmt > DMVF_FORMAT_CSV)
        return dmvf__seterr(err, DMVF_EINVAL, "not a record format (records, jsonl or csv); nothing released");
    DMVF_REQUIRE(!a || kr, "an audited approval needs the keyring (subject hashes)");
    if (records)
        *records = 0;
    if (!a)
        return dmvf__seterr(err, DMVF_EINVAL,
                            "approving review item %.40s needs the audit log: the item is checked "
                            "against its REVIEW_HOLD entry and the approval logged before "
                            "anything is released; nothing released", id);
    uint8_t pub[32];
    dmvf_keyring_public_key(kr, pub);
    dmvf__review_item it;
    int rc = decision_open(spool, id, pub, secret_key_path, passphrase, reviewer, &it, err);
    if (rc != DMVF_OK)
        return rc;
    if ((rc = dmvf__review_hold_check(a, kr, &it, err)) != DMVF_OK) {
        dmvf__review_item_close(&it);
        return rc;
    }
    ProtobufCBinaryData conv = {0, NULL};
    size_t conv_cap = 0;
    char *tmp = NULL;   /* the release, written aside until the decision is logged */
    const ProtobufCBinaryData *rel = &it.body->release;
    if (fmt != DMVF_FORMAT_RECORDS) {
        rc = convert_release(rel, it.body->records_out, fmt, columns, &conv.data, &conv.len, &conv_cap, err);
        if (rc != DMVF_OK)
            goto done;
        rel = &conv;
    }
    int to_stdout = strcmp(out_path, "-") == 0;
    /* a device or FIFO (/dev/null, a pipe) is written in place, never replaced */
    struct stat ost;
    int direct = to_stdout || (stat(out_path, &ost) == 0 && !S_ISREG(ost.st_mode));
    int st;

    if (!direct && (st = dmvf__file_aside(out_path, rel->data, rel->len, 0600, &tmp))) {
        rc = dmvf__file_error(err, st, "release", out_path);
        goto done;
    }
    if ((rc = audit_decision(a, kr, &it, DMVF_AUDIT_REVIEW_APPROVE, reviewer, note, err))) {
        if (tmp)
            unlink(tmp);
        goto done;
    }
    if (direct) {
        int fd = to_stdout ? STDOUT_FILENO : open(out_path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
        int bad = fd < 0 || dmvf__write_all(fd, rel->data, rel->len) != 0;
        int e = errno;
        if (fd >= 0 && !to_stdout && close(fd) != 0 && !bad) {
            bad = 1;
            e = errno;
        }
        if (bad) {
            rc = dmvf__seterr(err, DMVF_EIO, "cannot write the release to %s: %s",
                              to_stdout ? "standard output" : out_path, strerror(e));
            goto done;
        }
    } else if ((st = dmvf__file_place(tmp, out_path, DMVF__FILE_REPLACE))) {
        rc = dmvf__file_error(err, st, "release", out_path);
        goto done;
    }
    rc = dmvf__review_mark(spool, id, DMVF__REVIEW_APPROVED, reviewer, note, err);
    if (rc != DMVF_OK) {
        char why[sizeof err->msg] = "";
        if (err)
            memcpy(why, err->msg, sizeof why);
        rc = dmvf__seterr(err, rc,
                          "the release of review item %s was written to %s but the item could "
                          "not be marked approved: %s", id, out_path, why);
        goto done;
    }
    if (records)
        *records = it.body->records_out;
done:
    free(tmp);
    if (conv.data)
        sodium_memzero(conv.data, conv_cap);
    free(conv.data);
    dmvf__review_item_close(&it);
    return rc;
}

int dmvf_review_deny(const char *spool, const char *id, const uint8_t pub[32],
                     const char *secret_key_path, const char *passphrase, const char *reviewer,
                     const char *note, dmvf_audit *a, dmvf_error *err)
{
    DMVF_REQUIRE(spool && id && pub && secret_key_path && reviewer, "NULL argument");
    dmvf__review_item it;
    int rc = decision_open(spool, id, pub, secret_key_path, passphrase, reviewer, &it, err);
    if (rc != DMVF_OK)
        return rc;
    if (a && (rc = audit_decision(a, NULL, &it, DMVF_AUDIT_REVIEW_DENY, reviewer, note, err)))
        goto done;
    rc = dmvf__review_mark(spool, id, DMVF__REVIEW_DENIED, reviewer, note, err);
done:
    dmvf__review_item_close(&it);
    return rc;
}
