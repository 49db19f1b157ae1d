/*
 * TLS on BearSSL's I/O-free engine. See tls.h for the contract.
 *
 * PEM and DER decoding follow BearSSL's own tools (tools/files.c, tools/certs.c): the PEM
 * decoder streams each object's DER into a growing buffer, certificates become trust
 * anchors through br_x509_decoder (DN and public key, deep-copied because the decoder's
 * buffers die with it), and keys go through br_skey_decoder, again deep-copied.
 */
#include "adapters/net/tls.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/base/assert.h"

#define PEM_FILE_MAX (1u << 20)

/* ---------------------------------------------------------------------------------------- */
/* Growing byte buffers and PEM objects */

typedef struct blob {
    unsigned char *buf;
    size_t len, cap;
    int oom;
} blob;

static void blob_append(void *ctx, const void *data, size_t len)
{
    blob *b = ctx;
    if (b->oom)
        return;
    if (b->len + len > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len)
            cap *= 2;
        unsigned char *nb = realloc(b->buf, cap);
        if (nb == NULL) {
            b->oom = 1;
            return;
        }
        b->buf = nb;
        b->cap = cap;
    }
    memcpy(b->buf + b->len, data, len);
    b->len += len;
}

typedef struct pem_obj {
    char name[128];
    unsigned char *der;
    size_t len;
} pem_obj;

static void pem_objs_free(pem_obj *objs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        free(objs[i].der);
    free(objs);
}

/* Decodes every PEM object of `pem`. XR_ERR_MALFORMED on a PEM syntax error. */
static xr_err pem_decode(const unsigned char *pem, size_t len, pem_obj **out, size_t *count)
{
    br_pem_decoder_context pc;
    br_pem_decoder_init(&pc);
    pem_obj *objs = NULL;
    size_t n = 0;
    blob cur = {0};
    int inobj = 0;
    char name[128] = {0};
    xr_err err = XR_OK;
    /* A final newline flushes an END line that ends the text without one. */
    int flushed = 0;
    while (err == XR_OK && (len > 0 || !flushed)) {
        const unsigned char *src = pem;
        size_t srclen = len;
        if (len == 0) {
            src = (const unsigned char *)"\n";
            srclen = 1;
            flushed = 1;
        }
        size_t used = br_pem_decoder_push(&pc, src, srclen);
        if (len > 0) {
            pem += used;
            len -= used;
        }
        switch (br_pem_decoder_event(&pc)) {
        case BR_PEM_BEGIN_OBJ:
            snprintf(name, sizeof name, "%s", br_pem_decoder_name(&pc));
            free(cur.buf);
            memset(&cur, 0, sizeof cur);
            br_pem_decoder_setdest(&pc, blob_append, &cur);
            inobj = 1;
            break;
        case BR_PEM_END_OBJ:
            if (!inobj)
                break;
            inobj = 0;
            if (cur.oom) {
                err = XR_ERR_NO_MEMORY;
                break;
            }
            pem_obj *no = realloc(objs, (n + 1) * sizeof(*objs));
            if (no == NULL) {
                err = XR_ERR_NO_MEMORY;
                break;
            }
            objs = no;
            memcpy(objs[n].name, name, sizeof name);
            objs[n].der = cur.buf;
            objs[n].len = cur.len;
            n++;
            memset(&cur, 0, sizeof cur);
            break;
        case BR_PEM_ERROR:
            err = XR_ERR_MALFORMED;
            break;
        default:
            break;
        }
    }
    free(cur.buf);
    if (err == XR_OK && inobj)
        err = XR_ERR_MALFORMED; /* truncated object */
    if (err != XR_OK) {
        pem_objs_free(objs, n);
        return err;
    }
    *out = objs;
    *count = n;
    return XR_OK;
}

