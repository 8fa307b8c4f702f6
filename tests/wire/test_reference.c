/*
 * test_reference.c - the protobuf-c reference path (reference.c) on plans
 * built by hand and records built with the protobuf-c structs: concrete
 * outputs for every action, normalization (map, drop, allow lists,
 * otherwise; on its own and in a plan), unknown fields, the merge of a
 * singular sub-message sent in pieces, opaque fields (groups and any wire
 * type where the plan does not look), refusals, and keyed pseudonyms and
 * encryption.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "check.h"
#include "filter/wire/reference.h"
#include "filter/wire/transform.h"
#include "dmv/v1/record.pb-c.h"

/* ---- plans by hand: one static table per message position ---- */

#define MAXNODES 16
#define MAXNUM 32
static dmvf_pnode g_pn[MAXNODES];
static dmvf_fplan g_tab[MAXNODES][MAXNUM];
static size_t g_npn;

static void plan_reset(void)
{
    memset(g_pn, 0, sizeof g_pn);
    memset(g_tab, 0, sizeof g_tab);
    g_npn = 0;
}

/* The plan node of a schema position, created all-REDACT on first use. */
static size_t pnode_index(const dmvf_snode *sn)
{
    for (size_t i = 0; i < g_npn; i++)
        if (g_pn[i].schema == sn)
            return i;
    if (g_npn == MAXNODES || sn->max_number >= MAXNUM)
        abort();
    size_t i = g_npn++;
    g_pn[i].schema = sn;
    g_pn[i].max_number = sn->max_number;
    g_pn[i].f = g_tab[i];
    for (size_t k = 0; k < sn->nfields; k++) {
        g_tab[i][sn->fields[k].number].action = DMVF_ACT_REDACT;
        g_tab[i][sn->fields[k].number].sf = &sn->fields[k];
    }
    return i;
}

static dmvf_fplan *fp_at(const char *path)
{
    const dmvf_sfield *sf = dmvf__schema_find(path);
    if (!sf) {
        fprintf(stderr, "no schema path %s\n", path);
        abort();
    }
    return &g_tab[pnode_index(sf->parent)][sf->number];
}

static dmvf_fplan *act(const char *path, unsigned action)
{
    dmvf_fplan *f = fp_at(path);
    f->action = (uint8_t)action;
    if (action == DMVF_ACT_DESCEND)
        f->child = &g_pn[pnode_index(dmvf__schema_find(path)->child)];
    return f;
}

static dmvf_plan plan_make(const char *const *pseudo, size_t npseudo)
{
    dmvf_plan p;
    memset(&p, 0, sizeof p);
    p.root = &g_pn[pnode_index(dmvf__schema_root())];
    p.pseudo_paths = pseudo;
    p.npseudo = npseudo;
    p.max_token_growth = 128;
    return p;
}

/* ---- records ---- */

static uint8_t *pack_msg(const ProtobufCMessage *m, size_t *n)
{
    *n = protobuf_c_message_get_packed_size(m);
    uint8_t *b = malloc(*n + 1);
    if (!b)
        abort();
    protobuf_c_message_pack(m, b);
    return b;
}

/* Runs the reference path; returns the unpacked output or NULL (rc set). */
static Dmv__V1__DriverRecord *run(const dmvf_plan *p, const dmvf_keyctx *kc, const uint8_t *in,
                                  size_t n, int *rc, dmvf_error *err, uint8_t **outb, size_t *outn)
{
    uint8_t *out = NULL;
    size_t on = 0;
    *rc = dmvf__reference_record(p, kc, in, n, &out, &on, err);
    if (*rc) {
        CHECK(out == NULL);
        return NULL;
    }
    Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, on, out);
    CHECK_MSG(r != NULL, "output does not unpack");
    if (r) {
        /* canonical: packing what was unpacked gives the same bytes */
        size_t n2;
        uint8_t *again = pack_msg(&r->base, &n2);
        CHECK(n2 == on && memcmp(again, out, on) == 0);
        free(again);
    }
    if (outb) {
        *outb = out;
        *outn = on;
    } else {
        free(out);
    }
    return r;
}

static int contains(const uint8_t *h, size_t hn, const char *needle)
{
    size_t nn = strlen(needle);
    for (size_t i = 0; nn <= hn && i <= hn - nn; i++)
        if (memcmp(h + i, needle, nn) == 0)
            return 1;
    return 0;
}

static int str_is_empty(const char *s)
{
    return s == NULL || *s == 0;
}

/* ---- the full record and plan ---- */

static char *aliases[] = {"Al", "DP", "", "Bob"};
static char *restrictions[] = {"B", "X9", "C"};
static char *endorsements[] = {"H"};

static Dmv__V1__Address residence = DMV__V1__ADDRESS__INIT;
static Dmv__V1__Address mailing = DMV__V1__ADDRESS__INIT;
static Dmv__V1__Address vaddr = DMV__V1__ADDRESS__INIT;
static Dmv__V1__Person person = DMV__V1__PERSON__INIT;
static Dmv__V1__License license = DMV__V1__LICENSE__INIT;
static Dmv__V1__Marking marking = DMV__V1__MARKING__INIT;
static Dmv__V1__Photo photo = DMV__V1__PHOTO__INIT;
static Dmv__V1__IdentityDocument doc = DMV__V1__IDENTITY_DOCUMENT__INIT;
static Dmv__V1__VehicleRegistration veh1 = DMV__V1__VEHICLE_REGISTRATION__INIT;
static Dmv__V1__VehicleRegistration veh2 = DMV__V1__VEHICLE_REGISTRATION__INIT;
static Dmv__V1__HistoryEvent ev = DMV__V1__HISTORY_EVENT__INIT;
static Dmv__V1__DriverRecord rec = DMV__V1__DRIVER_RECORD__INIT;
static Dmv__V1__IdentityDocument *docs[] = {&doc};
static Dmv__V1__VehicleRegistration *vehs[] = {&veh1, &veh2};
static Dmv__V1__HistoryEvent *evs[] = {&ev};
static uint8_t image[] = {0x89, 'P', 'N', 'G', 0, 1, 2, 3};

