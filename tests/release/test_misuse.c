/*
 * test_misuse.c - programmer misuse is caught as the headers document it.
 *
 *   NULL handle where one is required     aborts, "API misuse in <function>"
 *   a keyring freed under a live filter   aborts, naming the number of users
 *   a filter used after an error          DMVF_ESTATE until dmvf_filter_reset,
 *                                         finish gives no trailer
 *   a framed stream used after an error   DMVF_ESTATE
 *   free(NULL)                            accepted
 *
 * Each abort is provoked in a fork()ed child whose stderr is captured; the
 * parent checks that the child died of SIGABRT and what it printed.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include "check.h"
#include "dmvfilter/dmvfilter.h"
#include "keys/keys.h"

static dmvf_policy *pol;
static dmvf_keyring *kr;
static const dmvf_request police = {
    .request_id = "misuse-1", .ori = "NY0300000", .agency_kind = DMVF_AGENCY_LOCAL,
    .jurisdiction = "NY", .purpose = 1, .query_kind = DMVF_QUERY_BY_LICENSE};
/* Requests are judged as of one day (dmvf_filter_options.as_of), so that the
 * example policy's certification dates never expire under the test. */
static const dmvf_filter_options judged = {.as_of = 20261122};


/* A DriverRecord: record_id "R1", person { family_name "DOE" }. */
static const unsigned char good_rec[] = {0x0a, 0x02, 'R', '1', 0x12, 0x05, 0x0a, 0x03, 'D', 'O', 'E'};
/* Not a record: a key with an unterminated varint. */
static const unsigned char bad_rec[] = {0xff, 0xff, 0xff};

/* ---- running a misuse in a child ---- */

typedef void (*misuse_fn)(void);

/* Runs fn in a child; 1 when the child died of SIGABRT having printed a
 * line containing every one of the (NULL-terminated) wanted strings. */
static int aborts_with(const char *name, misuse_fn fn, const char *want1, const char *want2)
{
    int fds[2];
    if (pipe(fds) != 0)
        return 0;
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid < 0)
        return 0;
    if (pid == 0) {
        close(fds[0]);
        dup2(fds[1], STDERR_FILENO);
        close(fds[1]);
        fn();
        _exit(0); /* returned: not caught */
    }
    close(fds[1]);
    char buf[2048];
    size_t n = 0;
    for (;;) {
        ssize_t r = read(fds[0], buf + n, sizeof buf - 1 - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        n += (size_t)r;
        if (n == sizeof buf - 1)
            break;
    }
    buf[n] = 0;
    close(fds[0]);
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    int aborted = WIFSIGNALED(status) && WTERMSIG(status) == SIGABRT;
    int said = strstr(buf, "dmvfilter: API misuse in ") != NULL && (!want1 || strstr(buf, want1)) &&
               (!want2 || strstr(buf, want2));
    if (!aborted || !said)
        fprintf(stderr, "  %s: %s; stderr: %s\n", name,
                aborted ? "aborted" : WIFSIGNALED(status) ? "killed by another signal" : "did not abort",
                n ? buf : "(nothing)\n");
    return aborted && said;
}

#define EXPECT_ABORT(fn, w1, w2) CHECK_MSG(aborts_with(#fn, fn, w1, w2), "%s must abort", #fn)

static dmvf_filter *new_filter(void)
{
    dmvf_error err;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    if (!f) {
        fprintf(stderr, "filter create: %s\n", err.msg);
        _exit(3);
    }
    return f;
}

/* ---- NULL handles ---- */

