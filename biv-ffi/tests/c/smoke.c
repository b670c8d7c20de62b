/*
 * C smoke test of the biv C ABI, built against include/biv.h and linked with the biv-ffi cdylib
 * by tests/c_abi.rs. Prints one line per check and exits 0 only if every check passed.
 *
 * BIV_EXPECTED_VERSION is passed by the driver (-D) and equals biv-ffi's Cargo.toml version.
 */
#include <stdio.h>
#include <string.h>

#include "biv.h"

#ifndef BIV_EXPECTED_VERSION
#error "compile with -DBIV_EXPECTED_VERSION=\"x.y.z\""
#endif

static int failures = 0;

#define CHECK(cond, what)                                 \
    do {                                                  \
        if (cond) {                                       \
            printf("ok: %s\n", what);                     \
        } else {                                          \
            printf("FAILED: %s (line %d)\n", what, __LINE__); \
            failures++;                                   \
        }                                                 \
    } while (0)

static void check_version(void) {
    const char *version = biv_version();
    CHECK(version != NULL, "biv_version is not NULL");
    CHECK(version != NULL && strcmp(version, BIV_EXPECTED_VERSION) == 0,
          "biv_version equals the crate version");
}

static void check_result_message(void) {
    char buf[128];
    size_t n = 0;
    biv_result rc;

    memset(buf, 'x', sizeof buf);
    rc = biv_result_message(BIV_NULL_PARAMETER, buf, sizeof buf, &n);
    CHECK(rc == BIV_OK, "biv_result_message succeeds with a large buffer");
    CHECK(strcmp(buf, "a required pointer parameter was NULL") == 0,
          "the text of BIV_NULL_PARAMETER");
    CHECK(n == strlen(buf), "out_n is the length before the NUL");

    rc = biv_result_message(BIV_OK, buf, sizeof buf, &n);
    CHECK(rc == BIV_OK && strcmp(buf, "success") == 0, "the text of BIV_OK");

    /* A code this version does not define: generic text, never undefined behaviour. */
    rc = biv_result_message(4242424242u, buf, sizeof buf, &n);
    CHECK(rc == BIV_OK && strcmp(buf, "unknown result code") == 0, "an unknown code");

    /* Too small: nothing written, out_n = size needed including the NUL. */
    {
        char tiny[4];
        memset(tiny, 'x', sizeof tiny);
        n = 0;
        rc = biv_result_message(BIV_OK, tiny, sizeof tiny, &n);
        CHECK(rc == BIV_INSUFFICIENT_SIZE, "a 4-byte buffer is too small");
        CHECK(n == strlen("success") + 1, "out_n is the size needed including the NUL");
        CHECK(memcmp(tiny, "xxxx", 4) == 0, "the small buffer is untouched");

        /* Retry with exactly the size asked for. */
        {
            char exact[sizeof "success"];
            size_t needed = n;
            rc = biv_result_message(BIV_OK, exact, needed, &n);
            CHECK(rc == BIV_OK && strcmp(exact, "success") == 0, "the retry with out_n bytes");
        }
    }

    /* Size query: NULL buffer with length 0. */
    n = 0;
    rc = biv_result_message(BIV_PANIC, NULL, 0, &n);
    CHECK(rc == BIV_INSUFFICIENT_SIZE && n > 1, "a NULL buffer of length 0 asks for the size");

    /* NULL handling. */
    rc = biv_result_message(BIV_OK, buf, sizeof buf, NULL);
    CHECK(rc == BIV_NULL_PARAMETER, "a NULL out_n is BIV_NULL_PARAMETER");
    n = 12345;
    rc = biv_result_message(BIV_OK, NULL, sizeof buf, &n);
    CHECK(rc == BIV_NULL_PARAMETER, "a NULL buffer with a length is BIV_NULL_PARAMETER");
    CHECK(n == 12345, "out_n is not written on failure");
}

static void check_last_error_message(void) {
    char buf[256];
    size_t n = 99;
    biv_result rc;

    memset(buf, 'x', sizeof buf);
    rc = biv_last_error_message(buf, sizeof buf, &n);
    CHECK(rc == BIV_OK, "biv_last_error_message succeeds");
    CHECK(n == 0 && buf[0] == '\0', "no detail before any failure");

    rc = biv_last_error_message(buf, sizeof buf, NULL);
    CHECK(rc == BIV_NULL_PARAMETER, "biv_last_error_message with a NULL out_n");
}

int main(void) {
    check_version();
    check_result_message();
    check_last_error_message();
    if (failures != 0) {
        printf("%d check(s) failed\n", failures);
        return 1;
    }
    printf("all checks passed\n");
    return 0;
}