static xr_err read_file(const char *path, unsigned char **out, size_t *len)
{
    if (path == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return XR_ERR_IO;
    unsigned char *buf = malloc(PEM_FILE_MAX);
    if (buf == NULL) {
        fclose(f);
        return XR_ERR_NO_MEMORY;
    }
    size_t n = fread(buf, 1, PEM_FILE_MAX, f);
    int bad = ferror(f) || (n == PEM_FILE_MAX && fgetc(f) != EOF);
    fclose(f);
    if (bad) {
        free(buf);
        return XR_ERR_IO;
    }
    *out = buf;
    *len = n;
    return XR_OK;
}

/* ---------------------------------------------------------------------------------------- */
/* Trust anchors */

void xr_tls_trust_init(xr_tls_trust *trust)
{
    memset(trust, 0, sizeof(*trust));
}

static void anchor_free(br_x509_trust_anchor *ta)
{
    free(ta->dn.data);
    if (ta->pkey.key_type == BR_KEYTYPE_RSA) {
        free(ta->pkey.key.rsa.n);
        free(ta->pkey.key.rsa.e);
    } else if (ta->pkey.key_type == BR_KEYTYPE_EC) {
        free(ta->pkey.key.ec.q);
    }
}

static unsigned char *dup_bytes(const unsigned char *p, size_t n)
{
    unsigned char *d = malloc(n ? n : 1);
    if (d != NULL && n > 0)
        memcpy(d, p, n);
    return d;
}

static xr_err anchor_from_der(br_x509_trust_anchor *ta, const unsigned char *der, size_t len)
{
    memset(ta, 0, sizeof(*ta));
    blob dn = {0};
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, blob_append, &dn);
    br_x509_decoder_push(&dc, der, len);
    const br_x509_pkey *pk = br_x509_decoder_get_pkey(&dc);
    if (pk == NULL || dn.oom) {
        free(dn.buf);
        return dn.oom ? XR_ERR_NO_MEMORY : XR_ERR_MALFORMED;
    }
    ta->dn.data = dn.buf;
    ta->dn.len = dn.len;
    /* A non-CA certificate is still a valid anchor: it pins that exact server. */
    ta->flags = br_x509_decoder_isCA(&dc) ? BR_X509_TA_CA : 0;
    ta->pkey.key_type = pk->key_type;
    int oom = 0;
    if (pk->key_type == BR_KEYTYPE_RSA) {
        ta->pkey.key.rsa.n = dup_bytes(pk->key.rsa.n, pk->key.rsa.nlen);
        ta->pkey.key.rsa.nlen = pk->key.rsa.nlen;
        ta->pkey.key.rsa.e = dup_bytes(pk->key.rsa.e, pk->key.rsa.elen);
        ta->pkey.key.rsa.elen = pk->key.rsa.elen;
        oom = ta->pkey.key.rsa.n == NULL || ta->pkey.key.rsa.e == NULL;
    } else if (pk->key_type == BR_KEYTYPE_EC) {
        ta->pkey.key.ec.curve = pk->key.ec.curve;
        ta->pkey.key.ec.q = dup_bytes(pk->key.ec.q, pk->key.ec.qlen);
        ta->pkey.key.ec.qlen = pk->key.ec.qlen;
        oom = ta->pkey.key.ec.q == NULL;
    } else {
        anchor_free(ta);
        return XR_ERR_MALFORMED;
    }
    if (oom) {
        anchor_free(ta);
        return XR_ERR_NO_MEMORY;
    }
    return XR_OK;
}

xr_err xr_tls_trust_add_pem(xr_tls_trust *trust, const void *pem, size_t len)
{
    if (trust == NULL || (pem == NULL && len > 0))
        return XR_ERR_INVALID_ARGUMENT;
    pem_obj *objs = NULL;
    size_t n = 0;
    xr_err err = pem_decode(pem, len, &objs, &n);
    if (err != XR_OK)
        return err;
    size_t certs = 0;
    for (size_t i = 0; i < n; i++)
        certs += strcmp(objs[i].name, "CERTIFICATE") == 0 ||
                 strcmp(objs[i].name, "X509 CERTIFICATE") == 0;
    if (certs == 0) {
        pem_objs_free(objs, n);
        return XR_ERR_MALFORMED;
    }
    br_x509_trust_anchor *grown =
        realloc(trust->anchors, (trust->count + certs) * sizeof(*trust->anchors));
    if (grown == NULL) {
        pem_objs_free(objs, n);
        return XR_ERR_NO_MEMORY;
    }
    trust->anchors = grown;
    size_t added = 0;
    for (size_t i = 0; i < n && err == XR_OK; i++) {
        if (strcmp(objs[i].name, "CERTIFICATE") != 0 &&
            strcmp(objs[i].name, "X509 CERTIFICATE") != 0)
            continue;
        err = anchor_from_der(&trust->anchors[trust->count + added], objs[i].der, objs[i].len);
        if (err == XR_OK)
            added++;
    }
    pem_objs_free(objs, n);
    if (err != XR_OK) {
        for (size_t i = 0; i < added; i++)
            anchor_free(&trust->anchors[trust->count + i]);
        return err;
    }
    trust->count += added;
    return XR_OK;
}

