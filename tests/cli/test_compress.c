/*
 * test_compress.c - a gzip member's bytes do not depend on where its
 * encoder lives in memory.
 *
 * ISA-L 2.30's level 1 and 2 body hashes a stream's third byte from the
 * isal_zstream's address (bits 16..47, as the crc32c of a 4-byte word; see
 * isal_piece in filter/cli/compress.c): an encoder whose address hashes to
 * the bucket of the input's first four bytes hides position 0 from the
 * first repeat of those bytes, and the member comes out other bytes (it
 * decompresses right). With ASLR and one encoder a worker, the same
 * release then came out other bytes now and then, and --threads N changed
 * them. This test links with --wrap=calloc,--wrap=free (CMakeLists.txt) so
 * that it can put an encoder at a chosen address: across 65536 windows 64
 * KiB apart, it picks those whose address hashes to that bucket, and a
 * spread of others, and checks at each ISA-L level that every placement
 * gives the same bytes, and that they decompress to the input. A raw
 * isal_deflate at the same places shows whether the library still has the
 * quirk (a note, not a check: a fixed library is not an error here).
 */
#include <stdint.h>
#include <sys/mman.h>
#include <unistd.h>
#include <zlib.h>
#ifdef DMVF_HAVE_ISAL
#include <isa-l/igzip_lib.h>
#endif
#include "check.h"
#include "filter/cli/compress.h"

void *__real_calloc(size_t n, size_t size);
void __real_free(void *p);

static unsigned char *region;   /* the reserved address range */
static size_t region_len;
static unsigned char *place_at; /* the next calloc's address, when set */
static size_t place_room;

void *__wrap_calloc(size_t n, size_t size);
void __wrap_free(void *p);

void *__wrap_calloc(size_t n, size_t size)
{
    if (place_at && size && n <= place_room / size) {
        void *p = place_at;
        place_at = NULL;
        memset(p, 0, n * size);
        return p;
    }
    return __real_calloc(n, size);
}

void __wrap_free(void *p)
{
    if (region && (unsigned char *)p >= region && (unsigned char *)p < region + region_len)
        return; /* placed: the window is dropped by the test */
    __real_free(p);
}

#define WINDOW ((size_t)1 << 16)
#define WINDOWS 65536u
#define ROOM ((size_t)1 << 20) /* the most a placed object may take */
#define DATA_LEN 65536u

/* The x86 crc32 instruction's CRC (crc32c, reflected, no inversion), as
 * ISA-L's compute_hash uses it: one 32-bit word, initial value 0. */
static uint32_t crc32c_word(uint32_t w)
{
    uint32_t c = 0;
    for (int i = 0; i < 4; i++) {
        c ^= (w >> (8 * i)) & 0xff;
        for (int k = 0; k < 8; k++)
            c = (c >> 1) ^ (0x82F63B78u & (0u - (c & 1)));
    }
    return c;
}

/* A record-like stream: each line starts "REC:", so the first bytes come
 * back at once, and the rest varies (an LCG), so little else matches. */
static void make_data(unsigned char *d, size_t n)
{
    uint32_t x = 12345;
    size_t i = 0;
    while (i < n) {
        char line[64];
        x = x * 1103515245u + 12345u;
        int k = snprintf(line, sizeof line, "REC:%08x;%u;%c\n", x, (x >> 7) % 9973, 'A' + (int)(x % 26));
        for (int j = 0; j < k && i < n; j++)
            d[i++] = (unsigned char)line[j];
    }
}

static unsigned char *window(unsigned k)
{
    return region + (size_t)k * WINDOW + 64;
}

/* Makes [p, p + ROOM) usable (rounded to pages) or drops it again. */
static int open_window(unsigned char *p, int open)
{
    size_t pg = (size_t)sysconf(_SC_PAGESIZE);
    unsigned char *a = (unsigned char *)((uintptr_t)p & ~(uintptr_t)(pg - 1));
    size_t len = (size_t)(p - a) + ROOM;
    len = (len + pg - 1) & ~(pg - 1);
    if (!open)
        madvise(a, len, MADV_DONTNEED);
    return mprotect(a, len, open ? PROT_READ | PROT_WRITE : PROT_NONE);
}

static int inflates_to(const unsigned char *gz, size_t n, const unsigned char *want, size_t want_len)
{
    unsigned char *out = malloc(want_len + 1);
    z_stream z;
    memset(&z, 0, sizeof z);
    if (!out || inflateInit2(&z, 15 + 16) != Z_OK) {
        free(out);
        return 0;
    }
    z.next_in = (unsigned char *)(uintptr_t)gz;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)want_len + 1;
    int r = inflate(&z, Z_FINISH);
    int ok = r == Z_STREAM_END && z.avail_in == 0 && z.total_out == want_len && memcmp(out, want, want_len) == 0;
    inflateEnd(&z);
    free(out);
    return ok;
}

