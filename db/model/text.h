/*
 * text.h - strings that come from users or from a DB, made safe where they
 * leave the program. Names, messages and reasons are stored exactly as given
 * (bytes, not necessarily UTF-8); they are made safe only at the edge:
 *   - JSON output needs valid UTF-8: bnb_utf8_sanitize replaces every byte
 *     that is not part of a well-formed UTF-8 sequence by U+FFFD (one U+FFFD
 *     per such byte), and leaves valid text unchanged;
 *   - a terminal must not receive control characters: bnb_term_safe writes
 *     C0 controls, DEL, C1 controls (U+0080..U+009F) and bytes that are not
 *     well-formed UTF-8 as \xNN, one escape per byte.
 * Bottom layer (db/model/): includes nothing above it; no allocation except
 * in bnb_utf8_sanitize. All functions are thread-safe (no shared state).
 */
#ifndef BNB_TEXT_H
#define BNB_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cJSON;

/* Well-formed UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing
 * above U+10FFFF) over the n bytes at s. n == 0 is valid. */
bool bnb_utf8_valid(const char *s, size_t n);

/* Length of the well-formed UTF-8 sequence at s (1..4, at most n bytes
 * read), or 0 when the byte at s does not start one. */
size_t bnb_utf8_seq_len(const char *s, size_t n);

/* A malloc'd copy of the NUL-terminated s in which each byte that is not
 * part of a well-formed UTF-8 sequence is replaced by U+FFFD (EF BF BD).
 * NULL s gives NULL; NULL also on out of memory. Caller frees. */
char *bnb_utf8_sanitize(const char *s);

/* The next unit of s (n bytes left) as bnb_term_safe prints it: returns
 * the bytes it spans (1..4; 0 when n == 0) and sets *shown to the bytes it
 * takes when printed (the same, or 4 per byte when escaped). */
size_t bnb_term_unit(const char *s, size_t n, size_t *shown);

/* Copies s into buf (capacity cap > 0, always NUL-terminated) with control
 * characters and invalid bytes escaped as \xNN (lowercase hex). Output that
 * does not fit is cut at a character or escape boundary and ends "...".
 * NULL s is written as "". Returns buf. */
const char *bnb_term_safe(const char *s, char *buf, size_t cap);

/* s for a message, escaped as bnb_term_safe does; when that form is longer
 * than max bytes, its middle is replaced by "..." so that it takes at most
 * max bytes (cut at character and escape boundaries, about two thirds of
 * it before the "..."). buf must hold max + 1 bytes; NULL s is "".
 * Returns buf. */
const char *bnb_elide(const char *s, char *buf, size_t max);

/* Longest quotation of a user's value in a message (bytes, before the
 * length note). Messages are built in BNB_ERR_MAX = 512 bytes; with values
 * of up to 1024 bytes accepted, a value quoted whole would push the
 * message's reason off its end. */
#define BNB_QUOTE_MAX 120
/* The buffer bnb_quote needs: the quotation, " (N bytes)" and the NUL. */
#define BNB_QUOTE_CAP (BNB_QUOTE_MAX + 32)

/* A user's value (a name, path, run spec, URL ...) for a message: s as
 * bnb_elide(s, buf, BNB_QUOTE_MAX) makes it, followed by " (N bytes)" (N
 * the length of s) when it was shortened. Every message that quotes a
 * value a user gave uses this, so the reason after it always fits. buf
 * must hold BNB_QUOTE_CAP bytes. Returns buf. */
const char *bnb_quote(const char *s, char *buf);

/* Writes s to f escaped as bnb_term_safe does, with no length limit.
 * NULL s writes nothing. Returns 0, or EOF when a write failed. */
int bnb_term_fputs(const char *s, FILE *f);

/* bnb_term_fputs for HTML and SVG text and attribute values: also writes
 * <, >, & and " as entities. Returns 0, or EOF when a write failed. */
int bnb_markup_fputs(const char *s, FILE *f);

/* bnb_term_fputs for Markdown text: each character of special (e.g. "|" in
 * a table cell) is written with a backslash before it and a line break as a
 * space. Returns 0, or EOF when a write failed. */
int bnb_md_fputs(const char *s, const char *special, FILE *f);

/* Every key and string value of the tree made valid UTF-8: names and
 * messages are stored as given, and JSON text must be UTF-8 (RFC 8259).
 * cJSON allocates with malloc by default (no hooks are installed here), so
 * the sanitised copies are freed by cJSON_Delete like its own strings.
 * Used by every JSON writer before cJSON_Print. Returns 0 or -1 (out of
 * memory). */
int bnb_json_utf8_tree(struct cJSON *root);

#endif