static void build_record(void)
{
    residence.street = "12 Main St";
    residence.city = "New York";
    residence.state = "NY";
    residence.postal_code = "10027";
    mailing.street = "PO Box 7";
    mailing.postal_code = "10001";
    person.family_name = "Doe";
    person.given_name = "John";
    person.n_aliases = 4;
    person.aliases = aliases;
    person.birth_date = 19800615;
    person.sex = DMV__V1__PERSON__SEX__SEX_MALE;
    person.height_cm = 180;
    person.ssn = "123-45-6789";
    person.residence = &residence;
    person.mailing = &mailing;
    person.phone = "5551234567";
    person.email = "jd@example.org";
    person.organ_donor = 1;
    license.number = "D1234567";
    license.class_code = "DP";
    license.n_restrictions = 3;
    license.restrictions = restrictions;
    license.n_endorsements = 1;
    license.endorsements = endorsements;
    license.kind = DMV__V1__LICENSE__KIND__KIND_DRIVER_LICENSE;
    license.issue_date = 20190314;
    license.expiration_date = 20270314;
    license.status = DMV__V1__LICENSE__STATUS__STATUS_VALID;
    marking.program = "AB60";
    marking.card_legend = "FEDERAL LIMITS APPLY";
    marking.limited_duration = 1;
    photo.image.data = image;
    photo.image.len = sizeof image;
    photo.capture_date = 20190301;
    photo.image_format = "png";
    doc.type = DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_CONSULAR_ID;
    doc.number = "C-77";
    vaddr.state = "NJ";
    vaddr.postal_code = "07030";
    veh1.plate = "ABC1234";
    veh1.vin = "1HGCM82633A004352";
    veh1.expiration_date = 20270131;
    veh1.registered_address = &vaddr;
    veh2.plate = "XYZ9";
    ev.date = 20200102;
    ev.kind = DMV__V1__HISTORY_EVENT__KIND__KIND_POINTS;
    ev.description = "speeding";
    ev.points = -3;
    rec.record_id = "R-0001";
    rec.person = &person;
    rec.license = &license;
    rec.marking = &marking;
    rec.n_documents = 1;
    rec.documents = docs;
    rec.photo = &photo;
    rec.n_vehicles = 2;
    rec.vehicles = vehs;
    rec.n_history = 1;
    rec.history = evs;
}

/* Tables sorted by bytes, as the policy compiler builds them. */
static const dmvf_norm_entry alias_drop[] = {
    {(const uint8_t *)"DP", 2, NULL, 0, 1},
};
static const dmvf_norm alias_norm = {1, alias_drop, 0, NULL, NULL};
static const dmvf_norm_entry class_map[] = {
    {(const uint8_t *)"DP", 2, (const uint8_t *)"D", 1, 0},
};
static const dmvf_norm_value class_allow[] = {{(const uint8_t *)"C", 1}, {(const uint8_t *)"D", 1}};
static const dmvf_norm class_norm = {1, class_map, 2, class_allow, NULL};
static const dmvf_norm_entry restr_map[] = {
    {(const uint8_t *)"C", 1, (const uint8_t *)"CC", 2, 0},
    {(const uint8_t *)"X9", 2, NULL, 0, 1},
};
static const dmvf_norm_value restr_allow[] = {{(const uint8_t *)"B", 1}, {(const uint8_t *)"CC", 2}};
static const dmvf_norm restr_norm = {2, restr_map, 2, restr_allow, NULL};

static dmvf_plan build_plan(void)
{
    plan_reset();
    act("record_id", DMVF_ACT_RELEASE);
    act("person", DMVF_ACT_DESCEND);
    act("person.family_name", DMVF_ACT_RELEASE);
    dmvf_fplan *f = act("person.given_name", DMVF_ACT_MASK);
    f->mask_first = 1;
    f = act("person.aliases", DMVF_ACT_RELEASE);
    f->norm = &alias_norm;
    f = act("person.birth_date", DMVF_ACT_GENERALIZE);
    f->gen = DMVF_GEN_YEAR;
    act("person.sex", DMVF_ACT_RELEASE);
    f = act("person.height_cm", DMVF_ACT_CONSTANT);
    f->cnum = 170;
    f = act("person.weight_kg", DMVF_ACT_CONSTANT); /* absent in the record: stays absent */
    f->cnum = 70;
    f = act("person.phone", DMVF_ACT_MASK);
    f->mask_last = 4;
    f = act("person.hair_color", DMVF_ACT_CONSTANT); /* absent: stays absent */
    f->cval = (const uint8_t *)"brown";
    f->clen = 5;
    act("person.residence", DMVF_ACT_DESCEND);
    act("person.residence.city", DMVF_ACT_RELEASE);
    f = act("person.residence.postal_code", DMVF_ACT_GENERALIZE);
    f->gen = DMVF_GEN_ZIP3;
    act("license", DMVF_ACT_DESCEND);
    act("license.number", DMVF_ACT_RELEASE);
    f = act("license.class_code", DMVF_ACT_RELEASE);
    f->norm = &class_norm;
    f = act("license.restrictions", DMVF_ACT_RELEASE);
    f->norm = &restr_norm;
    act("license.kind", DMVF_ACT_RELEASE);
    f = act("license.issue_date", DMVF_ACT_GENERALIZE);
    f->gen = DMVF_GEN_MONTH;
    f = act("license.status", DMVF_ACT_CONSTANT);
    f->cnum = DMV__V1__LICENSE__STATUS__STATUS_SUSPENDED;
    act("vehicles", DMVF_ACT_DESCEND);
    act("vehicles.plate", DMVF_ACT_RELEASE);
    f = act("vehicles.expiration_date", DMVF_ACT_GENERALIZE);
    f->gen = DMVF_GEN_DECADE;
    act("vehicles.registered_address", DMVF_ACT_DESCEND);
    act("vehicles.registered_address.state", DMVF_ACT_RELEASE);
    act("history", DMVF_ACT_DESCEND);
    act("history.kind", DMVF_ACT_RELEASE);
    act("history.points", DMVF_ACT_RELEASE);
    f = act("history.description", DMVF_ACT_CONSTANT);
    f->cval = (const uint8_t *)"withheld";
    f->clen = 8;
    act("photo", DMVF_ACT_DESCEND);
    f = act("photo.image", DMVF_ACT_CONSTANT);
    f->cval = (const uint8_t *)"IMG";
    f->clen = 3;
    act("photo.capture_date", DMVF_ACT_RELEASE);
    return plan_make(NULL, 0);
}

