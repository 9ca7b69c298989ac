/* fuzz_resp.c — libFuzzer target for the RESP request parser (src/server/resp.c),
 * the code every byte a network client sends goes through first.
 *
 * Input: one control byte, then the byte stream a client would send.
 *   bit 0:    the client is authenticated (else Redis's tighter pre-AUTH limits)
 *   bit 1:    structured: the rest is arguments separated by 0xff bytes, sent as
 *             one well-formed multibulk request followed by the raw rest (so deep
 *             parser states are reached without a seed corpus)
 *   bits 2-7: chunk size for the second pass (1..64 bytes per "read")
 * The stream is parsed twice, as the server does it (parse, run each complete
 * request, drop its bytes, keep the partial rest): once whole, once fed in chunks.
 * Checked: every argument lies inside its request; every request consumes bytes
 * (no endless loop); both passes see the same requests with the same arguments and
 * stop at the same error. The replies are then built from the arguments with every
 * reply writer, so those run on hostile bytes too. Limits are small (bulk 4096,
 * 64 arguments) so that they are reached.
 *
 * Build: make test builds it (STRATA_FUZZ=ON, tests/fuzz/CMakeLists.txt). */
#include "server/server.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

typedef struct digest { uint64_t h; size_t commands; int err; } digest;

static void mix(digest *d, const void *p, size_t n) {
    const unsigned char *b = p;
    for (size_t i = 0; i < n; i++) d->h = (d->h ^ b[i]) * 1099511628211ull;
}

static void replies(resp_parser *p, const char *req) {
    rbuf b = { 0 };
    rb_array(&b, p->argc);
    for (size_t i = 0; i < p->argc; i++) {
        const char *a = req + p->argv[i].off;
        size_t n = p->argv[i].len;
        rb_bulk(&b, a, n);
        if (n < 256) {
            char tmp[257];
            memcpy(tmp, a, n);
            tmp[n] = 0;
            rb_simple(&b, tmp);
            rb_error(&b, "ERR %s", tmp);
            rb_cstr(&b, tmp);
        }
        rb_int(&b, (long long)n);
        rb_verbatim(&b, a, n, (int)(i % 2) + 2);
    }
    rb_map(&b, p->argc, 3);
    rb_set(&b, p->argc, 2);
    rb_null(&b, 2);
    rb_null(&b, 3);
    rb_null_array(&b, 2);
    free(b.p);
}

/* Parse `in` as the server would, `chunk` bytes arriving at a time (0: all). */
static digest run(const uint8_t *in, size_t size, size_t chunk, int authed) {
    digest d = { 1469598103934665603ull, 0, 0 };
    resp_limits lim = { 4096, 64, authed };
    resp_parser p;
    resp_init(&p);
    char *buf = malloc(size + 1);
    if (!buf) abort();
    size_t have = 0, fed = 0, start = 0;
    for (;;) {
        if (fed < size) {
            size_t n = chunk && size - fed > chunk ? chunk : size - fed;
            memcpy(buf + have, in + fed, n);
            have += n;
            fed += n;
        }
        for (;;) {
            const char *err = NULL;
            char *req = buf + start;
            int multibulk = have > start && req[0] == '*'; /* (an inline request is unescaped in place) */
            int rc = resp_parse(&p, req, have - start, &lim, &err);
            if (rc == RESP_NEED) break;
            if (rc != RESP_CMD) {
                if (rc != RESP_ERR || !err || strncmp(err, "Protocol error: ", 16) != 0) abort();
                d.err = 1;
                mix(&d, err, strlen(err));
                goto done;
            }
            if (p.pos == 0 || p.pos > have - start) abort(); /* progress, and within the bytes */
            for (size_t i = 0; i < p.argc; i++)
                if (p.argv[i].off > p.pos || p.argv[i].len > p.pos - p.argv[i].off) abort();
            if (multibulk && p.argc > lim.max_args) abort();
            d.commands++;
            mix(&d, &p.argc, sizeof p.argc);
            for (size_t i = 0; i < p.argc; i++) mix(&d, req + p.argv[i].off, p.argv[i].len);
            replies(&p, req);
            start += p.pos;
            resp_reset(&p);
        }
        if (fed == size) break;
        /* drop what was consumed, as the server's query buffer does */
        memmove(buf, buf + start, have - start);
        have -= start;
        start = 0;
    }
done:
    resp_free(&p);
    free(buf);
    return d;
}

/* arguments separated by 0xff -> "*N\r\n$L\r\n...\r\n" + a copy of the input */
static uint8_t *structured(const uint8_t *in, size_t n, size_t *out_len) {
    size_t args = 1;
    for (size_t i = 0; i < n; i++) args += in[i] == 0xff;
    uint8_t *out = malloc(32 + args * 32 + 2 * n);
    if (!out) abort();
    size_t o = (size_t)sprintf((char *)out, "*%zu\r\n", args), start = 0;
    for (size_t i = 0; i <= n; i++) {
        if (i < n && in[i] != 0xff) continue;
        o += (size_t)sprintf((char *)out + o, "$%zu\r\n", i - start);
        memcpy(out + o, in + start, i - start);
        o += i - start;
        out[o++] = '\r';
        out[o++] = '\n';
        start = i + 1;
    }
    memcpy(out + o, in, n);
    *out_len = o + n;
    return out;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > (1u << 15)) return 0;
    int authed = data[0] & 1;
    size_t chunk = (size_t)(data[0] >> 2) + 1;
    const uint8_t *in = data + 1;
    size_t n = size - 1;
    uint8_t *built = NULL;
    if (data[0] & 2) in = built = structured(data + 1, size - 1, &n);
    digest whole = run(in, n, 0, authed);
    digest parts = run(in, n, chunk, authed);
    free(built);
    /* Inline requests end at a newline: a chunked feed may stop earlier than the
     * whole one only where the stream itself ends (both runs agree on the rest). */
    if (whole.commands != parts.commands || whole.err != parts.err || whole.h != parts.h) abort();
    return 0;
}
