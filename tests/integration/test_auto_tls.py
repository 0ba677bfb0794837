"""--auto-tls and --peer-auto-tls (etcd 3.4): a member with an https client URL and no
certificate files makes a self-signed certificate in <data-dir>/fixtures/client/{cert,key}.pem
(ECDSA P-521, O=etcd, one year, SANs from the listen URLs' hosts, key mode 0600) and serves
it: curl -k, Python without verification and `ETCDCTL_API=2 etcdctl --ca-file <that cert>`
(etcdctl v2 has no --insecure-skip-tls-verify) set and get keys; the files survive a restart
byte for byte and are what the server presents; certificate files given with --auto-tls win
(warning "ignoring client auto TLS since certs given"). Three members with https peer URLs and
--peer-auto-tls each make <data-dir>/fixtures/peer/{cert,key}.pem, accept each other's
self-signed certificates unverified, and replicate writes. Also: http URLs still get the
files (with etcd's warnings), the YAML auto-tls keys work, and a file where fixtures/ should be
is fatal ("could not get certs (mkdir ...: not a directory)"). Runs against etcd and etcetera
alike."""
import http.client
import json
import os
import shutil
import ssl
import stat
import subprocess
import tempfile
import time
import urllib.parse

import pytest

import itestlib
from itestlib import HOST, get, put, wait_until


@pytest.fixture(autouse=True)
def _need_openssl():
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")


def https_request(url, method, path, form=None, timeout=10):
    """(status, body bytes, the server's certificate as DER) without verifying it."""
    u = urllib.parse.urlsplit(url)
    ctx = ssl._create_unverified_context()  # noqa: SLF001 - what a -k client does
    conn = http.client.HTTPSConnection(u.hostname, u.port, timeout=timeout, context=ctx)
    try:
        body = urllib.parse.urlencode(form) if form is not None else None
        hdrs = {"Content-Type": "application/x-www-form-urlencoded"} if body else {}
        conn.request(method, path, body=body, headers=hdrs)
        r = conn.getresponse()
        data = r.read()
        der = conn.sock.getpeercert(binary_form=True)
        return r.status, data, der
    finally:
        conn.close()


def cert_der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def served_der(host, port):
    """The certificate a TLS port presents (no verification)."""
    return ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate((host, port), timeout=10))


def x509_text(path):
    r = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-text", "-startdate",
                        "-enddate"], capture_output=True, check=True, timeout=20)
    return r.stdout.decode()


class AutoTlsProc(itestlib.ServerProc):
    """A member with https client URLs (127.0.0.1 and localhost) and --auto-tls, or https peer
    URLs and --peer-auto-tls (peer=True); the readiness check speaks TLS when it must."""

    def __init__(self, *a, client_tls=True, peer_tls=False, **kw):
        super().__init__(*a, **kw)
        self.client_tls = client_tls
        if client_tls:
            self.url = "https://%s:%d" % (HOST, self.client_port)
            self.local_port = itestlib.free_port()
        if peer_tls:
            self.peer_url = "https://%s:%d" % (HOST, self.peer_port)
            if "initial_cluster" not in kw:
                self.initial_cluster = "%s=%s" % (self.name, self.peer_url)
        self.fixtures = os.path.join(self.data_dir, "fixtures")

    def argv(self):
        a = super().argv()
        if self.client_tls:
            i = a.index("--listen-client-urls") + 1
            a[i] = "%s,https://localhost:%d" % (self.url, self.local_port)
        return a

    def wait_ready(self, timeout=30.0):
        if not self.client_tls:
            return super().wait_ready(timeout)
        deadline = time.time() + timeout
        last = None
        while time.time() < deadline:
            if not self.running():
                raise itestlib.ServerError("%s exited with status %s during start-up\n%s" % (
                    self.binary, self.proc.returncode, self.log_tail()))
            try:
                status, body, _ = https_request(self.url, "GET", "/health", timeout=3)
                if status == 200 and b'"true"' in body:
                    return
                last = "health %s %r" % (status, body[:80])
            except (OSError, ssl.SSLError) as e:
                last = str(e)
            time.sleep(0.05)
        raise itestlib.ServerError("server not ready after %.0fs (last: %s)\n%s" % (
            timeout, last, self.log_tail()))


def etcdctl(url, ca, *args):
    env = dict(os.environ, ETCDCTL_API="2")
    return subprocess.run(["etcdctl", "--endpoints", url, "--ca-file", ca] + list(args),
                          capture_output=True, env=env, timeout=30)


def curl(*args):
    return subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True,
                          timeout=30)