static void test_full(void)
{
    build_record();
    dmvf_plan plan = build_plan();
    size_t n;
    uint8_t *in = pack_msg(&rec.base, &n);
    int rc;
    dmvf_error err;
    uint8_t *out1, *out2;
    size_t n1, n2;
    Dmv__V1__DriverRecord *r = run(&plan, NULL, in, n, &rc, &err, &out1, &n1);
    CHECK_EQ_INT(rc, DMVF_OK);
    if (!r) {
        free(in);
        return;
    }
    CHECK_EQ_STR(r->record_id, "R-0001");
    CHECK(r->person != NULL);
    CHECK(r->license != NULL);
    CHECK(r->marking == NULL);
    CHECK(r->application == NULL);
    CHECK_EQ_INT(r->n_documents, 0);
    if (r->person) {
        Dmv__V1__Person *p = r->person;
        CHECK_EQ_STR(p->family_name, "Doe");
        CHECK_EQ_STR(p->given_name, "J***");
        CHECK_EQ_STR(p->phone, "******4567");
        CHECK_EQ_INT(p->birth_date, 19800000);
        CHECK_EQ_INT(p->sex, DMV__V1__PERSON__SEX__SEX_MALE);
        CHECK_EQ_INT(p->height_cm, 170);
        CHECK_EQ_INT(p->weight_kg, 0);
        CHECK(str_is_empty(p->hair_color));
        CHECK(str_is_empty(p->ssn));
        CHECK(str_is_empty(p->email));
        CHECK_EQ_INT(p->organ_donor, 0);
        CHECK(p->mailing == NULL);
        CHECK_EQ_INT(p->n_aliases, 3);
        if (p->n_aliases == 3) {
            CHECK_EQ_STR(p->aliases[0], "Al");
            CHECK_EQ_STR(p->aliases[1], ""); /* empty repeated elements are kept */
            CHECK_EQ_STR(p->aliases[2], "Bob");
        }
        CHECK(p->residence != NULL);
        if (p->residence) {
            CHECK_EQ_STR(p->residence->postal_code, "100");
            CHECK_EQ_STR(p->residence->city, "New York");
            CHECK(str_is_empty(p->residence->street));
            CHECK(str_is_empty(p->residence->state));
        }
    }
    if (r->license) {
        Dmv__V1__License *l = r->license;
        CHECK_EQ_STR(l->number, "D1234567");
        CHECK_EQ_STR(l->class_code, "D");
        CHECK_EQ_INT(l->n_restrictions, 2);
        if (l->n_restrictions == 2) {
            CHECK_EQ_STR(l->restrictions[0], "B");
            CHECK_EQ_STR(l->restrictions[1], "CC");
        }
        CHECK_EQ_INT(l->n_endorsements, 0);
        CHECK_EQ_INT(l->issue_date, 20190300);
        CHECK_EQ_INT(l->expiration_date, 0);
        CHECK_EQ_INT(l->status, DMV__V1__LICENSE__STATUS__STATUS_SUSPENDED);
        CHECK_EQ_INT(l->kind, DMV__V1__LICENSE__KIND__KIND_DRIVER_LICENSE);
    }
    CHECK_EQ_INT(r->n_vehicles, 2);
    if (r->n_vehicles == 2) {
        CHECK_EQ_STR(r->vehicles[0]->plate, "ABC1234");
        CHECK(str_is_empty(r->vehicles[0]->vin));
        CHECK_EQ_INT(r->vehicles[0]->expiration_date, 20200000);
        CHECK(r->vehicles[0]->registered_address != NULL);
        if (r->vehicles[0]->registered_address) {
            CHECK_EQ_STR(r->vehicles[0]->registered_address->state, "NJ");
            CHECK(str_is_empty(r->vehicles[0]->registered_address->postal_code));
        }
        CHECK_EQ_STR(r->vehicles[1]->plate, "XYZ9");
        CHECK(r->vehicles[1]->registered_address == NULL);
    }
    CHECK_EQ_INT(r->n_history, 1);
    if (r->n_history == 1) {
        CHECK_EQ_INT(r->history[0]->points, -3);
        CHECK_EQ_INT(r->history[0]->date, 0);
        CHECK_EQ_INT(r->history[0]->kind, DMV__V1__HISTORY_EVENT__KIND__KIND_POINTS);
        CHECK_EQ_STR(r->history[0]->description, "withheld");
    }
    CHECK(r->photo != NULL);
    if (r->photo) {
        CHECK_EQ_INT(r->photo->image.len, 3);
        CHECK(r->photo->image.len == 3 && memcmp(r->photo->image.data, "IMG", 3) == 0);
        CHECK_EQ_INT(r->photo->capture_date, 20190301);
        CHECK(str_is_empty(r->photo->image_format));
    }
    /* no redacted value appears anywhere in the bytes */
    static const char *const gone[] = {"123-45-6789", "AB60", "FEDERAL", "12 Main", "PO Box",
                                       "jd@example", "C-77", "1HGCM8", "07030", "X9", "png"};
    for (size_t i = 0; i < sizeof gone / sizeof gone[0]; i++)
        CHECK_MSG(!contains(out1, n1, gone[i]), "%s leaked", gone[i]);
    dmv__v1__driver_record__free_unpacked(r, NULL);

    /* deterministic */
    rc = dmvf__reference_record(&plan, NULL, in, n, &out2, &n2, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK(rc == DMVF_OK && n1 == n2 && memcmp(out1, out2, n1) == 0);
    free(out2);

    /* field-number order: record_id (1) first, then person (2), license (3) */
    CHECK(n1 > 2 && out1[0] == 0x0a && out1[1] == 6);
    CHECK(n1 > 8 && out1[8] == 0x12);
    free(out1);

    /* a plan that redacts everything releases nothing: zero bytes */
    plan_reset();
    dmvf_plan none = plan_make(NULL, 0);
    rc = dmvf__reference_record(&none, NULL, in, n, &out2, &n2, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_EQ_INT(n2, 0);
    free(out2);
    free(in);
}

/* ---- proto3 defaults and last-wins ---- */

static void test_defaults(void)
{
    plan_reset();
    act("record_id", DMVF_ACT_RELEASE);
    act("person", DMVF_ACT_DESCEND);
    dmvf_fplan *f = act("person.phone", DMVF_ACT_CONSTANT);
    f->cval = (const uint8_t *)"000";
    f->clen = 3;
    f = act("person.height_cm", DMVF_ACT_CONSTANT);
    f->cnum = 170;
    act("person.family_name", DMVF_ACT_RELEASE);
    dmvf_plan plan = plan_make(NULL, 0);

    /* person with phone and height absent */
    static const uint8_t absent[] = {0x0a, 0x01, 'a', 0x12, 0x03, 0x0a, 0x01, 'X'};
    /* the same with phone (18) = "" and height_cm (8) = 0 spelled out, and
     * record_id twice: the last ("a") wins */
    static const uint8_t spelled[] = {0x0a, 0x01, 'z', 0x12, 0x08, 0x0a, 0x01, 'X', 0x92, 0x01, 0x00,
                                      0x40, 0x00, 0x0a, 0x01, 'a'};
    uint8_t *o1 = NULL, *o2 = NULL;
    size_t n1 = 0, n2 = 0;
    dmvf_error err;
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, absent, sizeof absent, &o1, &n1, &err), DMVF_OK);
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, spelled, sizeof spelled, &o2, &n2, &err), DMVF_OK);
    static const uint8_t want[] = {0x0a, 0x01, 'a', 0x12, 0x03, 0x0a, 0x01, 'X'};
    CHECK(o1 && n1 == sizeof want && memcmp(o1, want, n1) == 0);
    CHECK(o2 && n2 == sizeof want && memcmp(o2, want, n2) == 0);
    free(o1);
    free(o2);

    /* present values get the constants */
    static const uint8_t present[] = {0x12, 0x07, 0x92, 0x01, 0x01, '5', 0x40, 0xb4, 0x01};
    /* height 170 = 0xaa 0x01; phone "000" */
    static const uint8_t want2[] = {0x12, 0x09, 0x40, 0xaa, 0x01, 0x92, 0x01, 0x03, '0', '0', '0'};
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, present, sizeof present, &o1, &n1, &err), DMVF_OK);
    CHECK(o1 && n1 == sizeof want2 && memcmp(o1, want2, n1) == 0);
    free(o1);

    /* an empty person is still a person: DESCEND keeps the message */
    static const uint8_t empty_person[] = {0x12, 0x00};
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, empty_person, 2, &o1, &n1, &err), DMVF_OK);
    CHECK(o1 && n1 == 2 && o1[0] == 0x12 && o1[1] == 0);
    free(o1);

    /* the empty record */
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, NULL, 0, &o1, &n1, &err), DMVF_OK);
    CHECK_EQ_INT(n1, 0);
    free(o1);
}

