"""Members that talk to each other over https peer URLs, as etcd with --peer-cert-file,
--peer-key-file, --peer-trusted-ca-file and --peer-client-cert-auth: a 3-member cluster
replicates writes and survives a killed member, a member joins an https cluster with
--initial-cluster-state existing (the member list is fetched over TLS), the peer port speaks
only TLS and wants a client certificate, and a member whose certificate the CA did not sign
never forms a cluster (the TLS failure is logged). Certificates are made with openssl for
each test run (a CA; peer certificates with IP SAN 127.0.0.1 for server and client use).
Runs against etcd and etcetera alike."""
import os
import shutil
import subprocess
import tempfile
import time

import pytest

import itestlib
from itestlib import HOST, get, put, request, wait_until


def _openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), check=True, capture_output=True, cwd=cwd,
                   timeout=30)


def _make_ca(d, name):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
             "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "1", "-subj",
             "/CN=" + name, "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _make_cert(d, name, ca, san="IP:127.0.0.1"):
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nsubjectAltName=%s\n"
                "extendedKeyUsage=serverAuth,clientAuth\n" % san)
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + name, cwd=d)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-CAcreateserial", "-out", name + ".pem", "-days", "1", "-extfile", name + ".ext",
             cwd=d)
    return os.path.join(d, name + ".pem"), os.path.join(d, name + ".key")


@pytest.fixture(scope="module")
def certs():
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tempfile.mkdtemp(prefix="et-peer-tls-")
    try:
        _make_ca(d, "ca")
        _make_ca(d, "rogue-ca")
        yield {"dir": d, "ca": os.path.join(d, "ca.pem"),
               "good": _make_cert(d, "peer", "ca"),
               "rogue": _make_cert(d, "rogue", "rogue-ca")}
    finally:
        shutil.rmtree(d, ignore_errors=True)


class TlsPeerProc(itestlib.ServerProc):
    """A member whose peer URL is https; state "existing" for a member joining later."""

    def __init__(self, *a, state="new", **kw):
        super().__init__(*a, **kw)
        self.peer_url = "https://%s:%d" % (HOST, self.peer_port)
        self.state = state

    def argv(self):
        a = super().argv()
        a[a.index("--initial-cluster-state") + 1] = self.state
        return a


def tls_args(certs, cert="good"):
    c, k = certs[cert]
    return ["--peer-cert-file", c, "--peer-key-file", k, "--peer-trusted-ca-file", certs["ca"],
            "--peer-client-cert-auth"]


def tls_cluster(pytestconfig, made, certs, certs_of, start=True):
    """Members named m0.. with https peer URLs; certs_of[i] picks member i's certificate."""
    kind, binary = pytestconfig.et_server
    ports = [(itestlib.free_port(), itestlib.free_port()) for _ in certs_of]
    initial = ",".join("m%d=https://%s:%d" % (i, HOST, pp) for i, (_, pp) in enumerate(ports))
    members = []
    for i, (pp, which) in enumerate(zip(ports, certs_of)):
        s = TlsPeerProc(binary, kind, name="m%d" % i, ports=pp, initial_cluster=initial,
                        extra_args=tls_args(certs, which))
        made.append(s)
        members.append(s)
    if start:
        for s in members:
            s.start(wait=False)
        for s in members:
            s.wait_ready(60)
    return members


def leader_of(members, timeout=15):
    def find():
        for m in members:
            if not m.running():
                continue
            try:
                r = get(m, "/v2/stats/self", timeout=2)
            except OSError:
                continue
            if r.status == 200 and r.json()["state"] == "StateLeader":
                return m
        return None
    m, _ = wait_until(find, timeout, 0.1)
    return m


def quorum_value(m, key):
    r = get(m, "/v2/keys%s?quorum=true" % key, timeout=15)
    return r.json()["node"]["value"] if r.status == 200 else r


def test_https_cluster_replicates_and_survives_a_killed_member(pytestconfig, made, certs):
    cluster = tls_cluster(pytestconfig, made, certs, ["good"] * 3)
    members = get(cluster[0], "/v2/members").json()["members"]
    assert sorted(u for m in members for u in m["peerURLs"]) == sorted(m.peer_url for m in cluster)
    assert all(u.startswith("https://") for m in members for u in m["peerURLs"])
    for n, m in enumerate(cluster):
        assert put(m, "/v2/keys/tls/k%d" % n, {"value": m.name}).status == 201
    for m in cluster:
        for n, w in enumerate(cluster):
            assert quorum_value(m, "/tls/k%d" % n) == w.name
    lead = leader_of(cluster)
    assert lead is not None, "no leader"
    followers = get(lead, "/v2/stats/leader").json()["followers"]
    assert len(followers) == 2 and all(f["counts"]["success"] > 0 for f in followers.values())

    # kill the leader: the two others elect a new one and keep committing over TLS
    lead.kill()
    rest = [m for m in cluster if m is not lead]
    ok, _ = wait_until(lambda: put(rest[0], "/v2/keys/tls/after", {"value": "x"},
                                   timeout=10).status in (200, 201), 30, 0.2)
    assert ok, "the remaining members did not commit after the leader was killed:\n" + \
        rest[0].log_tail()
    assert quorum_value(rest[1], "/tls/after") == "x"
    assert put(rest[1], "/v2/keys/tls/after2", {"value": "y"}, timeout=15).status == 201
    assert quorum_value(rest[0], "/tls/after2") == "y"

    # the killed member comes back, reconnects over TLS and catches up
    lead.start(wait=False)
    lead.wait_ready(60)
    got, _ = wait_until(lambda: get(lead, "/v2/keys/tls/after2").status == 200, 15, 0.1)
    assert got, "restarted member did not catch up"
    assert put(lead, "/v2/keys/tls/back", {"value": "z"}, timeout=15).status == 201
    assert quorum_value(rest[0], "/tls/back") == "z"


