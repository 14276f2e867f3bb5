/*
 * check.c - the CI regression gate (contract: check.h).
 */
#include "reports/check.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "db/model/text.h"

int bnb_latest_measured_run(bnb_db *db, int64_t *run_id, char *err, size_t cap)
{
    char e2[BNB_ERR_MAX];
    if (bnb_db_latest_run(db, NULL, true, run_id, NULL, e2)) {
        snprintf(err, cap, "%s", e2);
        return -1;
    }
    return 0;
}

static const bnb_case_result *find_case(const bnb_case_result *c, int n, const char *key)
{
    char full[BNB_NAME_MAX + 160];
    for (int i = 0; i < n; i++)
        if (!strcmp(bnb_case_fullname(&c[i], full, sizeof full), key))
            return &c[i];
    return NULL;
}

int bnb_check(bnb_db *db, const bnb_check_opts *o, char *err, size_t cap)
{
    FILE *f = o->out ? o->out : stdout;
    char e2[BNB_ERR_MAX];
    int64_t base = 0, latest = 0;
    bnb_case_result *bc = NULL, *lc = NULL;
    int nb = 0, nl = 0, nrows = 0, rc = -1;
    bnb_cmp_row *rows = NULL;
    bnb_target_set ts = {0, NULL};
    bnb_verdict *v = NULL;
    if (!o->baseline || !*o->baseline) {
        snprintf(err, cap, "which baseline? (--baseline NAME)");
        return -1;
    }
    if (bnb_db_get_baseline(db, o->baseline, &base, e2)) {
        snprintf(err, cap, "%s (bnbench baseline list shows the names)", e2);
        return -1;
    }
    if (bnb_latest_measured_run(db, &latest, err, cap))
        return -1;
    if (bnb_db_load_cases(db, base, &bc, &nb, e2) || bnb_db_load_cases(db, latest, &lc, &nl, e2) ||
        bnb_db_load_verdicts(db, latest, &ts, &v, e2)) {
        snprintf(err, cap, "%s", e2);
        goto cleanup;
    }
    fprintf(f, "check: latest run %lld against baseline \"%s\" (run %lld)\n", (long long)latest,
            o->baseline, (long long)base);
    int64_t mb = 0, ml = 0;
    if (bnb_db_run_machine(db, base, &mb, e2) || bnb_db_run_machine(db, latest, &ml, e2)) {
        snprintf(err, cap, "%s", e2);
        goto cleanup;
    }
    if (mb != ml) {
        bnb_run_info rb, rl;
        memset(&rb, 0, sizeof rb);
        memset(&rl, 0, sizeof rl);
        char tb[256], tl[256];
        if (bnb_db_load_run(db, base, &rb, NULL, e2) == 0 &&
            bnb_db_load_run(db, latest, &rl, NULL, e2) == 0)
            fprintf(f,
                    "  note: the baseline was measured on machine \"%s\", the latest run on "
                    "\"%s\": differences may be the machines', not the code's\n",
                    bnb_term_safe(rb.machine_name, tb, sizeof tb),
                    bnb_term_safe(rl.machine_name, tl, sizeof tl));
        bnb_run_info_free(&rb);
        bnb_run_info_free(&rl);
    }
    int confirmed = 0, refuted = 0, missed = 0, insufficient = 0, uncompared = 0;
    if (latest == base) {
        fprintf(f, "  the latest run is the baseline itself: no regression possible\n");
    } else if (bnb_compare_runs(bc, nb, lc, nl, &o->cmp, &rows, &nrows)) {
        snprintf(err, cap, "out of memory comparing runs");
        goto cleanup;
    }
    for (int i = 0; i < nrows; i++) {
        bnb_cmp_row *r = &rows[i];
        if (r->verdict == BNB_CMP_INSUFFICIENT) {
            insufficient++;
            fprintf(f, "  %s: insufficient samples (%s)\n", r->key, r->note);
            continue;
        }
        if (r->verdict == BNB_CMP_NOT_COMPARABLE) {
            char tk[4 * sizeof r->key], tn[4 * sizeof r->note];
            if (uncompared++ == 0)
                fprintf(f, "  not compared (A = the baseline, B = the latest run):\n");
            fprintf(f, "    %s: %s\n", bnb_term_safe(r->key, tk, sizeof tk),
                    bnb_term_safe(r->note, tn, sizeof tn));
            continue;
        }
        if (r->verdict != BNB_CMP_SLOWER)
            continue;
        fprintf(f, "  %s: slower, median %+.1f%% (p = %.2g)", r->key, 100.0 * (r->ratio - 1.0),
                r->p);
        if (!o->rerun) {
            fprintf(f, " - not re-run (--no-rerun): counted as confirmed\n");
            confirmed++;
            continue;
        }
        const bnb_case_result *l = find_case(lc, nl, r->key), *b = find_case(bc, nb, r->key);
        bnb_case_result again;
        memset(&again, 0, sizeof again);
        int64_t rid = 0;
        char re[BNB_ERR_MAX] = "";
        fprintf(f, "; re-running once to confirm\n");
        fflush(f);
        if (o->rerun(o->rerun_ctx, l, &again, &rid, re, sizeof re)) {
            fprintf(f, "  %s: re-run failed: %s - counted as confirmed\n", r->key, re);
            confirmed++;
            bnb_case_free(&again);
            continue;
        }
        bnb_cmp_row r2;
        bnb_compare_case(b, &again, &o->cmp, &r2);
        char where[64] = "";
        if (rid > 0)
            snprintf(where, sizeof where, " (stored as run %lld)", (long long)rid);
        if (r2.verdict == BNB_CMP_SLOWER) {
            confirmed++;
            fprintf(f, "  %s: CONFIRMED regression: re-run%s is %+.1f%% (p = %.2g)\n", r->key,
                    where, 100.0 * (r2.ratio - 1.0), r2.p);
        } else {
            refuted++;
            fprintf(f, "  %s: not confirmed: re-run%s says %s (%+.1f%%, p = %.2g)\n", r->key, where,
                    bnb_cmp_verdict_str(r2.verdict), 100.0 * (r2.ratio - 1.0), r2.p);
        }
        bnb_case_free(&again);
    }
    for (int i = 0; i < ts.n; i++)
        if (!strcmp(v[i].verdict, "missed")) {
            missed++;
            fprintf(f, "  target %s MISSED: %s = %.4g, needs %s %.4g\n", v[i].target->id,
                    v[i].target->figure, v[i].measured, v[i].target->op, v[i].bound);
        }
    /* a gate that compared nothing has shown nothing: the latest run shares
     * no measured case with the baseline (other cases, all failed) */
    bool none = latest != base && nrows == uncompared;
    if (none)
        fprintf(f, "  no case of the baseline was compared with the latest run\n");
    rc = (confirmed > 0 || missed > 0 || none) ? 1 : 0;
    fprintf(f,
            "check: %s: %d confirmed regression(s), %d not confirmed by the re-run, %d missed "
            "target(s), %d case(s) with insufficient samples, %d not compared\n",
            rc ? "FAIL" : "ok", confirmed, refuted, missed, insufficient, uncompared);
cleanup:
    free(rows);
    bnb_db_free_cases(bc, nb);
    bnb_db_free_cases(lc, nl);
    bnb_targets_free(&ts);
    free(v);
    return rc;
}
