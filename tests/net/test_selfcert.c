/*
 * tests/net/test_selfcert.c - the --auto-tls certificate (net/selfcert.h): the files appear in
 * a new directory (mode 0700) with etcd's modes, OpenSSL loads them back as a matching
 * certificate and P-521 key, the certificate says what etcd's says (O=etcd, self-issued and
 * self-signed, 365 days from now, serverAuth, CA:FALSE, one SAN per host: IPv4, IPv6 and DNS),
 * a second call reuses the files byte for byte, a missing key makes a new pair, and a path
 * that cannot be a directory fails with a message.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <criterion/criterion.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/ssl.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "net/selfcert.h"

static char t_root[64];

static void t_setup(void)
{
    snprintf(t_root, sizeof(t_root), "/tmp/et-selfcert-XXXXXX");
    cr_assert(mkdtemp(t_root) != NULL);
}

static void t_teardown(void)
{
    char cmd[128];
    snprintf(cmd, sizeof(cmd), "rm -rf '%s'", t_root);
    cr_assert(system(cmd) == 0);
}

TestSuite(selfcert, .init = t_setup, .fini = t_teardown);

static char *t_read(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    cr_assert(f != NULL, "%s: %s", path, strerror(errno));
    struct et_buf b = ET_BUF_INIT;
    char chunk[4096];
    size_t n;
    while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
        et_buf_append(&b, chunk, n);
    fclose(f);
    *len = b.len;
    return b.data;
}

static X509 *t_load_cert(const char *path)
{
    FILE *f = fopen(path, "r");
    cr_assert(f != NULL);
    X509 *x = PEM_read_X509(f, NULL, NULL, NULL);
    fclose(f);
    cr_assert(x != NULL, "cert.pem does not parse");
    return x;
}

/* The SANs as "IP:..." / "DNS:..." joined by ", " (as openssl x509 -text prints them). */
static void t_sans(X509 *x, char *out, size_t n)
{
    GENERAL_NAMES *g = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
    cr_assert(g != NULL, "no subjectAltName");
    out[0] = '\0';
    for (int i = 0; i < sk_GENERAL_NAME_num(g); i++) {
        const GENERAL_NAME *e = sk_GENERAL_NAME_value(g, i);
        char one[80];
        if (e->type == GEN_DNS) {
            snprintf(one, sizeof(one), "DNS:%s", (const char *)ASN1_STRING_get0_data(e->d.dNSName));
        } else {
            cr_assert_eq(e->type, GEN_IPADD);
            int len = ASN1_STRING_length(e->d.iPAddress);
            char txt[64];
            cr_assert(inet_ntop(len == 4 ? AF_INET : AF_INET6,
                                ASN1_STRING_get0_data(e->d.iPAddress), txt, sizeof(txt)) != NULL);
            snprintf(one, sizeof(one), "IP:%s", txt);
        }
        if (i > 0)
            strncat(out, ", ", n - strlen(out) - 1);
        strncat(out, one, n - strlen(out) - 1);
    }
    GENERAL_NAMES_free(g);
}

