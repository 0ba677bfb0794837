/*
 * net/selfcert.c - the self-signed certificate of --auto-tls / --peer-auto-tls (see
 * net/selfcert.h for what it contains and why). Built with OpenSSL's X509 API; the files go
 * through a temporary name and rename(), so a crash leaves either no file or a whole one.
 */
#include "net/selfcert.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <openssl/bn.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/buf.h"

static int fail(char *err, size_t err_len, int ret, const char *fmt, ...) ET_PRINTF(4, 5);

static int fail(char *err, size_t err_len, int ret, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (err_len > 0)
        vsnprintf(err, err_len, fmt, ap);
    va_end(ap);
    return ret;
}

/* The last OpenSSL error as text (the queue is cleared). */
static const char *ssl_why(char *buf, size_t n)
{
    unsigned long e = ERR_peek_last_error();
    if (e == 0)
        snprintf(buf, n, "unknown OpenSSL error");
    else
        ERR_error_string_n(e, buf, n);
    ERR_clear_error();
    return buf;
}

/* An errno's text as Go prints it ("not a directory"), for etcd's messages. */
static void go_strerror(int e, char *buf, size_t n)
{
    snprintf(buf, n, "%s", strerror(e));
    if (buf[0] >= 'A' && buf[0] <= 'Z')
        buf[0] = (char)(buf[0] - 'A' + 'a');
}

/*
 * mkdir -p with mode 0700 for the directories it creates (existing ones are left alone). On
 * failure returns -errno with "mkdir <the path that failed>: <why>" in @err, as Go's
 * os.MkdirAll reports it (a file in the way is ENOTDIR at that file).
 */
static int mkdir_p(const char *path, char *err, size_t err_len)
{
    size_t len = strlen(path);
    char *tmp = et_strndup(path, len);
    int ret = 0;
    for (size_t i = 1; i <= len && ret == 0; i++) {
        if (tmp[i] != '/' && tmp[i] != '\0')
            continue;
        char c = tmp[i];
        tmp[i] = '\0';
        struct stat st;
        if (mkdir(tmp, 0700) < 0) {
            if (errno != EEXIST)
                ret = -errno;
            else if (stat(tmp, &st) < 0)
                ret = -errno;
            else if (!S_ISDIR(st.st_mode))
                ret = -ENOTDIR;
        }
        if (ret != 0) {
            char why[128];
            go_strerror(-ret, why, sizeof(why));
            fail(err, err_len, ret, "mkdir %s: %s", tmp, why);
        }
        tmp[i] = c;
    }
    et_free(tmp);
    return ret;
}

static bool host_is_ip(const char *host)
{
    unsigned char ip[16];
    return inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
}

/* Appends one subjectAltName entry for @host: IP literal or DNS name. */
static int san_add(GENERAL_NAMES *gens, const char *host)
{
    unsigned char ip[16];
    int type = GEN_DNS, ip_len = 0;
    if (inet_pton(AF_INET, host, ip) == 1) {
        type = GEN_IPADD;
        ip_len = 4;
    } else if (inet_pton(AF_INET6, host, ip) == 1) {
        type = GEN_IPADD;
        ip_len = 16;
        static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
        if (memcmp(ip, v4mapped, 12) == 0) { /* as Go's x509: an IPv4 address is 4 bytes */
            memmove(ip, ip + 12, 4);
            ip_len = 4;
        }
    }
    GENERAL_NAME *g = GENERAL_NAME_new();
    ASN1_STRING *v = type == GEN_IPADD ? ASN1_OCTET_STRING_new() : ASN1_IA5STRING_new();
    if (g == NULL || v == NULL)
        goto fail;
    if (type == GEN_IPADD ? ASN1_OCTET_STRING_set(v, ip, ip_len) != 1
                          : ASN1_STRING_set(v, host, (int)strlen(host)) != 1)
        goto fail;
    GENERAL_NAME_set0_value(g, type, v);
    if (sk_GENERAL_NAME_push(gens, g) <= 0) {
        GENERAL_NAME_free(g);
        return -1;
    }
    return 0;
fail:
    ASN1_STRING_free(v);
    GENERAL_NAME_free(g);
    return -1;
}