/* ---- unknown fields ---- */

static void test_unknown(void)
{
    plan_reset();
    act("record_id", DMVF_ACT_RELEASE);
    act("person", DMVF_ACT_DESCEND);
    act("person.family_name", DMVF_ACT_RELEASE);
    act("person.residence", DMVF_ACT_DESCEND);
    act("person.residence.city", DMVF_ACT_RELEASE);
    dmvf_plan plan = plan_make(NULL, 0);

    /* record_id "r"; person { family_name "F"; field 40 varint 5; residence { city "C";
     * field 9 fixed32 } ; field 99 bytes "zz" }; field 50 varint 1; field 1000 fixed64 */
    static const uint8_t in[] = {
        0x0a, 0x01, 'r',
        0x12, 0x16,
        0x0a, 0x01, 'F',
        0xc0, 0x02, 0x05,
        0x82, 0x01, 0x08, 0x1a, 0x01, 'C', 0x4d, 0x01, 0x02, 0x03, 0x04,
        0x9a, 0x06, 0x02, 'z', 'z',
        0x90, 0x03, 0x01,
        0xc1, 0x3e, 1, 2, 3, 4, 5, 6, 7, 8};
    static const uint8_t want[] = {
        0x0a, 0x01, 'r',
        0x12, 0x09,
        0x0a, 0x01, 'F',
        0x82, 0x01, 0x03, 0x1a, 0x01, 'C'};
    uint8_t *o = NULL;
    size_t n = 0;
    dmvf_error err;
    int rc = dmvf__reference_record(&plan, NULL, in, sizeof in, &o, &n, &err);
    CHECK_EQ_INT(rc, DMVF_OK);
    CHECK_MSG(rc == 0 && n == sizeof want && memcmp(o, want, n) == 0, "unknown fields not removed (%zu bytes)", n);
    if (rc == 0) {
        Dmv__V1__DriverRecord *r = dmv__v1__driver_record__unpack(NULL, n, o);
        CHECK(r && r->base.n_unknown_fields == 0 && r->person && r->person->base.n_unknown_fields == 0);
        dmv__v1__driver_record__free_unpacked(r, NULL);
    }
    free(o);
}

