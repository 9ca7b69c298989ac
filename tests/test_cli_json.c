/* test_cli_json.c — the CLI's output helpers (cli/util.c) on their own: JSON string
 * escaping of any bytes (control characters, quotes, invalid UTF-8), the JSON writer's
 * commas, one-line compaction of stored JSON, ISO-8601 times and message quoting.
 * Random byte strings, once escaped, must be valid JSON per strata_json_valid().
 * cli/util.c is compiled into this test so that no store is needed. */
#include "test.h"

#include "../cli/util.c"

static char *buf;
static size_t buf_len;
static FILE *real_stdout;

/* Capture what the helpers write to stdout. */
static void capture_begin(void)
{
    fflush(stdout);
    real_stdout = stdout;
    stdout = open_memstream(&buf, &buf_len);
    if (!stdout)
        abort();
}

static const char *capture_end(void)
{
    fclose(stdout);
    stdout = real_stdout;
    return buf;
}

static void check_escape(const char *in, size_t len, const char *want)
{
    capture_begin();
    cli_json_escape(in, len);
    const char *got = capture_end();
    if (strcmp(got, want) == 0) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "escape: got \"%s\", want \"%s\"\n", got, want);
    }
    free(buf);
}
#define ESC(lit, want) check_escape(lit, sizeof lit - 1, want)

static void check_output(const char *got, const char *want, const char *what)
{
    if (strcmp(got, want) == 0) {
        t_passed++;
    } else {
        t_failed++;
        fprintf(stderr, "%s: got \"%s\", want \"%s\"\n", what, got, want);
    }
}

static void test_escape(void)
{
    ESC("plain", "plain");
    ESC("a\"b\\c/d", "a\\\"b\\\\c/d");
    ESC("\n\t\r\b\f", "\\n\\t\\r\\b\\f");
    ESC("\x01\x1f\x7f", "\\u0001\\u001f\\u007f");
    ESC("nul\0in", "nul\\u0000in");
    ESC("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80", "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80");
    ESC("\xff", "\\ufffd");
    ESC("\x80x", "\\ufffdx");
    ESC("\xc0\xaf", "\\ufffd\\ufffd");             /* overlong '/' */
    ESC("\xe0\x80\xaf", "\\ufffd\\ufffd\\ufffd");   /* overlong, 3 bytes */
    ESC("\xed\xa0\x80", "\\ufffd\\ufffd\\ufffd");   /* a UTF-16 surrogate */
    ESC("\xf4\x90\x80\x80", "\\ufffd\\ufffd\\ufffd\\ufffd"); /* past U+10FFFF */
    ESC("\xe2\x82", "\\ufffd\\ufffd");              /* cut short */
    ESC("\xe2\x82x", "\\ufffd\\ufffdx");
    ESC("\xe2\x80\xa8\xe2\x80\xa9", "\\u2028\\u2029");
}

/* Whatever the bytes, a quoted escaped string is valid JSON. */
static void test_escape_random(void)
{
    unsigned seed = 12345;
    int bad = 0;
    for (int round = 0; round < 20000; round++) {
        char in[24];
        size_t len = (size_t)(round % 24);
        for (size_t i = 0; i < len; i++) {
            seed = seed * 1103515245u + 12345u;
            unsigned r = seed >> 16;
            /* Favour the interesting ranges: ASCII controls, UTF-8 lead and tail bytes. */
            in[i] = (char)(r % 3 == 0 ? (r >> 2) % 0x20 : r % 3 == 1 ? 0x80 + (r >> 2) % 0x80 : r >> 4);
        }
        capture_begin();
        putchar('"');
        cli_json_escape(in, len);
        putchar('"');
        const char *got = capture_end();
        if (!strata_json_valid(got, buf_len) && bad++ < 5)
            fprintf(stderr, "escaped random string is not valid JSON: %s\n", got);
        free(buf);
    }
    CHECK(bad == 0);
}