def test_auto_tls_client_certificate(pytestconfig, made):
    kind, binary = pytestconfig.et_server
    s = AutoTlsProc(binary, kind, name="auto", extra_args=["--auto-tls"])
    made.append(s)
    s.start()
    client = os.path.join(s.fixtures, "client")
    cert, key = os.path.join(client, "cert.pem"), os.path.join(client, "key.pem")
    assert sorted(os.listdir(s.fixtures)) == ["client"]
    assert sorted(os.listdir(client)) == ["cert.pem", "key.pem"]
    assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
    assert stat.S_IMODE(os.stat(client).st_mode) == 0o700
    assert stat.S_IMODE(os.stat(cert).st_mode) & 0o600 == 0o600
    with open(key) as f:
        assert f.read().startswith("-----BEGIN EC PRIVATE KEY-----\n")

    text = x509_text(cert)
    assert "Issuer: O = etcd\n" in text and "Subject: O = etcd\n" in text, text
    assert "Public-Key: (521 bit)" in text and "NIST CURVE: P-521" in text, text
    assert "Signature Algorithm: ecdsa-with-SHA512" in text, text
    assert "TLS Web Server Authentication" in text and "CA:FALSE" in text, text
    sans = text.split("X509v3 Subject Alternative Name:", 1)[1].split("\n")[1].strip()
    assert sans == "DNS:localhost, IP Address:127.0.0.1", text
    start = ssl.cert_time_to_seconds(text.split("notBefore=", 1)[1].split("\n")[0])
    end = ssl.cert_time_to_seconds(text.split("notAfter=", 1)[1].split("\n")[0])
    assert end - start == 365 * 86400
    assert abs(start - time.time()) < 120

    # the server presents that certificate, on both listen URLs
    assert served_der(HOST, s.client_port) == cert_der(cert)
    assert served_der("localhost", s.local_port) == cert_der(cert)

    # curl: verification fails without -k, works with it (and with the cert as CA)
    r = curl(s.url + "/version")
    assert r.returncode != 0 and b"etcdserver" not in r.stdout
    r = curl("-k", "-XPUT", s.url + "/v2/keys/auto/curl", "-d", "value=c1")
    assert r.returncode == 0 and b'"value":"c1"' in r.stdout, r
    r = curl("--cacert", cert, "https://localhost:%d/v2/keys/auto/curl" % s.local_port)
    assert r.returncode == 0 and b'"value":"c1"' in r.stdout, r

    # python, unverified
    status, body, _ = https_request(s.url, "PUT", "/v2/keys/auto/py", form={"value": "p1"})
    assert status == 201, body
    status, body, _ = https_request(s.url, "GET", "/v2/keys/auto/curl")
    assert status == 200 and json.loads(body)["node"]["value"] == "c1"

    # etcdctl v2 trusts the generated certificate as its CA
    r = etcdctl(s.url, cert, "set", "/auto/ctl", "e1")
    assert r.returncode == 0, r.stderr
    r = etcdctl(s.url, cert, "get", "/auto/py")
    assert r.returncode == 0 and r.stdout == b"p1\n", r

    log = s.log()
    assert "ClientTLS: cert = %s, key = %s" % (cert, key) in log

    # a restart keeps the files as they are and serves the same certificate
    with open(cert, "rb") as f:
        cert_bytes = f.read()
    with open(key, "rb") as f:
        key_bytes = f.read()
    mtime = os.stat(cert).st_mtime_ns
    s.restart()
    with open(cert, "rb") as f:
        assert f.read() == cert_bytes
    with open(key, "rb") as f:
        assert f.read() == key_bytes
    assert os.stat(cert).st_mtime_ns == mtime
    assert served_der(HOST, s.client_port) == cert_der(cert)
    r = etcdctl(s.url, cert, "get", "/auto/ctl")
    assert r.returncode == 0 and r.stdout == b"e1\n", r


def test_certificate_files_win_over_auto_tls(pytestconfig, made):
    kind, binary = pytestconfig.et_server
    work = tempfile.mkdtemp(prefix="et-autotls-")
    try:
        cert, key = os.path.join(work, "c.pem"), os.path.join(work, "k.pem")
        subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout",
                        key, "-out", cert, "-days", "1", "-subj", "/CN=given",
                        "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                       check=True, capture_output=True, timeout=30)
        s = AutoTlsProc(binary, kind, name="given",
                        extra_args=["--auto-tls", "--cert-file", cert, "--key-file", key])
        made.append(s)
        s.start()
        assert not os.path.exists(s.fixtures)
        assert served_der(HOST, s.client_port) == cert_der(cert)
        r = curl("--cacert", cert, "-XPUT", s.url + "/v2/keys/given", "-d", "value=g")
        assert r.returncode == 0 and b'"value":"g"' in r.stdout, r
        assert "ignoring client auto TLS since certs given" in s.log()
    finally:
        shutil.rmtree(work, ignore_errors=True)


def test_auto_tls_with_http_urls_still_makes_the_files(pytestconfig, made):
    """etcd makes the certificates whatever the scheme, then warns that http ignores them."""
    kind, binary = pytestconfig.et_server
    s = AutoTlsProc(binary, kind, name="plain", client_tls=False,
                    extra_args=["--auto-tls", "--peer-auto-tls"])
    made.append(s)
    s.start()
    assert put(s, "/v2/keys/plain", {"value": "x"}).status == 201
    for side in ("client", "peer"):
        d = os.path.join(s.fixtures, side)
        assert sorted(os.listdir(d)) == ["cert.pem", "key.pem"], side
    log = s.log()
    assert "The scheme of client url %s is HTTP while peer key/cert files are presented. " \
        "Ignored key/cert files." % s.url in log
    assert "The scheme of peer url %s is HTTP while peer key/cert files are presented. " \
        "Ignored peer key/cert files." % s.peer_url in log