/* ---- refusals ---- */

static void expect_fail(const dmvf_plan *plan, const uint8_t *in, size_t n, int code, uint64_t offset,
                        const char *what)
{
    uint8_t *o = (uint8_t *)"x";
    size_t on = 7;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int rc = dmvf__reference_record(plan, NULL, in, n, &o, &on, &err);
    CHECK_MSG(rc == code, "%s: rc %d, want %d (%s)", what, rc, code, err.msg);
    CHECK_MSG(o == NULL && on == 0, "%s: output left set", what);
    CHECK_EQ_INT(err.code, code);
    CHECK_MSG(err.msg[0] != 0, "%s: no message", what);
    if (offset != UINT64_MAX)
        CHECK_MSG(err.offset == offset, "%s: offset %llu, want %llu (%s)", what,
                  (unsigned long long)err.offset, (unsigned long long)offset, err.msg);
}

static void expect_out(const dmvf_plan *plan, const uint8_t *in, size_t n, const uint8_t *want, size_t wn,
                       const char *what)
{
    uint8_t *o = NULL;
    size_t on = 0;
    dmvf_error err;
    memset(&err, 0, sizeof err);
    int rc = dmvf__reference_record(plan, NULL, in, n, &o, &on, &err);
    CHECK_MSG(rc == DMVF_OK, "%s: rc %d (%s)", what, rc, err.msg);
    CHECK_MSG(rc != DMVF_OK || (on == wn && (wn == 0 || memcmp(o, want, wn) == 0)), "%s: other bytes", what);
    free(o);
}

