/*
 * fuzz_rundoc.c - libFuzzer target for the run-document parser
 * (bnb_rundoc_parse, db/rundoc.h): the text `bnbench serve` takes from the
 * network and `bnbench import` from files. Any input must give 0 with a
 * document that keeps the contract's invariants (a UUID of 36 characters, a
 * machine name and fingerprint that are not empty, at least one case), or
 * -1 with no document and a terminated message naming the problem: never a
 * crash, a leak or an out-of-bounds access under AddressSanitizer. The seed
 * corpus tests/fuzz/corpus/rundoc/ holds documents exported from real runs
 * (bnbench run --quick, then export --format run) and a few bad ones.
 *
 * Build (libFuzzer; the parser needs cJSON and the model layer, no SQLite):
 *   clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Iengine/include \
 *     tests/fuzz/fuzz_rundoc.c db/rundoc.c db/names.c db/model/result.c \
 *     db/model/text.c $(pkg-config --cflags --libs libcjson) -lm \
 *     -o build/fuzz/fuzz_rundoc
 *   build/fuzz/fuzz_rundoc -max_total_time=600 tests/fuzz/corpus/rundoc
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "db/rundoc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    bnb_rundoc *d = (bnb_rundoc *)&d; /* must come back NULL on failure */
    char err[BNB_ERR_MAX];
    memset(err, 0x55, sizeof err);
    if (bnb_rundoc_parse((const char *)data, size, &d, err) != 0) {
        if (d != NULL || !memchr(err, '\0', sizeof err) || err[0] == '\0')
            abort(); /* a refused document: no result, a terminated, non-empty message */
        return 0;
    }
    if (!d || strlen(bnb_rundoc_uuid(d)) != 36 || !bnb_rundoc_machine(d)[0] ||
        !bnb_rundoc_fingerprint(d)[0] || bnb_rundoc_ncases(d) < 1)
        abort();
    bnb_rundoc_free(d);
    return 0;
}
