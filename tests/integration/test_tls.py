"""TLS client URLs: https with etcd's --cert-file/--key-file, HTTP/1.1 and HTTP/2 (ALPN), and
etcdctl with --ca-file. Runs against etcd and etcetera alike."""
import contextlib
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import itestlib
from itestlib import HOST


def openssl(*args):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True)


@contextlib.contextmanager
def serving(binary, work, cert, key):
    """A member on an https client URL with @cert and @key; yields the URL."""
    cport, pport = itestlib.free_port(), itestlib.free_port()
    url = "https://%s:%d" % (HOST, cport)
    peer = "http://%s:%d" % (HOST, pport)
    log = open(os.path.join(work, "server.log"), "wb")
    proc = subprocess.Popen([binary, "--name", "tls", "--data-dir", os.path.join(work, "data"),
                             "--listen-client-urls", url, "--advertise-client-urls", url,
                             "--listen-peer-urls", peer, "--initial-advertise-peer-urls", peer,
                             "--initial-cluster", "tls=" + peer, "--cert-file", cert,
                             "--key-file", key, "--enable-v2"],
                            stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        deadline = time.time() + 30
        while time.time() < deadline:
            r = subprocess.run(["curl", "-sk", url + "/health"], capture_output=True)
            if b"true" in r.stdout:
                break
            if proc.poll() is not None:
                log.flush()
                with open(os.path.join(work, "server.log"), "rb") as f:
                    pytest.fail("server exited during start-up:\n" + f.read().decode())
            time.sleep(0.1)
        yield url
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


@pytest.fixture
def tls_server(pytestconfig):
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    kind, binary = pytestconfig.et_server
    work = tempfile.mkdtemp(prefix="et-tls-")
    cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=localhost",
            "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost")
    try:
        with serving(binary, work, cert, key) as url:
            yield url, cert
    finally:
        shutil.rmtree(work, ignore_errors=True)


def curl(*args):
    r = subprocess.run(["curl", "-sS", "--max-time", "10"] + list(args), capture_output=True)
    assert r.returncode == 0, r.stderr
    return r.stdout.decode()


def test_https_http1_and_http2(tls_server):
    url, cert = tls_server
    out = curl("--http1.1", "--cacert", cert, "-XPUT", url + "/v2/keys/tls", "-d", "value=one")
    assert '"value":"one"' in out
    out = curl("--http2", "--cacert", cert, "-w", "\n%{http_version}", url + "/v2/keys/tls")
    body, version = out.rsplit("\n", 1)
    assert '"value":"one"' in body
    assert version == "2"


def test_plain_http_is_refused_on_a_tls_port(tls_server):
    url, cert = tls_server
    r = subprocess.run(["curl", "-s", "--max-time", "5", url.replace("https", "http") + "/version"],
                       capture_output=True)
    assert b"etcdserver" not in r.stdout


def test_etcdctl_over_tls(tls_server):
    url, cert = tls_server
    env = dict(os.environ, ETCDCTL_API="2")
    r = subprocess.run(["etcdctl", "--endpoints", url, "--ca-file", cert, "set", "/t", "v"],
                       capture_output=True, env=env, timeout=20)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["etcdctl", "--endpoints", url, "--ca-file", cert, "get", "/t"],
                       capture_output=True, env=env, timeout=20)
    assert r.stdout == b"v\n"


def test_etcdctl_watch_over_tls_waits_for_a_late_event(tls_server):
    """Over https etcdctl speaks HTTP/2 (ALPN): the watch's headers must come at once, or the
    client's per-request header timeout (1 s) fails the watch before the event arrives."""
    url, cert = tls_server
    env = dict(os.environ, ETCDCTL_API="2")
    watch = subprocess.Popen(["etcdctl", "--endpoints", url, "--ca-file", cert, "watch", "/late"],
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
    try:
        time.sleep(2.5)
        assert watch.poll() is None, watch.stderr.read()
        r = subprocess.run(["etcdctl", "--endpoints", url, "--ca-file", cert, "set", "/late", "x"],
                           capture_output=True, env=env, timeout=20)
        assert r.returncode == 0, r.stderr
        out, err = watch.communicate(timeout=20)
        assert watch.returncode == 0, err
        assert out == b"x\n"
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()


def test_http2_long_poll_sends_its_headers_at_once(tls_server):
    """A parked watch over HTTP/2 answers its headers before any event, as over HTTP/1.1."""
    url, cert = tls_server
    r = subprocess.run(["curl", "-s", "--http2", "--cacert", cert, "-D", "-", "--max-time", "2",
                        url + "/v2/keys/h2watch?wait=true"], capture_output=True)
    assert r.returncode == 28, r  # the watch is still parked when curl gives up
    head = r.stdout.decode().lower()
    assert head.startswith("http/2 200"), head
    assert "x-etcd-index:" in head


def test_http2_long_poll_gets_a_later_event(tls_server):
    url, cert = tls_server
    watch = subprocess.Popen(["curl", "-s", "--http2", "--cacert", cert, "--max-time", "10",
                              url + "/v2/keys/h2late?wait=true"], stdout=subprocess.PIPE)
    try:
        time.sleep(1)
        curl("--http2", "--cacert", cert, "-XPUT", url + "/v2/keys/h2late", "-d", "value=z")
        out, _ = watch.communicate(timeout=15)
        assert watch.returncode == 0
        assert b'"action":"set"' in out and b'"value":"z"' in out
    finally:
        if watch.poll() is None:
            watch.kill()
            watch.wait()


def test_a_sha1_signed_certificate_is_served_as_etcd_serves_it(pytestconfig):
    """A server certificate signed with SHA-1 by a SHA-1 CA (older tooling makes these, as
    python-etcd's own test CA does): the member starts and serves it, as etcd (Go) does; a client
    that skips verification gets answers, and one that verifies refuses the weak chain."""
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    kind, binary = pytestconfig.et_server
    work = tempfile.mkdtemp(prefix="et-tls-sha1-")
    try:
        ca, ca_key = os.path.join(work, "ca.pem"), os.path.join(work, "ca.key")
        cert, key = os.path.join(work, "cert.pem"), os.path.join(work, "key.pem")
        csr, ext = os.path.join(work, "cert.csr"), os.path.join(work, "ext")
        openssl("req", "-x509", "-sha1", "-newkey", "rsa:2048", "-nodes", "-keyout", ca_key,
                "-out", ca, "-days", "1", "-subj", "/CN=old test CA")
        openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", key, "-out", csr,
                "-subj", "/CN=127.0.0.1")
        with open(ext, "w") as f:
            f.write("subjectAltName=IP:127.0.0.1\n")
        openssl("x509", "-req", "-sha1", "-in", csr, "-CA", ca, "-CAkey", ca_key,
                "-CAcreateserial", "-out", cert, "-days", "1", "-extfile", ext)
        with serving(binary, work, cert, key) as url:
            out = curl("-k", "-XPUT", url + "/v2/keys/sha1", "-d", "value=old")
            assert '"value":"old"' in out
            assert '"value":"old"' in curl("-k", url + "/v2/keys/sha1")
            r = subprocess.run(["curl", "-s", "--max-time", "10", "--cacert", ca,
                                url + "/v2/keys/sha1"], capture_output=True)
            assert r.returncode != 0 and b"old" not in r.stdout
    finally:
        shutil.rmtree(work, ignore_errors=True)
