"""Bootstrapping from DNS SRV records: --discovery-srv (spec/config.md,
spec/discovery.md 3.4), and etcetera-ctl's --discovery-srv (spec/etcdctl.md 4.3).

The records come from a small DNS responder (fakedns.py) on 127.0.0.1:53.
Each member runs in a mount namespace of its own where /etc/resolv.conf names
that responder, so nothing outside the test sees it.  That needs root (port 53
and the bind mount); elsewhere the tests are skipped.

Against real etcd only the failure messages are compared: etcd 3.4.23 reads the
http records (_etcd-server._tcp) only when the https lookup fails and then drops
them, so it cannot bootstrap from http records at all; etcetera joins both
lists, as etcd's documentation describes (README.md).
"""

import hashlib
import os
import shutil
import subprocess
import tempfile

import pytest

import fakedns
from itestlib import HOST, ServerProc, get, put, wait_until

DOMAIN = "srv.test"
WRAP = 'mount --bind "$0" /etc/resolv.conf && exec "$@"'


def in_namespace(resolv, argv):
    """@argv run with @resolv as its /etc/resolv.conf (a private mount namespace)."""
    return ["unshare", "-m", "sh", "-c", WRAP, resolv] + list(argv)


@pytest.fixture(scope="module")
def dns():
    if os.geteuid() != 0 or shutil.which("unshare") is None:
        pytest.skip("needs root and unshare (port 53, a private /etc/resolv.conf)")
    tmp = tempfile.mkdtemp(prefix="et-srv-")
    resolv = os.path.join(tmp, "resolv.conf")
    with open(resolv, "w") as f:
        f.write("nameserver 127.0.0.1\noptions timeout:1 attempts:2\n")
    try:
        probe = subprocess.run(in_namespace(resolv, ["true"]), capture_output=True, timeout=10)
        if probe.returncode != 0:
            pytest.skip("cannot bind-mount /etc/resolv.conf: %s" % probe.stderr.decode().strip())
        try:
            server = fakedns.Server(HOST, 53)
        except OSError as e:
            pytest.skip("cannot serve DNS on %s:53: %s" % (HOST, e))
        server.resolv = resolv
        try:
            yield server
        finally:
            server.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


class SrvMember(ServerProc):
    """A member that finds its cluster in SRV records: no --initial-cluster,
    advertising a peer URL by host name (m<i>.srv.test, which resolves to
    127.0.0.1) and listening on 127.0.0.1."""

    def __init__(self, binary, kind, resolv, domain=DOMAIN, **kw):
        super().__init__(binary, kind, **kw)
        self.resolv = resolv
        self.domain = domain
        self.host = "%s.%s" % (self.name, DOMAIN)
        self.adv_peer_url = "http://%s:%d" % (self.host, self.peer_port)

    def argv(self):
        return in_namespace(self.resolv, [
            self.binary,
            "--name", self.name,
            "--data-dir", self.data_dir,
            "--listen-client-urls", self.url,
            "--advertise-client-urls", self.url,
            "--listen-peer-urls", self.peer_url,
            "--initial-advertise-peer-urls", self.adv_peer_url,
            "--discovery-srv", self.domain,
            "--enable-v2"])


@pytest.fixture
def members(server_bin, server_kind, dns):
    made = []

    def make(name, **kw):
        m = SrvMember(server_bin, server_kind, dns.resolv, name=name, **kw)
        made.append(m)
        return m

    try:
        yield make
    finally:
        for m in made:
            m.cleanup()


def zone(ms, service="_etcd-server._tcp", extra=()):
    lines = ["%s.%s SRV 0 0 %d %s." % (service, DOMAIN, m.peer_port, m.host) for m in ms]
    lines += ["%s A 127.0.0.1" % m.host for m in ms]
    return lines + list(extra)


def member_id(peer_urls, token):
    h = hashlib.sha1(("".join(sorted(peer_urls)) + token).encode()).digest()
    return "%x" % int.from_bytes(h[:8], "big")


