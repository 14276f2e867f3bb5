/*
 * standalone.c - the fuzz driver for machines without libFuzzer (clang's
 * -fsanitize=fuzzer): linked with one fuzz target of tests/fuzz/, it replays
 * every file of a corpus directory, then runs ITERATIONS mutations of them
 * (byte flips, inserted NULs and option-like or non-UTF-8 bytes,
 * truncation) from a fixed seed, so a run is reproducible. A target reports
 * a broken invariant by aborting, as under libFuzzer. Built with ASan and
 * UBSan by `make fuzz-short`.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static uint64_t rng = 0x9e3779b97f4a7c15u;
static uint64_t next(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return rng;
}

int main(int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: %s CORPUS_DIR ITERATIONS\n", argv[0]);
        return 2;
    }
    long iters = strtol(argv[2], NULL, 10);
    DIR *d = opendir(argv[1]);
    if (!d) {
        perror(argv[1]);
        return 2;
    }
    uint8_t *seeds[256];
    size_t lens[256];
    int nseed = 0;
    struct dirent *e;
    while ((e = readdir(d)) && nseed < 256) {
        char p[4096];
        snprintf(p, sizeof p, "%s/%s", argv[1], e->d_name);
        FILE *f = e->d_name[0] == '.' ? NULL : fopen(p, "rb");
        if (!f)
            continue;
        uint8_t *b = malloc(8192);
        size_t n = b ? fread(b, 1, 8192, f) : 0;
        fclose(f);
        if (!b)
            continue;
        LLVMFuzzerTestOneInput(b, n);
        seeds[nseed] = b;
        lens[nseed++] = n;
    }
    closedir(d);
    if (!nseed) {
        fprintf(stderr, "%s: no seed files in %s\n", argv[0], argv[1]);
        return 2;
    }
    static const uint8_t pieces[] = {0, '-', '=', 'o', 0xff, 0x1b, 0xc2, 0x9b};
    uint8_t m[8192];
    for (long it = 0; it < iters; it++) {
        int s = (int)(next() % (uint64_t)nseed);
        size_t n = lens[s];
        memcpy(m, seeds[s], n);
        for (int k = 0, nm = 1 + (int)(next() % 8); k < nm; k++) {
            uint64_t r = next();
            if (r % 4 == 0 && n < sizeof m) {
                size_t at = n ? (size_t)(next() % (n + 1)) : 0;
                memmove(m + at + 1, m + at, n - at);
                m[at] = pieces[next() % sizeof pieces];
                n++;
            } else if (r % 4 == 1 && n > 1) {
                n = (size_t)(next() % n) + 1;
            } else if (n) {
                m[next() % n] = (uint8_t)next();
            }
        }
        LLVMFuzzerTestOneInput(m, n);
    }
    for (int i = 0; i < nseed; i++)
        free(seeds[i]);
    printf("%s: %d seed(s) replayed, %ld mutations, no invariant broken\n", argv[0], nseed, iters);
    return 0;
}