static void test_refusals(void)
{
    plan_reset();
    act("record_id", DMVF_ACT_RELEASE);
    act("person", DMVF_ACT_DESCEND);
    act("person.family_name", DMVF_ACT_RELEASE);
    act("person.residence", DMVF_ACT_DESCEND);
    act("person.residence.city", DMVF_ACT_RELEASE);
    act("vehicles", DMVF_ACT_DESCEND);
    act("vehicles.plate", DMVF_ACT_RELEASE);
    dmvf_plan plan = plan_make(NULL, 0);

    /* person twice: the pieces merge (protobuf's rule), one person is written */
    static const uint8_t dup_person[] = {0x0a, 0x01, 'r', 0x12, 0x00, 0x12, 0x00};
    static const uint8_t dup_person_out[] = {0x0a, 0x01, 'r', 0x12, 0x00};
    expect_out(&plan, dup_person, sizeof dup_person, dup_person_out, sizeof dup_person_out, "person twice");
    /* family_name in both pieces (the last wins), residence in both: merged,
     * its city from the first piece, kept */
    static const uint8_t pieces[] = {0x12, 0x09, 0x0a, 0x01, 'a', 0x82, 0x01, 0x03, 0x1a, 0x01, 'c',
                                     0x12, 0x08, 0x0a, 0x01, 'z', 0x82, 0x01, 0x02, 0x0a, 0x00};
    static const uint8_t pieces_out[] = {0x12, 0x09, 0x0a, 0x01, 'z', 0x82, 0x01, 0x03, 0x1a, 0x01, 'c'};
    expect_out(&plan, pieces, sizeof pieces, pieces_out, sizeof pieces_out, "person in pieces");
    /* residence twice inside person */
    static const uint8_t dup_res[] = {0x12, 0x08, 0x82, 0x01, 0x00, 0x0a, 0x00, 0x82, 0x01, 0x00};
    static const uint8_t dup_res_out[] = {0x12, 0x03, 0x82, 0x01, 0x00};
    expect_out(&plan, dup_res, sizeof dup_res, dup_res_out, sizeof dup_res_out, "residence twice");
    /* marking twice, redacted: opaque, not looked at */
    static const uint8_t dup_marking[] = {0x22, 0x00, 0x22, 0x02, 0x08, 0x01};
    expect_out(&plan, dup_marking, sizeof dup_marking, NULL, 0, "marking twice");
    /* registered_address twice inside the second vehicle, redacted */
    static const uint8_t dup_vaddr[] = {0x3a, 0x02, 0x0a, 0x00, 0x3a, 0x04, 0x4a, 0x00, 0x4a, 0x00};
    static const uint8_t dup_vaddr_out[] = {0x3a, 0x00, 0x3a, 0x00};
    expect_out(&plan, dup_vaddr, sizeof dup_vaddr, dup_vaddr_out, sizeof dup_vaddr_out, "registered_address twice");
    /* opaque: groups, nested, and other wire types where the plan does not
     * look (unknown numbers, marking, a C field, a redacted message) */
    static const uint8_t opaque_in[] = {0x0a, 0x01, 'r',
                                        0xa3, 0x06, 0x08, 0x01, 0xab, 0x06, 0xac, 0x06, 0xa4, 0x06, /* group 100 */
                                        0x23, 0x08, 0x01, 0x24,       /* marking as a group */
                                        0x22, 0x03, 0xff, 0xff, 0xff, /* marking: garbage inside */
                                        0x12, 0x02, 0x60, 0x01,       /* person.race (C) as a varint */
                                        0x35, 1, 2, 3, 4,             /* photo as fixed32 */
                                        0x2a, 0x02, 0x08, 0x05};      /* documents */
    static const uint8_t opaque_out[] = {0x0a, 0x01, 'r', 0x12, 0x00};
    expect_out(&plan, opaque_in, sizeof opaque_in, opaque_out, sizeof opaque_out, "opaque fields");
    /* repeated messages may repeat */
    static const uint8_t two_veh[] = {0x3a, 0x02, 0x0a, 0x00, 0x3a, 0x03, 0x0a, 0x01, 'P'};
    uint8_t *o = NULL;
    size_t n = 0;
    dmvf_error err;
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, two_veh, sizeof two_veh, &o, &n, &err), DMVF_OK);
    static const uint8_t two_veh_out[] = {0x3a, 0x00, 0x3a, 0x03, 0x0a, 0x01, 'P'};
    CHECK(o && n == sizeof two_veh_out && memcmp(o, two_veh_out, n) == 0);
    free(o);

    /* malformed bytes */
    static const uint8_t trunc[] = {0x0a, 0x05, 'a', 'b'};
    expect_fail(&plan, trunc, sizeof trunc, DMVF_EMALFORMED, 1, "length past the end");
    static const uint8_t trunc_sub[] = {0x12, 0x04, 0x0a, 0x05, 'a', 'b'};
    expect_fail(&plan, trunc_sub, sizeof trunc_sub, DMVF_EMALFORMED, 3, "length past the end of person");
    static const uint8_t group[] = {0x0a, 0x01, 'r', 0xa3, 0x06, 0x08, 0x01};
    expect_fail(&plan, group, sizeof group, DMVF_EMALFORMED, 3, "a group that does not close");
    static const uint8_t group_other[] = {0x0a, 0x01, 'r', 0xa3, 0x06, 0xac, 0x06};
    expect_fail(&plan, group_other, sizeof group_other, DMVF_EMALFORMED, 5, "a group closed by another number");
    static const uint8_t group_end[] = {0x0a, 0x01, 'r', 0xa4, 0x06};
    expect_fail(&plan, group_end, sizeof group_end, DMVF_EMALFORMED, 3, "an end of group alone");
    /* framing is checked inside an opaque field too: a group in marking
     * that does not close */
    static const uint8_t group_marking[] = {0x23, 0x08, 0x01};
    expect_fail(&plan, group_marking, sizeof group_marking, DMVF_EMALFORMED, 0, "marking as an open group");
    /* person (descended) as a group is a wrong wire type */
    static const uint8_t group_person[] = {0x13, 0x14};
    expect_fail(&plan, group_person, sizeof group_person, DMVF_EMALFORMED, 0, "person as a group");
    static const uint8_t badvarint[] = {0x40, 0xff, 0xff};
    expect_fail(&plan, badvarint, sizeof badvarint, DMVF_EMALFORMED, 1, "unterminated varint");
    static const uint8_t zero_key[] = {0x0a, 0x01, 'r', 0x02, 0x00};
    expect_fail(&plan, zero_key, sizeof zero_key, DMVF_EMALFORMED, 3, "field number 0");
    /* known fields with the wrong wire type */
    static const uint8_t wrongwt[] = {0x08, 0x01};
    expect_fail(&plan, wrongwt, sizeof wrongwt, DMVF_EMALFORMED, 0, "record_id as a varint");
    /* person.organ_donor (21) as a length-delimited value: protobuf-c would
     * read a bool from it; dmvfilter refuses, even where the plan redacts it */
    static const uint8_t boollen[] = {0x0a, 0x01, 'r', 0x12, 0x03, 0xaa, 0x01, 0x00};
    expect_fail(&plan, boollen, sizeof boollen, DMVF_EMALFORMED, 5, "bool as LEN");
    static const uint8_t fixedvin[] = {0x3a, 0x05, 0x25, 'V', 'I', 'N', '1'};
    expect_fail(&plan, fixedvin, sizeof fixedvin, DMVF_EMALFORMED, 2, "vehicles.vin as fixed32");
    /* a released string holding a NUL cannot go through protobuf-c */
    static const uint8_t nul_rel[] = {0x0a, 0x03, 'a', 0, 'b'};
    expect_fail(&plan, nul_rel, sizeof nul_rel, DMVF_EINVAL, 0, "NUL in a released string");
    /* ... but a redacted one can (ssn, field 14 of person) */
    static const uint8_t nul_red[] = {0x12, 0x05, 0x72, 0x03, 'a', 0, 'b'};
    CHECK_EQ_INT(dmvf__reference_record(&plan, NULL, nul_red, sizeof nul_red, &o, &n, &err), DMVF_OK);
    CHECK(o && n == 2 && o[0] == 0x12 && o[1] == 0);
    free(o);
}

/* ---- marking released (the DMV's internal use) ---- */