xr_err xr_tls_trust_add_file(xr_tls_trust *trust, const char *path)
{
    unsigned char *buf = NULL;
    size_t len = 0;
    xr_err err = read_file(path, &buf, &len);
    if (err != XR_OK)
        return err;
    err = xr_tls_trust_add_pem(trust, buf, len);
    free(buf);
    return err;
}

void xr_tls_trust_free(xr_tls_trust *trust)
{
    if (trust == NULL)
        return;
    for (size_t i = 0; i < trust->count; i++)
        anchor_free(&trust->anchors[i]);
    free(trust->anchors);
    memset(trust, 0, sizeof(*trust));
}

/* ---------------------------------------------------------------------------------------- */
/* Identity */

static void ignore_dn(void *ctx, const void *data, size_t len)
{
    (void)ctx, (void)data, (void)len;
}

void xr_tls_identity_free(xr_tls_identity *id)
{
    if (id == NULL)
        return;
    for (size_t i = 0; i < id->chain_len; i++)
        free(id->chain[i].data);
    free(id->chain);
    if (id->key_buf != NULL) {
        /* Private key material: clear before giving the memory back. */
        size_t klen = id->key_type == BR_KEYTYPE_RSA ? id->rsa.plen + id->rsa.qlen + id->rsa.dplen +
                                                           id->rsa.dqlen + id->rsa.iqlen
                                                     : id->ec.xlen;
        volatile unsigned char *p = id->key_buf;
        for (size_t i = 0; i < klen; i++)
            p[i] = 0;
        free(id->key_buf);
    }
    memset(id, 0, sizeof(*id));
}

static xr_err identity_key(xr_tls_identity *id, const unsigned char *der, size_t len)
{
    br_skey_decoder_context skc;
    br_skey_decoder_init(&skc);
    br_skey_decoder_push(&skc, der, len);
    if (br_skey_decoder_last_error(&skc) != 0)
        return XR_ERR_MALFORMED;
    xr_err err = XR_OK;
    switch (br_skey_decoder_key_type(&skc)) {
    case BR_KEYTYPE_RSA: {
        const br_rsa_private_key *k = br_skey_decoder_get_rsa(&skc);
        size_t total = k->plen + k->qlen + k->dplen + k->dqlen + k->iqlen;
        unsigned char *b = malloc(total);
        if (b == NULL) {
            err = XR_ERR_NO_MEMORY;
            break;
        }
        id->key_type = BR_KEYTYPE_RSA;
        id->key_buf = b;
        id->rsa.n_bitlen = k->n_bitlen;
        id->rsa.p = b, memcpy(b, k->p, k->plen), id->rsa.plen = k->plen, b += k->plen;
        id->rsa.q = b, memcpy(b, k->q, k->qlen), id->rsa.qlen = k->qlen, b += k->qlen;
        id->rsa.dp = b, memcpy(b, k->dp, k->dplen), id->rsa.dplen = k->dplen, b += k->dplen;
        id->rsa.dq = b, memcpy(b, k->dq, k->dqlen), id->rsa.dqlen = k->dqlen, b += k->dqlen;
        id->rsa.iq = b, memcpy(b, k->iq, k->iqlen), id->rsa.iqlen = k->iqlen;
        break;
    }
    case BR_KEYTYPE_EC: {
        const br_ec_private_key *k = br_skey_decoder_get_ec(&skc);
        unsigned char *b = dup_bytes(k->x, k->xlen);
        if (b == NULL) {
            err = XR_ERR_NO_MEMORY;
            break;
        }
        id->key_type = BR_KEYTYPE_EC;
        id->key_buf = b;
        id->ec.curve = k->curve;
        id->ec.x = b;
        id->ec.xlen = k->xlen;
        break;
    }
    default:
        err = XR_ERR_MALFORMED;
    }
    /* The decoder held the key too. */
    volatile unsigned char *p = (volatile unsigned char *)&skc;
    for (size_t i = 0; i < sizeof skc; i++)
        p[i] = 0;
    return err;
}