def test_peer_port_is_tls_with_client_certificates(pytestconfig, made, certs):
    (m,) = tls_cluster(pytestconfig, made, certs, ["good"])
    c, k = certs["good"]
    base = ["curl", "-sS", "--http1.1", "--max-time", "5", "-o", "/dev/null", "-w", "%{http_code}"]
    plain = subprocess.run(base + ["http://%s:%d/version" % (HOST, m.peer_port)],
                           capture_output=True, timeout=20)
    assert plain.stdout != b"200", "the https peer port answered plain http"
    no_cert = subprocess.run(base + ["--cacert", certs["ca"], m.peer_url + "/version"],
                             capture_output=True, timeout=20)
    assert no_cert.stdout != b"200", "a client without a certificate was served"
    with_cert = subprocess.run(base + ["--cacert", certs["ca"], "--cert", c, "--key", k,
                                       m.peer_url + "/version"], capture_output=True, timeout=20)
    assert with_cert.stdout == b"200", with_cert.stderr


def test_member_joins_an_https_cluster(pytestconfig, made, certs):
    kind, binary = pytestconfig.et_server
    (first,) = tls_cluster(pytestconfig, made, certs, ["good"])
    ports = (itestlib.free_port(), itestlib.free_port())
    peer_url = "https://%s:%d" % (HOST, ports[1])
    r = request(first, "POST", "/v2/members", body='{"peerURLs":["%s"]}' % peer_url,
                headers={"Content-Type": "application/json"}, timeout=15)
    assert r.status == 201, r
    new = TlsPeerProc(binary, kind, name="m1", ports=ports, state="existing",
                      initial_cluster=first.initial_cluster + ",m1=" + peer_url,
                      extra_args=tls_args(certs))
    made.append(new)
    new.start(timeout=60)
    assert put(new, "/v2/keys/joined", {"value": "yes"}, timeout=15).status == 201
    assert quorum_value(first, "/joined") == "yes"
    names = sorted(m["name"] for m in get(first, "/v2/members").json()["members"])
    assert names == ["m0", "m1"]


def test_member_with_a_foreign_certificate_cannot_join(pytestconfig, made, certs):
    # two members, so that without the second there is no quorum: m1's certificate is signed
    # by a CA that m0 does not trust (m1 trusts the right CA, so m0's certificate is fine)
    cluster = tls_cluster(pytestconfig, made, certs, ["good", "rogue"], start=False)
    for m in cluster:
        m.start(wait=False)
    t0 = time.time()
    # long enough for many elections and reconnections (election timeout 1 s)
    while time.time() - t0 < 6:
        assert all(m.running() for m in cluster), "a member exited:\n" + cluster[1].log_tail()
        for m in cluster:
            try:
                r = get(m, "/v2/stats/self", timeout=2)
            except OSError:
                continue
            assert r.status != 200 or r.json()["state"] != "StateLeader", \
                "%s became leader although its peer's certificate is not trusted" % m.name
        time.sleep(0.3)
    try:  # etcd holds the write until its own timeout; either way it is not committed
        r = put(cluster[0], "/v2/keys/nope", {"value": "x"}, timeout=8)
        assert r.status not in (200, 201), r
    except OSError:
        pass
    with open(cluster[0].logfile, "rb") as f:
        log0 = f.read().decode("utf-8", "replace")
    # etcetera says "certificate verify failed", etcd "certificate signed by unknown authority"
    assert "certificate verify failed" in log0 or "unknown authority" in log0, \
        "m0 did not log the rejected certificate:\n" + cluster[0].log_tail()
    # the CPU stays low: failures back off instead of spinning
    for m in cluster:
        with open("/proc/%d/stat" % m.proc.pid) as f:
            fields = f.read().rsplit(")", 1)[1].split()
        cpu_s = (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        assert cpu_s < 0.5 * (time.time() - t0), "%s burnt %.1f s of CPU" % (m.name, cpu_s)