static void test_marking_release(void)
{
    build_record();
    plan_reset();
    act("marking", DMVF_ACT_DESCEND);
    act("marking.program", DMVF_ACT_RELEASE);
    act("marking.limited_duration", DMVF_ACT_RELEASE);
    act("documents", DMVF_ACT_DESCEND);
    act("documents.type", DMVF_ACT_RELEASE);
    dmvf_plan plan = plan_make(NULL, 0);
    plan.marking_release = 1;
    size_t n;
    uint8_t *in = pack_msg(&rec.base, &n);
    int rc;
    dmvf_error err;
    /* released marking is looked at: its pieces merge, a wrong wire type is malformed */
    static const uint8_t mk_pieces[] = {0x22, 0x02, 0x10, 0x01, 0x22, 0x04, 0x1a, 0x02, 'D', 'P'};
    static const uint8_t mk_pieces_out[] = {0x22, 0x06, 0x10, 0x01, 0x1a, 0x02, 'D', 'P'};
    expect_out(&plan, mk_pieces, sizeof mk_pieces, mk_pieces_out, sizeof mk_pieces_out, "marking in pieces");
    static const uint8_t mk_wrong[] = {0x22, 0x02, 0x15, 0x01, 0x02, 0x03, 0x04};
    expect_fail(&plan, mk_wrong, 4, DMVF_EMALFORMED, UINT64_MAX, "marking.limited_duration as fixed32 (cut)");
    static const uint8_t mk_wrong2[] = {0x22, 0x05, 0x15, 0x01, 0x02, 0x03, 0x04};
    expect_fail(&plan, mk_wrong2, sizeof mk_wrong2, DMVF_EMALFORMED, 2, "marking.limited_duration as fixed32");
    Dmv__V1__DriverRecord *r = run(&plan, NULL, in, n, &rc, &err, NULL, NULL);
    CHECK_EQ_INT(rc, DMVF_OK);
    if (r) {
        CHECK(r->marking && strcmp(r->marking->program, "AB60") == 0 && r->marking->limited_duration == 1);
        CHECK(r->marking && str_is_empty(r->marking->card_legend));
        CHECK(r->n_documents == 1 && r->documents[0]->type == DMV__V1__IDENTITY_DOCUMENT__TYPE__TYPE_CONSULAR_ID);
        CHECK(r->n_documents == 1 && str_is_empty(r->documents[0]->number));
        CHECK(r->person == NULL && r->license == NULL && str_is_empty(r->record_id));
        dmv__v1__driver_record__free_unpacked(r, NULL);
    }
    free(in);
}

/* ---- pseudonyms and encryption ---- */

static void test_keyed(void)
{
    char dir[] = "/tmp/dmvf-ref-XXXXXX";
    if (!mkdtemp(dir)) {
        CHECK_MSG(0, "mkdtemp failed");
        return;
    }
    char path[64];
    snprintf(path, sizeof path, "%s/keyring", dir);
    uint8_t seed[32];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i * 7 + 1);
    dmvf_error err;
    int rc = dmvf__keyring_create_seeded(path, seed, 1, &err);
    CHECK_MSG(rc == DMVF_OK, "seeded keyring: %s", err.msg);
    dmvf_keyring *kr = rc ? NULL : dmvf_keyring_load(path, NULL, &err);
    CHECK_MSG(kr != NULL, "keyring load: %s", err.msg);
    unlink(path);
    rmdir(dir);
    if (!kr)
        return;

    static const char *const pseudo[] = {"person.family_name", "person.aliases"};
    plan_reset();
    act("person", DMVF_ACT_DESCEND);
    act("person.family_name", DMVF_ACT_PSEUDONYMIZE)->pidx = 0;
    act("person.aliases", DMVF_ACT_PSEUDONYMIZE)->pidx = 1;
    act("license", DMVF_ACT_DESCEND);
    act("license.number", DMVF_ACT_ENCRYPT);
    act("photo", DMVF_ACT_DESCEND);
    act("photo.image", DMVF_ACT_ENCRYPT);
    dmvf_plan plan = plan_make(pseudo, 2);
    dmvf_keyctx *kc = dmvf__keyctx_create(kr, "NY0000000", pseudo, 2);
    CHECK(kc != NULL);
    if (!kc) {
        dmvf_keyring_free(kr);
        return;
    }

    build_record();
    static char *al[] = {"Doe", "Smith", "Doe"};
    person.aliases = al;
    person.n_aliases = 3;
    size_t n;
    uint8_t *in = pack_msg(&rec.base, &n);
    Dmv__V1__DriverRecord *r = run(&plan, kc, in, n, &rc, &err, NULL, NULL);
    CHECK_EQ_INT(rc, DMVF_OK);
    if (r && r->person && r->license) {
        const char *fam = r->person->family_name;
        CHECK_EQ_INT(strlen(fam), DMVF_PSEUDONYM_LEN);
        CHECK(strncmp(fam, "P0001.", 6) == 0);
        CHECK_EQ_INT(r->person->n_aliases, 3);
        if (r->person->n_aliases == 3) {
            CHECK(strlen(r->person->aliases[0]) == DMVF_PSEUDONYM_LEN);
            CHECK_EQ_STR(r->person->aliases[0], r->person->aliases[2]);
            CHECK(strcmp(r->person->aliases[0], r->person->aliases[1]) != 0);
            /* the key is per path: the same value under another path differs */
            CHECK(strcmp(r->person->aliases[0], fam) != 0);
        }
        const char *tok = r->license->number;
        CHECK(tok[0] == 'E' && strncmp(tok, "E0001.", 6) == 0);
        uint8_t plain[64];
        size_t pn = 0;
        rc = dmvf_keyring_reveal(kr, "NY0000000", tok, strlen(tok), plain, sizeof plain, &pn, &err);
        CHECK_MSG(rc == DMVF_OK, "reveal: %s", err.msg);
        CHECK(rc == DMVF_OK && pn == 8 && memcmp(plain, "D1234567", 8) == 0);
        /* bytes are encrypted too; a token is text */
        CHECK(r->photo && r->photo->image.len == dmvf__encrypt_len(sizeof image));
        if (r->photo && r->photo->image.len > 6)
            CHECK(memcmp(r->photo->image.data, "E0001.", 6) == 0);
        /* same input, same tokens */
        Dmv__V1__DriverRecord *r2 = run(&plan, kc, in, n, &rc, &err, NULL, NULL);
        CHECK(r2 && r2->person && strcmp(r2->person->family_name, fam) == 0);
        CHECK(r2 && r2->license && strcmp(r2->license->number, tok) == 0);
        dmv__v1__driver_record__free_unpacked(r2, NULL);
        /* another requester, other pseudonyms */
        dmvf_keyctx *kc2 = dmvf__keyctx_create(kr, "IL0000000", pseudo, 2);
        Dmv__V1__DriverRecord *r3 = kc2 ? run(&plan, kc2, in, n, &rc, &err, NULL, NULL) : NULL;
        CHECK(r3 && r3->person && strcmp(r3->person->family_name, fam) != 0);
        dmv__v1__driver_record__free_unpacked(r3, NULL);
        dmvf__keyctx_free(kc2);
    }
    dmv__v1__driver_record__free_unpacked(r, NULL);
    free(in);
    dmvf__keyctx_free(kc);
    dmvf_keyring_free(kr);
}