/* One member of data through an encoder placed at p: its bytes in *gz. */
static int member_at(unsigned char *p, int level, const unsigned char *data, size_t n, unsigned char **gz,
                     size_t *gz_len)
{
    if (open_window(p, 1) != 0)
        return -1;
    dmvf_cz_opts o = {DMVF_CZ_GZIP, level, DMVF_CZ_ISAL};
    int err = 0;
    place_at = p;
    place_room = ROOM;
    dmvf_cz_enc *e = dmvf__cz_enc_create(&o, &err);
    int placed = place_at == NULL && (unsigned char *)e == p;
    place_at = NULL;
    size_t cap = 0;
    *gz = NULL;
    *gz_len = 0;
    int r = e ? dmvf__cz_enc_member(e, data, n, gz, &cap, gz_len) : -1;
    dmvf__cz_enc_free(e);
    open_window(p, 0);
    return placed && r == 0 ? 0 : -1;
}

#ifdef DMVF_HAVE_ISAL
/* The library alone, one call, its stream placed at p (the quirk's note). */
static int raw_isal_at(unsigned char *p, unsigned char *lb, const unsigned char *data, size_t n,
                       unsigned char *out, size_t cap, size_t *len)
{
    if (sizeof(struct isal_zstream) > ROOM || open_window(p, 1) != 0)
        return -1;
    struct isal_zstream *s = (struct isal_zstream *)(void *)p;
    isal_deflate_init(s);
    s->level = 1;
    s->level_buf = lb;
    s->level_buf_size = ISAL_DEF_LVL1_DEFAULT;
    s->gzip_flag = IGZIP_GZIP;
    s->flush = NO_FLUSH;
    s->end_of_stream = 1;
    s->next_in = (uint8_t *)(uintptr_t)data;
    s->avail_in = (uint32_t)n;
    s->next_out = out;
    s->avail_out = (uint32_t)cap;
    int r = isal_deflate(s);
    int done = s->internal_state.state == ZSTATE_END;
    *len = cap - s->avail_out;
    open_window(p, 0);
    return r == COMP_OK && done ? 0 : -1;
}
#endif