def test_three_members_bootstrap_from_http_records(members, dns, server_kind, server_bin):
    if server_kind == "etcd":
        pytest.skip("etcd 3.4.23 cannot bootstrap from _etcd-server (http) records")
    ms = [members("m%d" % i) for i in range(3)]
    dns.set_zone(zone(ms))
    for m in ms:
        m.start(wait=False)
    for m in ms:
        m.wait_ready(timeout=30)

    r = get(ms[2], "/v2/members")
    assert r.status == 200, r
    got = sorted((x["name"], x["id"], x["peerURLs"]) for x in r.json()["members"])
    # every member derived the same IDs from the records' URLs (default token)
    want = sorted((m.name, member_id([m.adv_peer_url], "etcd-cluster"), [m.adv_peer_url])
                  for m in ms)
    assert got == want
    assert "got bootstrap from DNS for etcd-server at m0=%s" % ms[0].adv_peer_url in ms[0].log()
    assert "_etcd-server-ssl._tcp.%s" % DOMAIN in dns.queries

    r = put(ms[0], "/v2/keys/srv", form={"value": "found"})
    assert r.status == 201, r
    r, _ = wait_until(lambda: (lambda r: r if r.status == 200 else None)(
        get(ms[1], "/v2/keys/srv")), 10, 0.05)
    assert r is not None and r.json()["node"]["value"] == "found"

    # A restart reads its data dir, not the SRV records: it comes back with them gone (the
    # peer URLs are host names, so the names still resolve).
    dns.set_zone(["%s A 127.0.0.1" % m.host for m in ms])
    ms[1].restart()
    assert get(ms[1], "/v2/keys/srv").json()["node"]["value"] == "found"

    # etcetera-ctl finds the cluster's client URLs in _etcd-client._tcp records.
    ctl = os.path.join(os.path.dirname(os.path.dirname(server_bin)), "tools", "etcetera-ctl")
    if not os.access(ctl, os.X_OK):
        return
    dns.set_zone(["_etcd-client._tcp.%s SRV 0 0 %d %s." % (DOMAIN, ms[2].client_port, ms[2].host),
                  "%s A 127.0.0.1" % ms[2].host])
    out = subprocess.run(in_namespace(dns.resolv, [ctl, "--discovery-srv", DOMAIN,
                                                   "--insecure-discovery", "get", "/srv"]),
                         capture_output=True, timeout=30)
    assert out.returncode == 0, out
    assert out.stdout == b"found\n"
    out = subprocess.run(in_namespace(dns.resolv, [ctl, "--discovery-srv", DOMAIN, "get", "/srv"]),
                         capture_output=True, timeout=30)
    assert out.returncode != 0
    assert ('ignoring discovered insecure endpoint "http://%s.:%d"'
            % (ms[2].host, ms[2].client_port)).encode() in out.stderr


def test_a_member_missing_from_the_records_does_not_start(members, dns, server_kind):
    if server_kind == "etcd":
        pytest.skip("etcd 3.4.23 cannot bootstrap from _etcd-server (http) records")
    ms = [members("m%d" % i) for i in range(2)]
    stranger = members("m9")
    dns.set_zone(zone(ms, extra=["%s A 127.0.0.1" % stranger.host]))
    stranger.start(wait=False)
    assert stranger.wait_exit() == 1
    assert ('error setting up initial cluster: cannot find local etcd member "m9" in SRV records'
            in stranger.log())


def test_an_advertised_name_that_does_not_resolve_is_etcds_error(members, dns):
    m = members("m0")
    dns.set_zone([line for line in zone([m]) if " A " not in line])
    m.start(wait=False)
    assert m.wait_exit() == 1
    msg = ("error setting up initial cluster: lookup %s on 127.0.0.1:53: no such host"
           % m.host)
    assert msg in m.log()


def test_no_records_is_etcds_error(members, dns):
    m = members("m0", domain="nowhere.test")
    dns.set_zone(["%s A 127.0.0.1" % m.host])
    m.start(wait=False)
    assert m.wait_exit() == 1
    msg = ("error setting up initial cluster: error querying DNS SRV records for "
           "_etcd-server-ssl lookup _etcd-server-ssl._tcp.nowhere.test on 127.0.0.1:53: "
           "no such host")
    assert msg in m.log()