static void test_writer(void)
{
    struct cli_json j;
    cli_json_init(&j);
    capture_begin();
    cli_json_object_begin(&j);
    cli_json_key(&j, "a");
    cli_json_array_begin(&j);
    cli_json_int(&j, -1);
    cli_json_uint(&j, UINT64_MAX);
    cli_json_object_begin(&j);
    cli_json_key(&j, "b\n");
    cli_json_null(&j);
    cli_json_key(&j, "raw");
    cli_json_raw(&j, " {\"x\": [1, 2]} ");
    cli_json_object_end(&j);
    cli_json_array_begin(&j);
    cli_json_array_end(&j);
    cli_json_array_end(&j);
    cli_json_key(&j, "c");
    cli_json_string(&j, "d\xff");
    cli_json_key(&j, "empty");
    cli_json_raw(&j, "");
    cli_json_object_end(&j);
    const char *got = capture_end();
    check_output(got,
                 "{\"a\":[-1,18446744073709551615,{\"b\\n\":null,\"raw\": {\"x\": [1, 2]} },[]],"
                 "\"c\":\"d\\ufffd\",\"empty\":null}\n",
                 "writer");
    CHECK(strata_json_valid(got, buf_len));
    free(buf);

    cli_json_init(&j);
    capture_begin();
    cli_json_array_begin(&j);
    cli_json_array_end(&j);
    check_output(capture_end(), "[]\n", "empty array");
    free(buf);
}

static void test_compact(void)
{
    capture_begin();
    cli_put_json_compact("{ \"a\" : \"x y\\\" z\\\\\" ,\n\t\"b\":[1, 2],\r\n \"c\": \"\\u0020 \" }");
    check_output(capture_end(), "{\"a\":\"x y\\\" z\\\\\",\"b\":[1,2],\"c\":\"\\u0020 \"}", "compact");
    free(buf);
    capture_begin();
    cli_put_json_compact("\"a\x01\"");   /* not JSON: still one line */
    check_output(capture_end(), "\"a\\x01\"", "compact of a control byte");
    free(buf);
}

static void test_text_and_time(void)
{
    capture_begin();
    cli_put_text("k\tv\nw\\");
    check_output(capture_end(), "k\\x09v\\x0aw\\", "text");
    free(buf);

    const struct { int64_t ms; const char *want; } times[] = {
        { 0, "1970-01-01T00:00:00.000Z" },
        { -1, "1969-12-31T23:59:59.999Z" },
        { 1700000000123, "2023-11-14T22:13:20.123Z" },
        { INT64_MAX, "292278994-08-17T07:12:55.807Z" }, /* gmtime copes */
    };
    for (size_t i = 0; i < sizeof times / sizeof times[0]; i++) {
        capture_begin();
        cli_put_time(times[i].ms);
        check_output(capture_end(), times[i].want, "time");
        free(buf);
    }

    check_output(cli_q("a\nb"), "a\\x0ab", "cli_q");
    char longer[300];
    memset(longer, 'k', sizeof longer - 1);
    longer[sizeof longer - 1] = '\0';
    CHECK(strlen(cli_q(longer)) < 200);
}

/* Ids are any bytes: human output escapes controls and non-UTF-8, JSON stays valid. */
static void test_bytes(void)
{
    static const char id[] = "a\tb\0c\xff caf\xc3\xa9 \x7f\xe2\x82";
    capture_begin();
    cli_put_bytes(id, sizeof id - 1);
    check_output(capture_end(), "a\\x09b\\x00c\\xff caf\xc3\xa9 \\x7f\\xe2\\x82", "put_bytes");
    free(buf);

    struct cli_json j;
    cli_json_init(&j);
    capture_begin();
    cli_json_array_begin(&j);
    cli_json_string_n(&j, id, sizeof id - 1);
    cli_json_hex(&j, "\x00\x01\xab\xff", 4);
    cli_json_bool(&j, 1);
    cli_json_bool(&j, 0);
    cli_json_array_end(&j);
    const char *got = capture_end();
    check_output(got, "[\"a\\tb\\u0000c\\ufffd caf\xc3\xa9 \\u007f\\ufffd\\ufffd\",\"0001abff\",true,false]\n",
                 "string_n, hex, bool");
    CHECK(strata_json_valid(got, buf_len));
    free(buf);

    capture_begin();
    cli_put_hex("", 0);
    check_output(capture_end(), "", "empty hex");
    free(buf);

    CHECK(cli_json_is_object("{}"));
    CHECK(cli_json_is_object(" \n{\"a\": [1]} "));
    CHECK(!cli_json_is_object("[1]"));
    CHECK(!cli_json_is_object("\"x\""));
    CHECK(!cli_json_is_object("{\"a\":"));
    CHECK(!cli_json_is_object(""));
    CHECK(!cli_json_is_object("{} {}"));
}

int main(void)
{
    test_escape();
    test_escape_random();
    test_writer();
    test_compact();
    test_text_and_time();
    test_bytes();
    return t_done();
}