static void m_create_null_policy(void) { dmvf_filter_create(NULL, kr, &police, NULL, NULL); }
static void m_create_null_request(void) { dmvf_filter_create(pol, kr, NULL, NULL, NULL); }
static void m_decision_null(void) { dmvf_filter_decision(NULL); }
static void m_refusal_null(void) { dmvf_filter_refusal(NULL); }
static void m_rule_null(void) { dmvf_filter_rule(NULL); }
static void m_reason_null(void) { dmvf_filter_reason(NULL); }
static void m_max_records_null(void) { dmvf_filter_max_records(NULL); }
static void m_notify_null(void) { dmvf_filter_notify_subject(NULL); }
static void m_counts_null(void) { dmvf_filter_counts(NULL, NULL, NULL, NULL); }
static void m_reset_null(void) { dmvf_filter_reset(NULL); }
static void m_requester_null(void) { dmvf_filter_requester(NULL); }
static void m_precheck_null(void) { dmvf_filter_precheck(NULL); }
static void m_received_null(void) { dmvf_filter_request_received(NULL); }
static void m_judged_null(void) { dmvf_filter_judged_date(NULL); }
static void m_as_of_null(void) { dmvf_filter_as_of(NULL); }
static void m_validate_null(void) { dmvf_request_validate(NULL, NULL); }
static void m_explain_bad_day(void) { dmvf_policy_explain_as_of(pol, &police, 20261340, stdout); }
static void m_record_null(void)
{
    unsigned char out[64];
    size_t n;
    dmvf_filter_record(NULL, good_rec, sizeof good_rec, out, sizeof out, &n, NULL, NULL);
}
static void m_record_null_len(void)
{
    unsigned char out[64];
    dmvf_filter_record(new_filter(), good_rec, sizeof good_rec, out, sizeof out, NULL, NULL, NULL);
}
static void m_record_null_input(void)
{
    unsigned char out[64];
    size_t n;
    dmvf_filter_record(new_filter(), NULL, 5, out, sizeof out, &n, NULL, NULL);
}
static void m_stream_null(void)
{
    unsigned char out[64];
    dmvf_in_buffer in = {good_rec, sizeof good_rec, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    dmvf_filter_stream(NULL, &ob, &in, 1, NULL);
}
static void m_stream_null_out(void)
{
    dmvf_in_buffer in = {good_rec, sizeof good_rec, 0};
    dmvf_filter_stream(new_filter(), NULL, &in, 1, NULL);
}
static void m_finish_null(void)
{
    dmvf_trailer t;
    dmvf_filter_finish(NULL, &t);
}
static void m_finish_null_trailer(void) { dmvf_filter_finish(new_filter(), NULL); }
static void m_framed_create_null(void) { dmvf_framed_create(NULL, kr, NULL, NULL); }
static void m_framed_stream_null(void)
{
    unsigned char out[64];
    dmvf_in_buffer in = {good_rec, sizeof good_rec, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    dmvf_framed_stream(NULL, &ob, &in, 1, NULL);
}
static void m_framed_cb_null(void) { dmvf_framed_set_callback(NULL, NULL, NULL); }
static void m_framed_limit_null(void) { dmvf_framed_set_max_request_frames(NULL, 1); }
static void m_framed_stats_null(void)
{
    dmvf_framed_stats st;
    dmvf_framed_stats_get(NULL, &st);
}
static void m_keyring_epoch_null(void) { dmvf_keyring_epoch(NULL); }
static void m_keyring_count_null(void) { dmvf_keyring_epoch_count(NULL); }
static void m_keyring_info_null(void) { dmvf_keyring_epoch_info(NULL, 0, NULL, NULL); }
static void m_keyring_sealed_null(void) { dmvf_keyring_is_sealed(NULL); }
static void m_keyring_load_null(void) { dmvf_keyring_load(NULL, NULL, NULL); }
static void m_keyring_reveal_null(void)
{
    size_t n;
    uint8_t out[16];
    dmvf_keyring_reveal(NULL, "NY0300000", "E0001.x", 7, out, sizeof out, &n, NULL);
}
static void m_policy_load_null(void) { dmvf_policy_load_file(NULL, NULL); }
static void m_policy_buffer_null(void) { dmvf_policy_load_buffer(NULL, 5, "x", NULL); }
static void m_policy_id_null(void) { dmvf_policy_id(NULL); }
static void m_policy_explain_null(void) { dmvf_policy_explain(NULL, &police, stdout); }

/* ---- a keyring freed while in use ---- */

static void m_keyring_free_under_filter(void)
{
    dmvf_filter *f = new_filter();
    (void)f;
    dmvf_keyring_free(kr);
}
static void m_keyring_free_under_two(void)
{
    new_filter();
    new_filter();
    dmvf_keyring_free(kr);
}
static void m_keyring_free_under_framed(void)
{
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, NULL);
    if (!fr)
        _exit(3);
    dmvf_keyring_free(kr);
}
/* ---- a policy freed while in use ---- */

static void m_policy_free_under_filter(void)
{
    dmvf_filter *f = new_filter();
    (void)f;
    dmvf_policy_free(pol);
}
static void m_policy_free_under_framed(void)
{
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, NULL);
    if (!fr)
        _exit(3);
    dmvf_policy_free(pol);
}