/* dmvf__normalize on its own: map and drop, then the allow list, bytes
 * compared exactly; otherwise stands in for a value not allowed. */
static void test_normalize(void)
{
    static const dmvf_norm_entry map[] = {
        {(const uint8_t *)"DP", 2, (const uint8_t *)"D", 1, 0},
        {(const uint8_t *)"FLA", 3, NULL, 0, 1},
        {(const uint8_t *)"TV", 2, (const uint8_t *)"", 0, 0},
    };
    static const dmvf_norm_value allow[] = {{(const uint8_t *)"", 0}, {(const uint8_t *)"B", 1},
                                            {(const uint8_t *)"D", 1}, {(const uint8_t *)"M", 1}};
    static const struct { const char *in; size_t n; int drop; const char *out; size_t on; } cases[] = {
        {"D", 1, 0, "D", 1}, {"DP", 2, 0, "D", 1}, {"M", 1, 0, "M", 1}, {"", 0, 0, "", 0}, {"TV", 2, 0, "", 0},
        {"FLA", 3, 1, NULL, 0}, {"dp", 2, 1, NULL, 0}, {" DP", 3, 1, NULL, 0}, {"DP ", 3, 1, NULL, 0},
        {"DP\0", 3, 1, NULL, 0}, {"D\0", 2, 1, NULL, 0}, {"fla", 3, 1, NULL, 0}, {"FLA ", 4, 1, NULL, 0},
        {"F\xe2\x80\x8bLA", 6, 1, NULL, 0}, {"Z", 1, 1, NULL, 0}, {"DPX", 3, 1, NULL, 0}, {"BB", 2, 1, NULL, 0},
    };
    dmvf_norm nm = {3, map, 4, allow, NULL};
    dmvf_fplan fp;
    memset(&fp, 0, sizeof fp);
    fp.action = DMVF_ACT_RELEASE;
    fp.norm = &nm;
    for (int with_otherwise = 0; with_otherwise < 2; with_otherwise++) {
        nm.otherwise = with_otherwise ? &allow[3] : NULL;
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            const uint8_t *v = (const uint8_t *)cases[i].in;
            size_t n = cases[i].n;
            int drop = dmvf__normalize(&fp, &v, &n);
            /* FLA is dropped by the table itself; otherwise replaces only what allow refuses */
            int want_drop = cases[i].drop && (!with_otherwise || strcmp(cases[i].in, "FLA") == 0);
            CHECK_MSG(drop == want_drop, "case %zu (otherwise %d): drop %d", i, with_otherwise, drop);
            if (drop || want_drop)
                continue;
            const char *want = cases[i].drop ? "M" : cases[i].out;
            size_t wn = cases[i].drop ? 1 : cases[i].on;
            CHECK_MSG(n == wn && memcmp(v, want, wn) == 0, "case %zu (otherwise %d): %.*s", i, with_otherwise,
                      (int)n, (const char *)v);
        }
    }
    /* no allow list: only the table applies */
    nm.nallow = 0;
    nm.otherwise = NULL;
    const uint8_t *v = (const uint8_t *)"dp";
    size_t n = 2;
    CHECK_EQ_INT(dmvf__normalize(&fp, &v, &n), 0);
    CHECK(n == 2 && memcmp(v, "dp", 2) == 0);
    v = (const uint8_t *)"FLA";
    n = 3;
    CHECK_EQ_INT(dmvf__normalize(&fp, &v, &n), 1);
    /* no table: nothing happens */
    fp.norm = NULL;
    v = (const uint8_t *)"DP";
    n = 2;
    CHECK_EQ_INT(dmvf__normalize(&fp, &v, &n), 0);
    CHECK(n == 2 && memcmp(v, "DP", 2) == 0);
    /* the order tables are sorted in: bytes, then length */
    CHECK(dmvf__norm_cmp((const uint8_t *)"D", 1, (const uint8_t *)"DP", 2) < 0);
    CHECK(dmvf__norm_cmp((const uint8_t *)"", 0, (const uint8_t *)"A", 1) < 0);
    CHECK(dmvf__norm_cmp((const uint8_t *)"CDL-A", 5, (const uint8_t *)"D", 1) < 0);
    CHECK(dmvf__norm_cmp((const uint8_t *)"D\0", 2, (const uint8_t *)"D", 1) > 0);
    CHECK_EQ_INT(dmvf__norm_cmp((const uint8_t *)"FLA", 3, (const uint8_t *)"FLA", 3), 0);
}

int main(void)
{
    test_normalize();
    test_full();
    test_defaults();
    test_unknown();
    test_refusals();
    test_marking_release();
    test_keyed();
    CHECK_DONE();
}