static int ext_add(X509 *x, int nid, const char *value)
{
    X509V3_CTX ctx;
    X509V3_set_ctx(&ctx, x, x, NULL, NULL, 0);
    X509_EXTENSION *ext = X509V3_EXT_conf_nid(NULL, &ctx, nid, value);
    if (ext == NULL)
        return -1;
    int ok = X509_add_ext(x, ext, -1);
    X509_EXTENSION_free(ext);
    return ok == 1 ? 0 : -1;
}

/* The certificate for @key (see the header), or NULL on an OpenSSL failure. */
static X509 *cert_make(EVP_PKEY *key, const char *const *hosts, size_t host_count)
{
    X509 *x = X509_new();
    BIGNUM *serial = BN_new();
    GENERAL_NAMES *gens = sk_GENERAL_NAME_new_null();
    X509_NAME *name = NULL;
    bool ok = x != NULL && serial != NULL && gens != NULL;
    ok = ok && X509_set_version(x, X509_VERSION_3) == 1;
    /* a random serial in [0, 2^128), as etcd draws it */
    ok = ok && BN_rand(serial, 128, BN_RAND_TOP_ANY, BN_RAND_BOTTOM_ANY) == 1 &&
         BN_to_ASN1_INTEGER(serial, X509_get_serialNumber(x)) != NULL;
    ok = ok && (name = X509_get_subject_name(x)) != NULL &&
         X509_NAME_add_entry_by_txt(name, "O", V_ASN1_PRINTABLESTRING,
                                    (const unsigned char *)"etcd", -1, -1, 0) == 1 &&
         X509_set_issuer_name(x, name) == 1;
    ok = ok && X509_gmtime_adj(X509_getm_notBefore(x), 0) != NULL &&
         X509_time_adj_ex(X509_getm_notAfter(x), NET_SELFCERT_VALID_DAYS, 0, NULL) != NULL;
    ok = ok && X509_set_pubkey(x, key) == 1;
    /* extensions in the order Go's x509 writes them */
    ok = ok && ext_add(x, NID_key_usage, "critical,digitalSignature,keyEncipherment") == 0 &&
         ext_add(x, NID_ext_key_usage, "serverAuth") == 0 &&
         ext_add(x, NID_basic_constraints, "critical,CA:FALSE") == 0;
    for (int pass = 0; pass < 2; pass++) /* DNS names, then IP addresses, as Go's x509 */
        for (size_t i = 0; ok && i < host_count; i++)
            if (hosts[i] != NULL && hosts[i][0] != '\0' && host_is_ip(hosts[i]) == (pass == 1))
                ok = san_add(gens, hosts[i]) == 0;
    if (ok && sk_GENERAL_NAME_num(gens) > 0)
        ok = X509_add1_ext_i2d(x, NID_subject_alt_name, gens, 0, X509V3_ADD_DEFAULT) == 1;
    ok = ok && X509_sign(x, key, EVP_sha512()) > 0;
    GENERAL_NAMES_free(gens);
    BN_free(serial);
    if (!ok) {
        X509_free(x);
        return NULL;
    }
    return x;
}

/* Writes @len bytes to @path through "<path>.tmp" with @mode (less the umask), then renames. */
static int file_replace(const char *path, const void *data, size_t len, mode_t mode)
{
    struct et_buf tmp = ET_BUF_INIT;
    et_buf_printf(&tmp, "%s.tmp", path);
    int ret = 0, fd = open(tmp.data, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode);
    if (fd < 0) {
        ret = -errno;
        goto out;
    }
    for (size_t off = 0; off < len && ret == 0;) {
        ssize_t n = write(fd, (const char *)data + off, len - off);
        if (n < 0 && errno != EINTR)
            ret = -errno;
        else if (n > 0)
            off += (size_t)n;
    }
    if (ret == 0 && fsync(fd) < 0)
        ret = -errno;
    if (close(fd) < 0 && ret == 0)
        ret = -errno;
    if (ret == 0 && rename(tmp.data, path) < 0)
        ret = -errno;
    if (ret != 0)
        (void)unlink(tmp.data);
out:
    et_buf_free(&tmp);
    return ret;
}