/* The correct order never aborts (the child exits 0). */
static void ok_keyring_free_after_filters(void)
{
    dmvf_filter *a = new_filter(), *b = new_filter();
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, NULL);
    dmvf_filter_free(a);
    dmvf_framed_free(fr);
    dmvf_filter_free(b);
    dmvf_keyring_free(kr);
    _exit(0);
}

/* Filters created and freed on many threads at once keep the count right. */
static void *churn(void *arg)
{
    (void)arg;
    for (int i = 0; i < 300; i++) {
        dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, NULL);
        if (!f)
            return (void *)1;
        dmvf_filter_free(f);
    }
    return NULL;
}
static void ok_threads_then_free(void)
{
    pthread_t t[8];
    int bad = 0;
    dmvf_filter *held = new_filter();
    for (int i = 0; i < 8; i++)
        if (pthread_create(&t[i], NULL, churn, NULL) != 0)
            _exit(4);
    for (int i = 0; i < 8; i++) {
        void *r;
        pthread_join(t[i], &r);
        bad |= r != NULL;
    }
    dmvf_filter_free(held);
    dmvf_keyring_free(kr); /* aborts if the count went wrong */
    _exit(bad ? 5 : 0);
}

static int exits_zero(misuse_fn fn)
{
    fflush(stdout);
    fflush(stderr);
    pid_t pid = fork();
    if (pid == 0) {
        fn();
        _exit(6);
    }
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
        ;
    if (!(WIFEXITED(status) && WEXITSTATUS(status) == 0))
        fprintf(stderr, "  child status %#x\n", status);
    return WIFEXITED(status) && WEXITSTATUS(status) == 0;
}

/* ---- sticky errors ---- */

static void sticky_filter(void)
{
    dmvf_error err;
    unsigned char out[4096];
    size_t n = 99;
    int dropped;
    dmvf_filter *f = dmvf_filter_create(pol, kr, &police, &judged, &err);
    CHECK(f != NULL);
    if (!f)
        return;
    CHECK_EQ_INT(dmvf_filter_decision(f), DMVF_DECISION_RELEASE);
    CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, sizeof out, &n, &dropped, &err),
                 DMVF_OK);
    CHECK(n > 0);
    CHECK_EQ_INT(dmvf_filter_record(f, bad_rec, sizeof bad_rec, out, sizeof out, &n, &dropped, &err),
                 DMVF_EMALFORMED);
    CHECK_EQ_INT(err.record, 1);
    /* used again without a reset: refused, and nothing written */
    memset(&err, 0, sizeof err);
    n = 99;
    CHECK_EQ_INT(dmvf_filter_record(f, good_rec, sizeof good_rec, out, sizeof out, &n, &dropped, &err),
                 DMVF_ESTATE);
    CHECK_EQ_INT(err.code, DMVF_ESTATE);
    CHECK(strstr(err.msg, "reset") != NULL);
    CHECK_EQ_INT(n, 0);
    unsigned char delim[sizeof good_rec + 1];
    delim[0] = sizeof good_rec;
    memcpy(delim + 1, good_rec, sizeof good_rec);
    dmvf_in_buffer in = {delim, sizeof delim, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_ESTATE);
    CHECK_EQ_INT(ob.pos, 0);
    CHECK_EQ_INT(in.pos, 0);
    /* a failed request has no trailer */
    dmvf_trailer t;
    memset(&t, 0xa5, sizeof t);
    CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_ESTATE);
    CHECK(t.request_id == NULL && t.policy_id == NULL && t.records_out == 0 && t.decision == 0);
    /* reset clears it */
    dmvf_filter_reset(f);
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_OK);
    CHECK(ob.pos > 0);
    CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_OK);
    CHECK_EQ_INT(t.records_in, 1);
    CHECK_EQ_STR(t.request_id, "misuse-1");

    /* a stream error is sticky too */
    dmvf_filter_reset(f);
    unsigned char trunc[] = {0x20, 0x0a, 0x02};
    dmvf_in_buffer tin = {trunc, sizeof trunc, 0};
    ob.pos = 0;
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &tin, 1, &err), DMVF_EMALFORMED);
    in.pos = 0;
    CHECK_EQ_INT(dmvf_filter_stream(f, &ob, &in, 1, &err), DMVF_ESTATE);
    CHECK_EQ_INT(ob.pos, 0);
    CHECK_EQ_INT(dmvf_filter_finish(f, &t), DMVF_ESTATE);
    dmvf_filter_free(f);
}