def test_peer_auto_tls_cluster(pytestconfig, made):
    kind, binary = pytestconfig.et_server
    ports = [(itestlib.free_port(), itestlib.free_port()) for _ in range(3)]
    initial = ",".join("m%d=https://%s:%d" % (i, HOST, pp) for i, (_, pp) in enumerate(ports))
    cluster = []
    for i, pp in enumerate(ports):
        s = AutoTlsProc(binary, kind, name="m%d" % i, ports=pp, initial_cluster=initial,
                        client_tls=False, peer_tls=True, extra_args=["--peer-auto-tls"])
        made.append(s)
        cluster.append(s)
    for s in cluster:
        s.start(wait=False)
    for s in cluster:
        s.wait_ready(60)

    members = get(cluster[0], "/v2/members").json()["members"]
    assert sorted(u for m in members for u in m["peerURLs"]) == sorted(s.peer_url for s in cluster)

    assert put(cluster[0], "/v2/keys/peerauto", {"value": "from-m0"}, timeout=15).status == 201
    r = get(cluster[2], "/v2/keys/peerauto?quorum=true", timeout=15)
    assert r.status == 200 and r.json()["node"]["value"] == "from-m0", r
    assert put(cluster[2], "/v2/keys/peerauto2", {"value": "from-m2"}, timeout=15).status == 201
    got, _ = wait_until(lambda: get(cluster[1], "/v2/keys/peerauto2").status == 200, 10, 0.05)
    assert got
    assert get(cluster[1], "/v2/keys/peerauto2").json()["node"]["value"] == "from-m2"

    certs = set()
    for s in cluster:
        peer = os.path.join(s.fixtures, "peer")
        cert, key = os.path.join(peer, "cert.pem"), os.path.join(peer, "key.pem")
        assert sorted(os.listdir(s.fixtures)) == ["peer"]
        assert stat.S_IMODE(os.stat(key).st_mode) == 0o600
        text = x509_text(cert)
        sans = text.split("X509v3 Subject Alternative Name:", 1)[1].split("\n")[1].strip()
        assert sans == "IP Address:127.0.0.1", text
        # the peer port is TLS with this member's own generated certificate
        assert served_der(HOST, s.peer_port) == cert_der(cert)
        assert "peerTLS: cert = %s, key = %s" % (cert, key) in s.log()
        certs.add(cert_der(cert))
    assert len(certs) == 3  # each member made its own

    # a restarted member reuses its files and rejoins over TLS
    m1 = cluster[1]
    cert1 = os.path.join(m1.fixtures, "peer", "cert.pem")
    before = cert_der(cert1)
    m1.restart(timeout=60)
    assert cert_der(cert1) == before
    assert put(m1, "/v2/keys/peerauto3", {"value": "again"}, timeout=15).status == 201
    r = get(cluster[0], "/v2/keys/peerauto3?quorum=true", timeout=15)
    assert r.status == 200 and r.json()["node"]["value"] == "again", r


def test_auto_tls_from_a_config_file(pytestconfig, made):
    """client-transport-security / peer-transport-security: auto-tls: true in --config-file."""
    kind, binary = pytestconfig.et_server
    s = AutoTlsProc(binary, kind, name="yaml", peer_tls=True)
    made.append(s)
    conf = os.path.join(s.workdir, "etcd.yaml")
    with open(conf, "w") as f:
        f.write("name: yaml\ndata-dir: %s\nlisten-client-urls: %s\nadvertise-client-urls: %s\n"
                "listen-peer-urls: %s\ninitial-advertise-peer-urls: %s\n"
                "initial-cluster: yaml=%s\nenable-v2: true\n"
                "client-transport-security:\n  auto-tls: true\n"
                "peer-transport-security:\n  auto-tls: true\n"
                % (s.data_dir, s.url, s.url, s.peer_url, s.peer_url, s.peer_url))
    s.argv = lambda: [binary, "--config-file", conf]
    s.start()
    status, body, der = https_request(s.url, "PUT", "/v2/keys/yaml", form={"value": "y"})
    assert status == 201, body
    assert der == cert_der(os.path.join(s.fixtures, "client", "cert.pem"))
    assert served_der(HOST, s.peer_port) == cert_der(os.path.join(s.fixtures, "peer", "cert.pem"))


def test_a_file_in_the_way_of_the_fixtures_is_fatal(pytestconfig, made):
    kind, binary = pytestconfig.et_server
    s = AutoTlsProc(binary, kind, name="blocked", extra_args=["--auto-tls"])
    made.append(s)
    with open(s.fixtures, "w") as f:
        f.write("not a directory\n")
    s.start(wait=False)
    assert s.proc.wait(timeout=20) != 0
    assert "could not get certs (mkdir %s: not a directory)" % s.fixtures in s.log()
