/*
 * text.c - UTF-8 validation, the U+FFFD sanitiser for JSON and the
 * control-character escaper for terminals (contract: db/model/text.h).
 *
 * One decoder (bnb_utf8_seq_len) decides what is well-formed, so JSON output
 * and terminal output agree on which bytes are invalid.
 */
#include "db/model/text.h"

#include <cJSON.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

size_t bnb_utf8_seq_len(const char *s, size_t n)
{
    const unsigned char *p = (const unsigned char *)s;
    if (n == 0)
        return 0;
    unsigned c = p[0];
    if (c < 0x80)
        return 1;
    size_t len;
    unsigned lo = 0x80, hi = 0xBF; /* range of the second byte */
    if (c >= 0xC2 && c <= 0xDF) {
        len = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        len = 3;
        if (c == 0xE0)
            lo = 0xA0; /* overlong */
        else if (c == 0xED)
            hi = 0x9F; /* surrogates */
    } else if (c >= 0xF0 && c <= 0xF4) {
        len = 4;
        if (c == 0xF0)
            lo = 0x90; /* overlong */
        else if (c == 0xF4)
            hi = 0x8F; /* above U+10FFFF */
    } else {
        return 0; /* continuation byte, C0/C1 overlong lead, or F5..FF */
    }
    if (n < len || p[1] < lo || p[1] > hi)
        return 0;
    for (size_t i = 2; i < len; i++)
        if (p[i] < 0x80 || p[i] > 0xBF)
            return 0;
    return len;
}

bool bnb_utf8_valid(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n) {
        size_t k = bnb_utf8_seq_len(s + i, n - i);
        if (k == 0)
            return false;
        i += k;
    }
    return true;
}

char *bnb_utf8_sanitize(const char *s)
{
    if (!s)
        return NULL;
    size_t n = strlen(s);
    /* each invalid byte grows to 3 bytes at most */
    char *out = malloc(3 * n + 1);
    if (!out)
        return NULL;
    size_t i = 0, o = 0;
    while (i < n) {
        size_t k = bnb_utf8_seq_len(s + i, n - i);
        if (k) {
            memcpy(out + o, s + i, k);
            o += k;
            i += k;
        } else {
            memcpy(out + o, "\xEF\xBF\xBD", 3);
            o += 3;
            i++;
        }
    }
    out[o] = '\0';
    return out;
}

/* A control character that a terminal may act on: C0, DEL, and C1 as UTF-8
 * (C2 80..C2 9F). */
static bool is_control(const unsigned char *p, size_t k)
{
    return (k == 1 && (p[0] < 0x20 || p[0] == 0x7F)) || (k == 2 && p[0] == 0xC2 && p[1] < 0xA0);
}

size_t bnb_term_unit(const char *s, size_t n, size_t *shown)
{
    if (n == 0) {
        *shown = 0;
        return 0;
    }
    size_t k = bnb_utf8_seq_len(s, n);
    bool esc = k == 0 || is_control((const unsigned char *)s, k);
    size_t step = k ? k : 1;
    *shown = esc ? 4 * step : step;
    return step;
}

const char *bnb_term_safe(const char *s, char *buf, size_t cap)
{
    if (cap == 0)
        return buf;
    buf[0] = '\0';
    if (!s)
        return buf;
    /* mark: the last unit boundary that leaves room for "..." */
    size_t n = strlen(s), i = 0, o = 0, mark = 0;
    while (i < n) {
        size_t need, step = bnb_term_unit(s + i, n - i, &need);
        if (o + need > cap - 1) {
            size_t dots = cap - 1 - mark < 3 ? cap - 1 - mark : 3;
            memcpy(buf + mark, "...", dots);
            buf[mark + dots] = '\0';
            return buf;
        }
        if (need == step) {
            memcpy(buf + o, s + i, step);
        } else {
            for (size_t j = 0; j < step; j++)
                snprintf(buf + o + 4 * j, 5, "\\x%02x", (unsigned char)s[i + j]);
        }
        o += need;
        i += step;
        buf[o] = '\0';
        if (o + 3 <= cap - 1)
            mark = o;
    }
    return buf;
}