static void sticky_framed(void)
{
    dmvf_error err;
    dmvf_framed *fr = dmvf_framed_create(pol, kr, NULL, &err);
    CHECK(fr != NULL);
    if (!fr)
        return;
    unsigned char out[256];
    /* a record frame before any request frame is malformed */
    unsigned char frame[2 + 2 + sizeof good_rec];
    frame[0] = (unsigned char)(2 + sizeof good_rec);
    frame[1] = 0x12;
    frame[2] = sizeof good_rec;
    memcpy(frame + 3, good_rec, sizeof good_rec);
    dmvf_in_buffer in = {frame, 3 + sizeof good_rec, 0};
    dmvf_out_buffer ob = {out, sizeof out, 0};
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_EMALFORMED);
    CHECK(strstr(err.msg, "outside a request") != NULL);
    in.pos = 0;
    memset(&err, 0, sizeof err);
    CHECK_EQ_INT(dmvf_framed_stream(fr, &ob, &in, 1, &err), DMVF_ESTATE);
    CHECK_EQ_INT(err.code, DMVF_ESTATE);
    CHECK_EQ_INT(ob.pos, 0);
    dmvf_framed_free(fr);
}

int main(void)
{
    char dir[] = "/tmp/dmvf-misuse-XXXXXX", path[4096];
    const char *src = getenv("DMVF_SRC");
    CHECK(src != NULL);
    if (!src || !mkdtemp(dir))
        CHECK_DONE();
    static const uint8_t seed[32] = "dmvfilter misuse test keyring!!";
    dmvf_error err;
    snprintf(path, sizeof path, "%s/keyring", dir);
    CHECK_EQ_INT(dmvf__keyring_create_seeded(path, seed, 1, &err), DMVF_OK);
    kr = dmvf_keyring_load(path, NULL, &err);
    snprintf(path, sizeof path, "%s/examples/policy.yaml", src);
    pol = dmvf_policy_load_file(path, &err);
    CHECK(kr != NULL && pol != NULL);
    if (!kr || !pol)
        CHECK_DONE();

    /* free(NULL) is fine */
    dmvf_filter_free(NULL);
    dmvf_framed_free(NULL);
    dmvf_keyring_free(NULL);
    dmvf_policy_free(NULL);
    CHECK(1);

    EXPECT_ABORT(m_create_null_policy, "dmvf_filter_create", "policy is NULL");
    EXPECT_ABORT(m_create_null_request, "dmvf_filter_create", "request is NULL");
    EXPECT_ABORT(m_decision_null, "dmvf_filter_decision", "filter is NULL");
    EXPECT_ABORT(m_refusal_null, "dmvf_filter_refusal", "NULL");
    EXPECT_ABORT(m_rule_null, "dmvf_filter_rule", "NULL");
    EXPECT_ABORT(m_reason_null, "dmvf_filter_reason", "NULL");
    EXPECT_ABORT(m_max_records_null, "dmvf_filter_max_records", "NULL");
    EXPECT_ABORT(m_notify_null, "dmvf_filter_notify_subject", "NULL");
    EXPECT_ABORT(m_counts_null, "dmvf_filter_counts", "NULL");
    EXPECT_ABORT(m_reset_null, "dmvf_filter_reset", "NULL");
    EXPECT_ABORT(m_requester_null, "dmvf_filter_requester", "filter is NULL");
    EXPECT_ABORT(m_precheck_null, "dmvf_filter_precheck", "filter is NULL");
    EXPECT_ABORT(m_received_null, "dmvf_filter_request_received", "filter is NULL");
    EXPECT_ABORT(m_judged_null, "dmvf_filter_judged_date", "filter is NULL");
    EXPECT_ABORT(m_as_of_null, "dmvf_filter_as_of", "filter is NULL");
    EXPECT_ABORT(m_validate_null, "dmvf_request_validate", "request is NULL");
    EXPECT_ABORT(m_explain_bad_day, "dmvf_policy_explain_as_of", "as_of is not a date");
    EXPECT_ABORT(m_record_null, "dmvf_filter_record", "filter is NULL");
    EXPECT_ABORT(m_record_null_len, "dmvf_filter_record", "out_len is NULL");
    EXPECT_ABORT(m_record_null_input, "dmvf_filter_record", "input is NULL");
    EXPECT_ABORT(m_stream_null, "dmvf_filter_stream", "NULL");
    EXPECT_ABORT(m_stream_null_out, "dmvf_filter_stream", "NULL");
    EXPECT_ABORT(m_finish_null, "dmvf_filter_finish", "NULL");
    EXPECT_ABORT(m_finish_null_trailer, "dmvf_filter_finish", "NULL");
    EXPECT_ABORT(m_framed_create_null, "dmvf_framed_create", "policy is NULL");
    EXPECT_ABORT(m_framed_stream_null, "dmvf_framed_stream", "NULL");
    EXPECT_ABORT(m_framed_cb_null, "dmvf_framed_set_callback", "NULL");
    EXPECT_ABORT(m_framed_limit_null, "dmvf_framed_set_max_request_frames", "NULL");
    EXPECT_ABORT(m_framed_stats_null, "dmvf_framed_stats_get", "NULL");
    EXPECT_ABORT(m_keyring_epoch_null, "dmvf_keyring_epoch", "keyring is NULL");
    EXPECT_ABORT(m_keyring_count_null, "dmvf_keyring_epoch_count", "keyring is NULL");
    EXPECT_ABORT(m_keyring_info_null, "dmvf_keyring_epoch_info", "keyring is NULL");
    EXPECT_ABORT(m_keyring_sealed_null, "dmvf_keyring_is_sealed", "keyring is NULL");
    EXPECT_ABORT(m_keyring_load_null, "dmvf_keyring_load", "path is NULL");
    EXPECT_ABORT(m_keyring_reveal_null, "dmvf_keyring_reveal", "keyring is NULL");
    EXPECT_ABORT(m_policy_load_null, "dmvf_policy_load_file", "path is NULL");
    EXPECT_ABORT(m_policy_buffer_null, "dmvf_policy_load_buffer", "NULL");
    EXPECT_ABORT(m_policy_id_null, "dmvf_policy_id", "policy is NULL");
    EXPECT_ABORT(m_policy_explain_null, "dmvf_policy_explain", "policy is NULL");

    EXPECT_ABORT(m_keyring_free_under_filter, "dmvf_keyring_free", "still used by 1 filter");
    EXPECT_ABORT(m_keyring_free_under_two, "dmvf_keyring_free", "still used by 2 filter");
    EXPECT_ABORT(m_keyring_free_under_framed, "dmvf_keyring_free", "still used by 1 ");
    EXPECT_ABORT(m_policy_free_under_filter, "dmvf_policy_free", "still used by 1 filter");
    EXPECT_ABORT(m_policy_free_under_framed, "dmvf_policy_free", "still used by 1 ");
    CHECK_MSG(exits_zero(ok_keyring_free_after_filters), "freeing in order must not abort");
    CHECK_MSG(exits_zero(ok_threads_then_free), "use count stays right across threads");

    /* the enum parsers take NULL as not a name */
    dmvf_agency_kind ak;
    CHECK_EQ_INT(dmvf_agency_kind_parse(NULL, &ak), DMVF_EINVAL);

    sticky_filter();
    sticky_framed();

    dmvf_policy_free(pol);
    dmvf_keyring_free(kr); /* every filter above was freed: no abort */
    snprintf(path, sizeof path, "rm -rf '%s'", dir);
    CHECK(system(path) == 0);
    CHECK_DONE();
}