Test(selfcert, generates_what_etcd_generates)
{
    char dir[128], err[256] = "";
    snprintf(dir, sizeof(dir), "%s/data/fixtures/client", t_root);
    const char *hosts[] = { "127.0.0.1", "localhost", "::1", "", "127.0.0.1" };
    struct net_selfcert sc;
    time_t before = time(NULL);
    cr_assert_eq(net_selfcert(dir, hosts, 5, &sc, err, sizeof(err)), 0, "%s", err);
    cr_assert(sc.created);
    struct et_buf want = ET_BUF_INIT;
    et_buf_printf(&want, "%s/cert.pem", dir);
    cr_assert_str_eq(sc.cert_file, want.data);
    want.len = 0;
    et_buf_printf(&want, "%s/key.pem", dir);
    cr_assert_str_eq(sc.key_file, want.data);
    et_buf_free(&want);

    struct stat st;
    cr_assert_eq(stat(dir, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0700);
    cr_assert_eq(stat(sc.key_file, &st), 0);
    cr_assert_eq(st.st_mode & 0777, 0600);
    cr_assert_eq(stat(sc.cert_file, &st), 0);
    cr_assert_eq(st.st_mode & 0600, 0600);
    cr_assert_eq(st.st_mode & 0111, 0);

    size_t klen;
    char *kpem = t_read(sc.key_file, &klen);
    cr_assert(strncmp(kpem, "-----BEGIN EC PRIVATE KEY-----\n", 31) == 0, "%s", kpem);
    et_free(kpem);

    /* OpenSSL takes the pair as a server certificate */
    SSL_CTX *ctx = SSL_CTX_new(TLS_server_method());
    cr_assert_eq(SSL_CTX_use_certificate_chain_file(ctx, sc.cert_file), 1);
    cr_assert_eq(SSL_CTX_use_PrivateKey_file(ctx, sc.key_file, SSL_FILETYPE_PEM), 1);
    cr_assert_eq(SSL_CTX_check_private_key(ctx), 1);
    SSL_CTX_free(ctx);

    X509 *x = t_load_cert(sc.cert_file);
    cr_assert_eq(X509_get_version(x), X509_VERSION_3);
    char name[128];
    X509_NAME_oneline(X509_get_subject_name(x), name, sizeof(name));
    cr_assert_str_eq(name, "/O=etcd");
    cr_assert_eq(X509_NAME_cmp(X509_get_subject_name(x), X509_get_issuer_name(x)), 0);
    EVP_PKEY *pub = X509_get0_pubkey(x);
    cr_assert_eq(EVP_PKEY_get_base_id(pub), EVP_PKEY_EC);
    cr_assert_eq(EVP_PKEY_get_bits(pub), 521);
    cr_assert_eq(X509_verify(x, pub), 1, "not self-signed");
    cr_assert_eq(X509_get_signature_nid(x), NID_ecdsa_with_SHA512);
    BIGNUM *serial = ASN1_INTEGER_to_BN(X509_get0_serialNumber(x), NULL);
    cr_assert_gt(BN_num_bits(serial), 64); /* 128 random bits: fewer than 65 once in 2^64 */
    BN_free(serial);

    /* valid from now for 365 days */
    int days, secs;
    cr_assert_eq(ASN1_TIME_diff(&days, &secs, X509_get0_notBefore(x), X509_get0_notAfter(x)), 1);
    cr_assert_eq(days, NET_SELFCERT_VALID_DAYS);
    cr_assert_eq(secs, 0);
    time_t t = before - 1;
    cr_assert_eq(X509_cmp_time(X509_get0_notBefore(x), &t), 1, "notBefore is in the past");
    t = time(NULL) + 1;
    cr_assert_eq(X509_cmp_time(X509_get0_notBefore(x), &t), -1, "notBefore is in the future");

    /* usages: serverAuth, not a CA; host names checked as a client would */
    cr_assert_eq(X509_check_purpose(x, X509_PURPOSE_SSL_SERVER, 0), 1);
    cr_assert_eq(X509_check_ca(x), 0);
    cr_assert(X509_get_key_usage(x) & KU_DIGITAL_SIGNATURE);
    cr_assert(X509_get_key_usage(x) & KU_KEY_ENCIPHERMENT);
    cr_assert(X509_get_extended_key_usage(x) & XKU_SSL_SERVER);
    char sans[256];
    t_sans(x, sans, sizeof(sans));
    cr_assert_str_eq(sans, "DNS:localhost, IP:127.0.0.1, IP:::1, IP:127.0.0.1");
    cr_assert_eq(X509_check_ip_asc(x, "127.0.0.1", 0), 1);
    cr_assert_eq(X509_check_ip_asc(x, "::1", 0), 1);
    cr_assert_eq(X509_check_host(x, "localhost", 0, 0, NULL), 1);
    cr_assert_neq(X509_check_host(x, "example.com", 0, 0, NULL), 1);
    X509_free(x);
    net_selfcert_free(&sc);
}

Test(selfcert, existing_files_are_reused_and_a_lost_key_regenerates_both)
{
    char dir[128], err[256] = "";
    snprintf(dir, sizeof(dir), "%s/peer", t_root);
    const char *hosts[] = { "127.0.0.1" };
    struct net_selfcert a, b, c;
    cr_assert_eq(net_selfcert(dir, hosts, 1, &a, err, sizeof(err)), 0, "%s", err);
    size_t cl, kl, cl2, kl2;
    char *c1 = t_read(a.cert_file, &cl), *k1 = t_read(a.key_file, &kl);

    /* other hosts on a later start do not matter: the files stay as they are */
    const char *other[] = { "10.0.0.1", "example.com" };
    cr_assert_eq(net_selfcert(dir, other, 2, &b, err, sizeof(err)), 0, "%s", err);
    cr_assert_not(b.created);
    char *c2 = t_read(b.cert_file, &cl2), *k2 = t_read(b.key_file, &kl2);
    cr_assert(cl == cl2 && memcmp(c1, c2, cl) == 0);
    cr_assert(kl == kl2 && memcmp(k1, k2, kl) == 0);
    et_free(c2);
    et_free(k2);

    cr_assert_eq(unlink(b.key_file), 0);
    cr_assert_eq(net_selfcert(dir, other, 2, &c, err, sizeof(err)), 0, "%s", err);
    cr_assert(c.created);
    c2 = t_read(c.cert_file, &cl2);
    cr_assert(cl != cl2 || memcmp(c1, c2, cl) != 0, "the certificate was not replaced");
    X509 *x = t_load_cert(c.cert_file);
    char sans[256];
    t_sans(x, sans, sizeof(sans));
    cr_assert_str_eq(sans, "DNS:example.com, IP:10.0.0.1");
    X509_free(x);
    et_free(c1);
    et_free(c2);
    et_free(k1);
    net_selfcert_free(&a);
    net_selfcert_free(&b);
    net_selfcert_free(&c);
}

Test(selfcert, no_hosts_gives_no_san_and_distinct_serials)
{
    char d1[128], d2[128], err[256] = "";
    snprintf(d1, sizeof(d1), "%s/one", t_root);
    snprintf(d2, sizeof(d2), "%s/two", t_root);
    struct net_selfcert a, b;
    cr_assert_eq(net_selfcert(d1, NULL, 0, &a, err, sizeof(err)), 0, "%s", err);
    cr_assert_eq(net_selfcert(d2, NULL, 0, &b, err, sizeof(err)), 0, "%s", err);
    X509 *x = t_load_cert(a.cert_file), *y = t_load_cert(b.cert_file);
    cr_assert_null(X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL));
    cr_assert_neq(ASN1_INTEGER_cmp(X509_get0_serialNumber(x), X509_get0_serialNumber(y)), 0);
    X509_free(x);
    X509_free(y);
    net_selfcert_free(&a);
    net_selfcert_free(&b);
}

Test(selfcert, a_file_in_the_way_is_an_error)
{
    char file[128], dir[160], err[256] = "";
    snprintf(file, sizeof(file), "%s/plain", t_root);
    FILE *f = fopen(file, "w");
    cr_assert(f != NULL);
    fclose(f);
    snprintf(dir, sizeof(dir), "%s/fixtures/client", file);
    const char *hosts[] = { "127.0.0.1" };
    struct net_selfcert sc;
    cr_assert_eq(net_selfcert(dir, hosts, 1, &sc, err, sizeof(err)), -ENOTDIR);
    char want[160];
    snprintf(want, sizeof(want), "mkdir %s: not a directory", file);
    cr_assert_str_eq(err, want);
    cr_assert_null(sc.cert_file);
    cr_assert_eq(net_selfcert("", hosts, 1, &sc, err, sizeof(err)), -EINVAL);
}