int main(void)
{
    if (!dmvf__cz_have_isal()) {
        printf("this build has no ISA-L: nothing to place\n");
        CHECK(1);
        CHECK_DONE();
    }
    region_len = (size_t)WINDOWS * WINDOW + WINDOW + ROOM;
    unsigned char *raw = mmap(NULL, region_len + WINDOW, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
    CHECK(raw != MAP_FAILED);
    if (raw == MAP_FAILED)
        CHECK_DONE();
    region = (unsigned char *)(((uintptr_t)raw + WINDOW - 1) & ~(uintptr_t)(WINDOW - 1));

    unsigned char *data = malloc(DATA_LEN);
    CHECK(data != NULL);
    make_data(data, DATA_LEN);
    uint32_t first = (uint32_t)data[0] | (uint32_t)data[1] << 8 | (uint32_t)data[2] << 16 | (uint32_t)data[3] << 24;
    const uint32_t mask = 8191; /* ISA-L's level 1 and 2 hash for inputs of 8 KiB and more */
    uint32_t target = crc32c_word(first) & mask;

    /* the windows: those that hash to the first bytes' bucket, and others */
    static unsigned picks[WINDOWS];
    unsigned hits = 0, npick = 0;
    for (unsigned k = 0; k < WINDOWS; k++)
        if ((crc32c_word((uint32_t)((uintptr_t)window(k) >> 16)) & mask) == target)
            picks[npick++] = k, hits++;
    for (unsigned k = 0; k < WINDOWS; k += WINDOWS / 32)
        picks[npick++] = k + 7;
    CHECK_MSG(hits > 0, "no window of %u hashes to bucket %u", WINDOWS, target);
    printf("%u windows hash to the first bytes' bucket, %u others\n", hits, npick - hits);

    const int levels[] = {0, 1, 2, 6}; /* ISA-L levels 0, 1, 2, 3 */
    for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
        unsigned char *ref = NULL;
        size_t ref_len = 0;
        unsigned same = 0, differ = 0, failed = 0;
        /* the reference: an encoder where malloc puts it */
        dmvf_cz_opts o = {DMVF_CZ_GZIP, levels[li], DMVF_CZ_ISAL};
        int err = 0;
        dmvf_cz_enc *e = dmvf__cz_enc_create(&o, &err);
        size_t cap = 0;
        CHECK(e && dmvf__cz_enc_member(e, data, DATA_LEN, &ref, &cap, &ref_len) == 0);
        dmvf__cz_enc_free(e);
        CHECK_MSG(inflates_to(ref, ref_len, data, DATA_LEN), "level %d: the member does not inflate to the input",
                  levels[li]);
        for (unsigned i = 0; i < npick; i++) {
            unsigned char *gz;
            size_t n;
            if (member_at(window(picks[i]), levels[li], data, DATA_LEN, &gz, &n) != 0) {
                failed++;
            } else if (n == ref_len && memcmp(gz, ref, n) == 0) {
                same++;
            } else {
                differ++;
                if (differ <= 3)
                    fprintf(stderr, "level %d: the encoder at %p wrote %zu bytes, other than the %zu at home\n",
                            levels[li], (void *)window(picks[i]), n, ref_len);
                CHECK(inflates_to(gz, n, data, DATA_LEN));
            }
            free(gz);
        }
        CHECK_MSG(failed == 0, "level %d: %u placements failed (not placed, or no member)", levels[li], failed);
        CHECK_MSG(differ == 0, "level %d: %u of %u placements gave other bytes", levels[li], differ, npick);
        CHECK_EQ_INT(same, npick);
        free(ref);
    }

    /* members around the first call's 17 bytes and past one piece: each
     * inflates to its input, and feeding it in small updates gives the
     * bytes of one update (a member depends on its bytes alone) */
    const size_t sizes[] = {0, 1, 2, 16, 17, 18, 19, 33, 300, 4096, DMVF_CZ_PIECE, DMVF_CZ_PIECE + 5};
    unsigned char *big = malloc(DMVF_CZ_PIECE + 5);
    CHECK(big != NULL);
    for (size_t i = 0; i < DMVF_CZ_PIECE + 5; i += DATA_LEN)
        memcpy(big + i, data, DMVF_CZ_PIECE + 5 - i < DATA_LEN ? DMVF_CZ_PIECE + 5 - i : DATA_LEN);
    for (size_t li = 0; li < sizeof levels / sizeof levels[0]; li++) {
        for (size_t si = 0; si < sizeof sizes / sizeof sizes[0]; si++) {
            size_t n = sizes[si];
            dmvf_cz_opts o = {DMVF_CZ_GZIP, levels[li], DMVF_CZ_ISAL};
            int err = 0;
            dmvf_cz_enc *e = dmvf__cz_enc_create(&o, &err);
            unsigned char *one = NULL, *many = NULL;
            size_t one_cap = 0, one_len = 0, many_cap = 0, many_len = 0;
            CHECK(e && dmvf__cz_enc_member(e, big, n, &one, &one_cap, &one_len) == 0);
            CHECK_MSG(inflates_to(one, one_len, big, n), "level %d, %zu bytes: does not inflate to the input",
                      levels[li], n);
            /* the same encoder again, in updates of 1 byte, then 7, then the rest */
            int r = 0;
            size_t pos = 0;
            for (size_t step = 1; pos < n && r == 0; step = step == 1 ? 7 : n) {
                size_t k = n - pos < step ? n - pos : step;
                r = dmvf__cz_enc_update(e, big + pos, k, &many, &many_cap, &many_len);
                pos += k;
            }
            CHECK(r == 0 && dmvf__cz_enc_end(e, &many, &many_cap, &many_len) == 0);
            CHECK_MSG(many_len == one_len && memcmp(many, one, one_len) == 0,
                      "level %d, %zu bytes: updates gave %zu bytes, one call %zu", levels[li], n, many_len,
                      one_len);
            dmvf__cz_enc_free(e);
            free(one);
            free(many);
        }
    }
    free(big);

#ifdef DMVF_HAVE_ISAL
    /* the library alone at the same windows: is the quirk still there? */
    unsigned char *lb = malloc(ISAL_DEF_LVL1_DEFAULT);
    size_t cap = DATA_LEN * 2 + 1024, home_len = 0;
    unsigned char *home = malloc(cap), *out = malloc(cap);
    unsigned quirk = 0;
    CHECK(lb && home && out);
    CHECK(raw_isal_at(window(picks[hits]), lb, data, DATA_LEN, home, cap, &home_len) == 0);
    for (unsigned i = 0; i < hits; i++) {
        size_t n;
        if (raw_isal_at(window(picks[i]), lb, data, DATA_LEN, out, cap, &n) == 0 &&
            (n != home_len || memcmp(out, home, n) != 0))
            quirk++;
    }
    printf("raw isal_deflate (level 1): %u of %u hashed windows gave other bytes%s\n", quirk, hits,
           quirk ? " (the library's quirk, worked around in compress.c)" : "");
    free(lb);
    free(home);
    free(out);
#endif
    free(data);
    munmap(raw, region_len + WINDOW);
    CHECK_DONE();
}