xr_err xr_tls_identity_from_pem(xr_tls_identity *id, const void *chain_pem, size_t chain_len,
                                const void *key_pem, size_t key_len)
{
    if (id == NULL || chain_pem == NULL || key_pem == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(id, 0, sizeof(*id));
    pem_obj *objs = NULL;
    size_t n = 0;
    xr_err err = pem_decode(chain_pem, chain_len, &objs, &n);
    if (err != XR_OK)
        return err;
    id->chain = calloc(n ? n : 1, sizeof(*id->chain));
    if (id->chain == NULL) {
        pem_objs_free(objs, n);
        return XR_ERR_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        if (strcmp(objs[i].name, "CERTIFICATE") != 0 &&
            strcmp(objs[i].name, "X509 CERTIFICATE") != 0)
            continue;
        id->chain[id->chain_len].data = objs[i].der;
        id->chain[id->chain_len].data_len = objs[i].len;
        objs[i].der = NULL; /* moved */
        id->chain_len++;
    }
    pem_objs_free(objs, n);
    if (id->chain_len == 0) {
        xr_tls_identity_free(id);
        return XR_ERR_MALFORMED;
    }
    /* The issuer's key type matters to the static-ECDH suites of an EC server. */
    br_x509_decoder_context dc;
    br_x509_decoder_init(&dc, ignore_dn, NULL);
    br_x509_decoder_push(&dc, id->chain[0].data, id->chain[0].data_len);
    if (br_x509_decoder_get_pkey(&dc) == NULL) {
        xr_tls_identity_free(id);
        return XR_ERR_MALFORMED;
    }
    id->issuer_key_type = (unsigned)br_x509_decoder_get_signer_key_type(&dc);

    err = pem_decode(key_pem, key_len, &objs, &n);
    if (err != XR_OK) {
        xr_tls_identity_free(id);
        return err;
    }
    err = XR_ERR_MALFORMED;
    for (size_t i = 0; i < n; i++) {
        if (strcmp(objs[i].name, "RSA PRIVATE KEY") == 0 ||
            strcmp(objs[i].name, "EC PRIVATE KEY") == 0 ||
            strcmp(objs[i].name, "PRIVATE KEY") == 0) {
            err = identity_key(id, objs[i].der, objs[i].len);
            break;
        }
    }
    for (size_t i = 0; i < n; i++) {
        volatile unsigned char *p = objs[i].der;
        for (size_t k = 0; k < objs[i].len; k++)
            p[k] = 0;
    }
    pem_objs_free(objs, n);
    if (err != XR_OK)
        xr_tls_identity_free(id);
    return err;
}

xr_err xr_tls_identity_load(xr_tls_identity *id, const char *chain_path, const char *key_path)
{
    if (id == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(id, 0, sizeof(*id));
    unsigned char *chain = NULL, *key = NULL;
    size_t chain_len = 0, key_len = 0;
    xr_err err = read_file(chain_path, &chain, &chain_len);
    if (err == XR_OK)
        err = read_file(key_path, &key, &key_len);
    if (err == XR_OK)
        err = xr_tls_identity_from_pem(id, chain, chain_len, key, key_len);
    free(chain);
    if (key != NULL) {
        memset(key, 0, key_len);
        free(key);
    }
    return err;
}

/* ---------------------------------------------------------------------------------------- */
/* Engine */

xr_err xr_tls_client_init(xr_tls *t, const xr_tls_trust *trust, const char *server_name)
{
    if (t == NULL || trust == NULL || trust->count == 0 || server_name == NULL ||
        server_name[0] == '\0' || strlen(server_name) > 255)
        return XR_ERR_INVALID_ARGUMENT;
    memset(t, 0, offsetof(xr_tls, iobuf));
    br_ssl_client_init_full(&t->u.client, &t->x509, trust->anchors, trust->count);
    t->eng = &t->u.client.eng;
    br_ssl_engine_set_versions(t->eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_buffer(t->eng, t->iobuf, sizeof t->iobuf, 1);
    if (!br_ssl_client_reset(&t->u.client, server_name, 0))
        return br_ssl_engine_last_error(t->eng) == BR_ERR_NO_RANDOM ? XR_ERR_IO
                                                                    : XR_ERR_INVALID_ARGUMENT;
    return XR_OK;
}

xr_err xr_tls_server_init(xr_tls *t, const xr_tls_identity *id)
{
    if (t == NULL || id == NULL || id->chain_len == 0 || id->key_buf == NULL)
        return XR_ERR_INVALID_ARGUMENT;
    memset(t, 0, offsetof(xr_tls, iobuf));
    t->is_server = 1;
    if (id->key_type == BR_KEYTYPE_RSA)
        br_ssl_server_init_full_rsa(&t->u.server, id->chain, id->chain_len, &id->rsa);
    else if (id->key_type == BR_KEYTYPE_EC)
        br_ssl_server_init_full_ec(&t->u.server, id->chain, id->chain_len,
                                   id->issuer_key_type ? id->issuer_key_type : BR_KEYTYPE_EC,
                                   &id->ec);
    else
        return XR_ERR_INVALID_ARGUMENT;
    t->eng = &t->u.server.eng;
    br_ssl_engine_set_versions(t->eng, BR_TLS12, BR_TLS12);
    br_ssl_engine_set_buffer(t->eng, t->iobuf, sizeof t->iobuf, 1);
    if (!br_ssl_server_reset(&t->u.server))
        return br_ssl_engine_last_error(t->eng) == BR_ERR_NO_RANDOM ? XR_ERR_IO
                                                                    : XR_ERR_INVALID_ARGUMENT;
    return XR_OK;
}

static xr_err map_alert(unsigned alert)
{
    /* bad_certificate .. access_denied (RFC 5246 7.2.2), except decrypt_error (51) and
     * illegal_parameter (47), which are protocol failures. */
    switch (alert) {
    case 42: /* bad_certificate */
    case 43: /* unsupported_certificate */
    case 44: /* certificate_revoked */
    case 45: /* certificate_expired */
    case 46: /* certificate_unknown */
    case 48: /* unknown_ca */
    case 49: /* access_denied */
        return XR_ERR_UNAUTHORIZED;
    default:
        return XR_ERR_MALFORMED;
    }
}

static xr_err map_br_error(int e)
{
    if (e == BR_ERR_OK)
        return XR_OK;
    if (e == BR_ERR_IO)
        return XR_ERR_IO;
    if (e >= BR_ERR_X509_OK && e <= BR_ERR_X509_NOT_TRUSTED)
        return XR_ERR_UNAUTHORIZED;
    if (e >= BR_ERR_SEND_FATAL_ALERT)
        return map_alert((unsigned)(e - BR_ERR_SEND_FATAL_ALERT));
    if (e >= BR_ERR_RECV_FATAL_ALERT)
        return map_alert((unsigned)(e - BR_ERR_RECV_FATAL_ALERT));
    return XR_ERR_MALFORMED;
}

static void latch_ready(xr_tls *t)
{
    if (!t->ready && (br_ssl_engine_current_state(t->eng) & (BR_SSL_SENDAPP | BR_SSL_RECVAPP)))
        t->ready = 1;
}

static xr_err engine_status(xr_tls *t)
{
    unsigned st = br_ssl_engine_current_state(t->eng);
    if (st & BR_SSL_CLOSED) {
        int e = br_ssl_engine_last_error(t->eng);
        return e == BR_ERR_OK ? XR_ERR_INVALID_STATE : map_br_error(e);
    }
    return XR_OK;
}

xr_err xr_tls_feed(xr_tls *t, const uint8_t *data, size_t len, size_t *consumed)
{
    size_t total = 0;
    xr_err err = engine_status(t);
    while (err == XR_OK && total < len) {
        size_t cap = 0;
        unsigned char *buf = br_ssl_engine_recvrec_buf(t->eng, &cap);
        if (buf == NULL || cap == 0)
            break;
        size_t n = len - total < cap ? len - total : cap;
        memcpy(buf, data + total, n);
        br_ssl_engine_recvrec_ack(t->eng, n);
        total += n;
        latch_ready(t);
        err = engine_status(t);
    }
    if (consumed)
        *consumed = total;
    latch_ready(t);
    /* Closing because the peer said close_notify is not a failure of this call. */
    if (err == XR_ERR_INVALID_STATE && total > 0)
        err = XR_OK;
    return err;
}

const uint8_t *xr_tls_output(xr_tls *t, size_t *len)
{
    size_t n = 0;
    unsigned char *buf = br_ssl_engine_sendrec_buf(t->eng, &n);
    *len = buf ? n : 0;
    return buf;
}

void xr_tls_output_ack(xr_tls *t, size_t n)
{
    if (n > 0)
        br_ssl_engine_sendrec_ack(t->eng, n);
    latch_ready(t);
}

const uint8_t *xr_tls_read(xr_tls *t, size_t *len)
{
    size_t n = 0;
    unsigned char *buf = br_ssl_engine_recvapp_buf(t->eng, &n);
    *len = buf ? n : 0;
    return buf;
}

void xr_tls_read_ack(xr_tls *t, size_t n)
{
    if (n > 0)
        br_ssl_engine_recvapp_ack(t->eng, n);
}

xr_err xr_tls_write(xr_tls *t, const void *data, size_t len, size_t *written)
{
    size_t total = 0;
    xr_err err = engine_status(t);
    latch_ready(t);
    while (err == XR_OK && total < len) {
        size_t cap = 0;
        unsigned char *buf = br_ssl_engine_sendapp_buf(t->eng, &cap);
        if (buf == NULL || cap == 0)
            break;
        size_t n = len - total < cap ? len - total : cap;
        memcpy(buf, (const uint8_t *)data + total, n);
        br_ssl_engine_sendapp_ack(t->eng, n);
        total += n;
    }
    if (total > 0)
        br_ssl_engine_flush(t->eng, 0);
    if (written)
        *written = total;
    if (err != XR_OK)
        return err;
    return total == len ? XR_OK : XR_ERR_AGAIN;
}

void xr_tls_close(xr_tls *t)
{
    br_ssl_engine_close(t->eng);
}

bool xr_tls_is_ready(const xr_tls *t)
{
    return t->ready;
}

bool xr_tls_is_closed(const xr_tls *t)
{
    return (br_ssl_engine_current_state(t->eng) & BR_SSL_CLOSED) != 0;
}

xr_err xr_tls_error(const xr_tls *t)
{
    return map_br_error(br_ssl_engine_last_error(t->eng));
}

int xr_tls_br_error(const xr_tls *t)
{
    return br_ssl_engine_last_error(t->eng);
}

static const char *const ssl_error_names[] = {
    [BR_ERR_OK] = "OK",
    [BR_ERR_BAD_PARAM] = "BAD_PARAM",
    [BR_ERR_BAD_STATE] = "BAD_STATE",
    [BR_ERR_UNSUPPORTED_VERSION] = "UNSUPPORTED_VERSION",
    [BR_ERR_BAD_VERSION] = "BAD_VERSION",
    [BR_ERR_BAD_LENGTH] = "BAD_LENGTH",
    [BR_ERR_TOO_LARGE] = "TOO_LARGE",
    [BR_ERR_BAD_MAC] = "BAD_MAC",
    [BR_ERR_NO_RANDOM] = "NO_RANDOM",
    [BR_ERR_UNKNOWN_TYPE] = "UNKNOWN_TYPE",
    [BR_ERR_UNEXPECTED] = "UNEXPECTED",
    [BR_ERR_BAD_CCS] = "BAD_CCS",
    [BR_ERR_BAD_ALERT] = "BAD_ALERT",
    [BR_ERR_BAD_HANDSHAKE] = "BAD_HANDSHAKE",
    [BR_ERR_OVERSIZED_ID] = "OVERSIZED_ID",
    [BR_ERR_BAD_CIPHER_SUITE] = "BAD_CIPHER_SUITE",
    [BR_ERR_BAD_COMPRESSION] = "BAD_COMPRESSION",
    [BR_ERR_BAD_FRAGLEN] = "BAD_FRAGLEN",
    [BR_ERR_BAD_SECRENEG] = "BAD_SECRENEG",
    [BR_ERR_EXTRA_EXTENSION] = "EXTRA_EXTENSION",
    [BR_ERR_BAD_SNI] = "BAD_SNI",
    [BR_ERR_BAD_HELLO_DONE] = "BAD_HELLO_DONE",
    [BR_ERR_LIMIT_EXCEEDED] = "LIMIT_EXCEEDED",
    [BR_ERR_BAD_FINISHED] = "BAD_FINISHED",
    [BR_ERR_RESUME_MISMATCH] = "RESUME_MISMATCH",
    [BR_ERR_INVALID_ALGORITHM] = "INVALID_ALGORITHM",
    [BR_ERR_BAD_SIGNATURE] = "BAD_SIGNATURE",
    [BR_ERR_WRONG_KEY_USAGE] = "WRONG_KEY_USAGE",
    [BR_ERR_NO_CLIENT_AUTH] = "NO_CLIENT_AUTH",
    [BR_ERR_IO] = "IO",
    [BR_ERR_X509_OK] = "X509_OK",
    [BR_ERR_X509_INVALID_VALUE] = "X509_INVALID_VALUE",
    [BR_ERR_X509_TRUNCATED] = "X509_TRUNCATED",
    [BR_ERR_X509_EMPTY_CHAIN] = "X509_EMPTY_CHAIN",
    [BR_ERR_X509_INNER_TRUNC] = "X509_INNER_TRUNC",
    [BR_ERR_X509_BAD_TAG_CLASS] = "X509_BAD_TAG_CLASS",
    [BR_ERR_X509_BAD_TAG_VALUE] = "X509_BAD_TAG_VALUE",
    [BR_ERR_X509_INDEFINITE_LENGTH] = "X509_INDEFINITE_LENGTH",
    [BR_ERR_X509_EXTRA_ELEMENT] = "X509_EXTRA_ELEMENT",
    [BR_ERR_X509_UNEXPECTED] = "X509_UNEXPECTED",
    [BR_ERR_X509_NOT_CONSTRUCTED] = "X509_NOT_CONSTRUCTED",
    [BR_ERR_X509_NOT_PRIMITIVE] = "X509_NOT_PRIMITIVE",
    [BR_ERR_X509_PARTIAL_BYTE] = "X509_PARTIAL_BYTE",
    [BR_ERR_X509_BAD_BOOLEAN] = "X509_BAD_BOOLEAN",
    [BR_ERR_X509_OVERFLOW] = "X509_OVERFLOW",
    [BR_ERR_X509_BAD_DN] = "X509_BAD_DN",
    [BR_ERR_X509_BAD_TIME] = "X509_BAD_TIME",
    [BR_ERR_X509_UNSUPPORTED] = "X509_UNSUPPORTED",
    [BR_ERR_X509_LIMIT_EXCEEDED] = "X509_LIMIT_EXCEEDED",
    [BR_ERR_X509_WRONG_KEY_TYPE] = "X509_WRONG_KEY_TYPE",
    [BR_ERR_X509_BAD_SIGNATURE] = "X509_BAD_SIGNATURE",
    [BR_ERR_X509_TIME_UNKNOWN] = "X509_TIME_UNKNOWN",
    [BR_ERR_X509_EXPIRED] = "X509_EXPIRED",
    [BR_ERR_X509_DN_MISMATCH] = "X509_DN_MISMATCH",
    [BR_ERR_X509_BAD_SERVER_NAME] = "X509_BAD_SERVER_NAME",
    [BR_ERR_X509_CRITICAL_EXTENSION] = "X509_CRITICAL_EXTENSION",
    [BR_ERR_X509_NOT_CA] = "X509_NOT_CA",
    [BR_ERR_X509_FORBIDDEN_KEY_USAGE] = "X509_FORBIDDEN_KEY_USAGE",
    [BR_ERR_X509_WEAK_PUBLIC_KEY] = "X509_WEAK_PUBLIC_KEY",
    [BR_ERR_X509_NOT_TRUSTED] = "X509_NOT_TRUSTED",
};

const char *xr_tls_br_error_name(int e, char *buf, size_t cap)
{
    if (buf == NULL || cap == 0)
        return buf;
    const size_t n = sizeof ssl_error_names / sizeof ssl_error_names[0];
    if (e >= BR_ERR_SEND_FATAL_ALERT)
        snprintf(buf, cap, "SEND_ALERT_%d", e - BR_ERR_SEND_FATAL_ALERT);
    else if (e >= BR_ERR_RECV_FATAL_ALERT)
        snprintf(buf, cap, "RECV_ALERT_%d", e - BR_ERR_RECV_FATAL_ALERT);
    else if (e >= 0 && (size_t)e < n && ssl_error_names[e] != NULL)
        snprintf(buf, cap, "%s", ssl_error_names[e]);
    else
        snprintf(buf, cap, "BR_ERR_%d", e);
    return buf;
}