/* PEM text of @key (traditional "EC PRIVATE KEY") or @cert into a fresh memory BIO. */
static BIO *pem_of(EVP_PKEY *key, X509 *cert)
{
    BIO *b = BIO_new(BIO_s_mem());
    if (b == NULL)
        return NULL;
    int ok = key ? PEM_write_bio_PrivateKey_traditional(b, key, NULL, NULL, 0, NULL, NULL)
                 : PEM_write_bio_X509(b, cert);
    if (ok != 1) {
        BIO_free(b);
        return NULL;
    }
    return b;
}

static int generate(const struct net_selfcert *sc, const char *const *hosts, size_t host_count,
                    char *err, size_t err_len)
{
    char why[256];
    int ret = 0;
    X509 *cert = NULL;
    BIO *kb = NULL, *cb = NULL;
    EVP_PKEY *key = EVP_EC_gen("P-521");
    if (key == NULL || (cert = cert_make(key, hosts, host_count)) == NULL ||
        (kb = pem_of(key, NULL)) == NULL || (cb = pem_of(NULL, cert)) == NULL) {
        ret = fail(err, err_len, -EIO, "cannot generate a self-signed certificate: %s",
                   ssl_why(why, sizeof(why)));
        goto out;
    }
    char *p;
    long n = BIO_get_mem_data(cb, &p);
    if ((ret = file_replace(sc->cert_file, p, (size_t)n, 0666)) != 0) {
        char e[128];
        go_strerror(-ret, e, sizeof(e));
        fail(err, err_len, ret, "open %s: %s", sc->cert_file, e);
        goto out;
    }
    n = BIO_get_mem_data(kb, &p);
    if ((ret = file_replace(sc->key_file, p, (size_t)n, 0600)) != 0) {
        char e[128];
        go_strerror(-ret, e, sizeof(e));
        fail(err, err_len, ret, "open %s: %s", sc->key_file, e);
    }
out:
    BIO_free(cb);
    BIO_free(kb);
    X509_free(cert);
    EVP_PKEY_free(key);
    return ret;
}

int net_selfcert(const char *dir, const char *const *hosts, size_t host_count,
                 struct net_selfcert *out, char *err, size_t err_len)
{
    ET_ASSERT(dir != NULL && out != NULL);
    ET_ASSERT(hosts != NULL || host_count == 0);
    *out = (struct net_selfcert){ 0 };
    if (dir[0] == '\0')
        return fail(err, err_len, -EINVAL, "no directory for the self-signed certificate");
    int ret = mkdir_p(dir, err, err_len);
    if (ret != 0)
        return ret;
    struct et_buf c = ET_BUF_INIT, k = ET_BUF_INIT;
    et_buf_printf(&c, "%s/cert.pem", dir);
    et_buf_printf(&k, "%s/key.pem", dir);
    out->cert_file = et_strdup(c.data);
    out->key_file = et_strdup(k.data);
    et_buf_free(&c);
    et_buf_free(&k);
    struct stat st;
    if (stat(out->cert_file, &st) == 0 && stat(out->key_file, &st) == 0)
        return 0; /* made by an earlier start: reused as they are, as etcd does */
    ret = generate(out, hosts, host_count, err, err_len);
    if (ret != 0) {
        net_selfcert_free(out);
        return ret;
    }
    out->created = true;
    return 0;
}

void net_selfcert_free(struct net_selfcert *sc)
{
    et_free(sc->cert_file);
    et_free(sc->key_file);
    *sc = (struct net_selfcert){ 0 };
}