/* bnb_elide; *cut says whether the middle was replaced. */
static const char *elide(const char *s, char *buf, size_t max, bool *cut)
{
    *cut = false;
    if (!s)
        s = "";
    /* printed length of the whole value */
    size_t n = strlen(s), total = 0, shown;
    for (size_t i = 0; i < n;)
        i += bnb_term_unit(s + i, n - i, &shown), total += shown;
    if (total <= max || max < 3)
        return bnb_term_safe(s, buf, max + 1);
    /* head: whole units up to two thirds; tail: the shortest suffix of
     * whole units that fits in what is left after "..." */
    size_t head = (max - 3) * 2 / 3, i = 0, o = 0;
    while (i < n) {
        size_t step = bnb_term_unit(s + i, n - i, &shown);
        if (o + shown > head)
            break;
        char unit[5];
        memcpy(unit, s + i, step);
        unit[step] = '\0';
        bnb_term_safe(unit, buf + o, shown + 1);
        i += step;
        o += shown;
    }
    size_t budget = max - o - 3, pre = o, j = i;
    while (j < n && total - pre > budget) {
        j += bnb_term_unit(s + j, n - j, &shown);
        pre += shown;
    }
    memcpy(buf + o, "...", 3);
    bnb_term_safe(s + j, buf + o + 3, budget + 1);
    *cut = true;
    return buf;
}

const char *bnb_elide(const char *s, char *buf, size_t max)
{
    bool cut;
    return elide(s, buf, max, &cut);
}

const char *bnb_quote(const char *s, char *buf)
{
    bool cut;
    elide(s, buf, BNB_QUOTE_MAX, &cut);
    if (cut) {
        size_t len = strlen(buf);
        snprintf(buf + len, BNB_QUOTE_CAP - len, " (%zu bytes)", strlen(s));
    }
    return buf;
}

/* The writers below: markup also writes <, >, & and " as entities; md_special
 * (non-NULL for Markdown) names the characters written with a backslash,
 * and a line break becomes a space. */
static int safe_fputs(const char *s, FILE *f, bool markup, const char *md_special)
{
    size_t n = s ? strlen(s) : 0;
    for (size_t i = 0; i < n;) {
        size_t shown, step = bnb_term_unit(s + i, n - i, &shown);
        const char *ent = !markup || step != 1 ? NULL
                          : s[i] == '<'        ? "&lt;"
                          : s[i] == '>'        ? "&gt;"
                          : s[i] == '&'        ? "&amp;"
                          : s[i] == '"'        ? "&quot;"
                                               : NULL;
        if (ent) {
            if (fputs(ent, f) == EOF)
                return EOF;
        } else if (md_special && s[i] == '\n') {
            if (fputc(' ', f) == EOF)
                return EOF;
        } else if (md_special && step == 1 && strchr(md_special, s[i])) {
            if (fputc('\\', f) == EOF || fputc(s[i], f) == EOF)
                return EOF;
        } else if (shown == step) {
            if (fwrite(s + i, 1, step, f) != step)
                return EOF;
        } else {
            for (size_t j = 0; j < step; j++)
                if (fprintf(f, "\\x%02x", (unsigned char)s[i + j]) < 0)
                    return EOF;
        }
        i += step;
    }
    return 0;
}

int bnb_term_fputs(const char *s, FILE *f)
{
    return safe_fputs(s, f, false, NULL);
}

int bnb_markup_fputs(const char *s, FILE *f)
{
    return safe_fputs(s, f, true, NULL);
}

int bnb_md_fputs(const char *s, const char *special, FILE *f)
{
    return safe_fputs(s, f, false, special ? special : "");
}

/* Replaces *s by its U+FFFD-sanitised copy when it is not valid UTF-8
 * (text.h). Returns 0 or -1 (out of memory). */
static int utf8_fix(char **s, bool owned)
{
    if (!*s || bnb_utf8_valid(*s, strlen(*s)))
        return 0;
    char *fixed = bnb_utf8_sanitize(*s);
    if (!fixed)
        return -1;
    if (owned)
        cJSON_free(*s);
    *s = fixed;
    return 0;
}

int bnb_json_utf8_tree(cJSON *o)
{
    for (; o; o = o->next) {
        bool const_key = o->type & cJSON_StringIsConst;
        char *key = o->string;
        if (utf8_fix(&o->string, !const_key))
            return -1;
        if (o->string != key)
            o->type &= ~cJSON_StringIsConst; /* the copy is ours to free */
        if (cJSON_IsString(o) && utf8_fix(&o->valuestring, true))
            return -1;
        if (o->child && bnb_json_utf8_tree(o->child))
            return -1;
    }
    return 0;
}
