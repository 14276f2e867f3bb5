/*
 * peer_label.c - the label of a peer library from a stored context JSON
 * (peer_label.h). The shape it reads is the one collectors/peers.c writes:
 * context.peers.<peer> = { version, core, threads, provider, not_loadable }.
 */
#include "db/model/peer_label.h"

#include <cJSON.h>
#include <stdio.h>
#include <string.h>

static const char *str_of(const cJSON *o, const char *key)
{
    const char *s = cJSON_GetStringValue(cJSON_GetObjectItemCaseSensitive(o, key));
    return s ? s : "?";
}

void bnb_peers_label(const char *context_json, const char *peer, char *buf, size_t cap)
{
    cJSON *root = context_json ? cJSON_Parse(context_json) : NULL;
    const cJSON *o =
        cJSON_GetObjectItemCaseSensitive(cJSON_GetObjectItemCaseSensitive(root, "peers"), peer);
    if (!o) {
        snprintf(buf, cap, "%s (not recorded)", peer);
    } else if (strcmp(peer, "openblas") == 0) {
        const cJSON *t = cJSON_GetObjectItemCaseSensitive(o, "threads");
        int th = cJSON_IsNumber(t) ? t->valueint : 0;
        snprintf(buf, cap, "OpenBLAS %s (%s core, %d thread%s)", str_of(o, "version"),
                 str_of(o, "core"), th, th == 1 ? "" : "s");
    } else if (strcmp(peer, "lapack") == 0) {
        snprintf(buf, cap, "LAPACK from %s", str_of(o, "provider"));
    } else if (cJSON_GetObjectItemCaseSensitive(o, "not_loadable")) {
        snprintf(buf, cap, "%s not loadable", peer);
    } else {
        snprintf(buf, cap, "%s %s", peer, str_of(o, "version"));
    }
    cJSON_Delete(root);
}
