#!/usr/bin/env python3
"""Randomized differential fuzzing of the v2 keys API against real etcd 3.4.

Starts a fresh real etcd (--enable-v2) and a fresh etcetera on 127.0.0.1,
then sends both the same seeded random sequence of raw HTTP requests and
compares status, the headers etcd sets and the JSON bodies.  Normalization
and comparison come from the shared harness (../shared/conformance/v2diff.py):
indexes relative to the index each server had at the start, expiration within
2 s, ttl within 1, URLs and member ids as placeholders.

The generator is much wider than v2diff --randomized: nested keys and
directories, hidden keys, odd characters and percent-escapes, '//', '.',
'..' and trailing slashes, dir=true, every prevExist/prevValue/prevIndex
combination with valid and invalid spellings, ttl (valid, empty, negative,
huge, non-numeric), refresh with and without value, recursive/sorted/quorum
GETs, recursive deletes, deleting the root, parameters in the query string,
in a form body or in both, duplicated parameters, other methods, long keys
and values, and wait=true with a waitIndex already in the history.

    diff_fuzz.py --server build/release/server/etcetera --seeds 1-5 --ops 3000
    diff_fuzz.py --server build/release/server/etcetera --short   # ctest: seed 1, 500 ops
    diff_fuzz.py --server etcd --seeds 3            # self-check: etcd against etcd

Exit status: 0 no difference, 1 differences, 77 (skip) when etcd, the shared
harness or the server binary is missing.
"""

import argparse
import os
import random
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.abspath(os.path.join(HERE, "..", ".."))
DEFAULT_SHARED = os.path.abspath(os.path.join(REPO, "..", "shared"))

TEMPLATE = ("{bin} {extra}--data-dir {{data_dir}} --name {{name}} "
            "--listen-client-urls http://127.0.0.1:{{client_port}} "
            "--advertise-client-urls http://127.0.0.1:{{client_port}} "
            "--listen-peer-urls http://127.0.0.1:{{peer_port}} "
            "--initial-advertise-peer-urls http://127.0.0.1:{{peer_port}} "
            "--initial-cluster {{name}}=http://127.0.0.1:{{peer_port}} "
            "--initial-cluster-state new")

FORM = "application/x-www-form-urlencoded"


def skip(msg):
    print("SKIP: " + msg)
    sys.exit(77)


# ---------------------------------------------------------------------------
# the generator
# ---------------------------------------------------------------------------

# Path segments as they appear in the URL (already escaped where needed).
SEGS = ["a", "b", "c", "d", "e", "k1", "_h", "_hid", "x%20y", "%C3%BCn", "a.b",
        "%25", "%2B", "+", "a%2Fb", "%3F", "%23", "~t", "-", "A", "a=b", "a;b", "q%26r",
        "emoji%F0%9F%98%80", "0", "0000000000000000001", "%7E", "%c3%bc", "%22q%22", "%3C%3E",
        "!$'()*,:@", "%5B%5D", "%7B%7D", "%5C", "%60", "%7F", "%FF", "%09tab", "%20"]
DIRS_TOP = ["f", "g", "_hd"]
VALUES = ["v1", "v2", "", "x y", "a&b=c", "\u00fcn\u00efc\u00f8de", "42", "tab\there",
          "nl\nline", "quote\"back\\slash", "<>&'", "\u0001ctl", "%41", "+plus+"]
BOOLS_OK = ["true", "false", "1", "0", "t", "f", "T", "F", "TRUE", "FALSE", "True", "False"]
BOOLS_BAD = ["maybe", "yes", "", "tRuE", " true", "2", "on"]


class Gen:
    def __init__(self, seed, slow=True):
        self.rng = random.Random(seed)
        self.slow = slow
        self.known = {}        # key -> relative modifiedIndex (reference)
        self.values = {}       # key -> value (reference)
        self.cur = 0           # last relative X-Etcd-Index seen on the reference

    # -- keys ------------------------------------------------------------------
    def key(self):
        rng = self.rng
        r = rng.random()
        if r < 0.35 and self.known:
            return self.quote_known(rng.choice(sorted(self.known)))
        if r < 0.40:
            return rng.choice(["/", "", "//", "/f/", "/f//", "/_hd/"])
        depth = rng.choice([1, 2, 2, 2, 2, 3, 3, 3, 4])
        parts = [rng.choice(DIRS_TOP)]
        for _ in range(depth - 1):
            parts.append(rng.choice(SEGS[:8]) if rng.random() < 0.75 else rng.choice(SEGS))
        k = "/" + "/".join(parts)
        x = rng.random()
        if x < 0.06:
            k += "/"
        elif x < 0.09:
            i = k.index("/", 1) if "/" in k[1:] else len(k)
            k = k[:i] + "/" + k[i:]
        elif x < 0.11:
            k = k + rng.choice(["/.", "/..", "/./a", "/../a"])
        elif x < 0.12:
            k = "/f/" + "L" * rng.choice([300, 2000, 7000])
        return k

    @staticmethod
    def quote_known(key):
        """Quotes a key seen in a reply; in-order names (<i+K>) become {k+K} tokens."""
        out = []
        for part in re.split(r"(<i[+-]\d+>)", key):
            m = re.match(r"^<i([+-]\d+)>$", part)
            out.append("{k%+d}" % int(m.group(1)) if m else urllib.parse.quote(part, safe="/"))
        return "".join(out)

    def dirkey(self):
        rng = self.rng
        parts = [rng.choice(DIRS_TOP)] + [rng.choice(SEGS[:6]) for _ in range(rng.randint(0, 2))]
        return "/" + "/".join(parts)

    def value(self):
        rng = self.rng
        r = rng.random()
        if r < 0.02:
            return "V" * rng.choice([5000, 70000])
        return rng.choice(VALUES)

    def index(self, key):
        rng = self.rng
        r = rng.random()
        plain = self.plain(key)
        if r < 0.45 and plain in self.known:
            return "{i%+d}" % self.known[plain]
        if r < 0.65:
            return "{i%+d}" % rng.randint(1, max(1, self.cur))
        return rng.choice(["abc", "0", "-1", "", "1.5", "99999999", "00", "18446744073709551615",
                           "18446744073709551616", "%2B3", " 4"])

    @staticmethod
    def plain(key):
        key = re.sub(r"\{k([+-]\d+)\}", lambda m: "<i%+d>" % int(m.group(1)), key)
        return urllib.parse.unquote(key)

    def prev_value(self, key):
        plain = self.plain(key)
        if plain in self.values and self.rng.random() < 0.6:
            return self.values[plain]
        return self.rng.choice(VALUES)

    def ttl(self):
        rng = self.rng
        r = rng.random()
        if r < 0.55:
            return str(rng.randint(200, 5000))
        # ttls whose expiry overflows int64 nanoseconds (about 7.4e9 and up) are a
        # documented deviation (spec Q8): not generated except 2^64, which both reject
        return rng.choice(["", "-1", "abc", "0", "1.5", "7000000000", "18446744073709551616",
                           "300s", " 300", "0300", "+5"])

    def boolv(self):
        rng = self.rng
        return rng.choice(BOOLS_OK) if rng.random() < 0.85 else rng.choice(BOOLS_BAD)

    # -- requests --------------------------------------------------------------
    def next_request(self):
        """Returns a v2diff step (request)."""
        rng = self.rng
        kind = rng.choices(
            ["put", "get", "delete", "post", "dir", "cas", "cad", "ttl", "refresh",
             "wait", "method", "root", "misc", "expire"],
            [16, 14, 8, 5, 6, 10, 6, 5, 4, 4, 2, 2, 3, 0.3 if self.slow else 0])[0]
        k = self.key()
        params = []            # (name, value)
        method = "PUT"
        wait_timeout = None
        if kind == "put":
            params.append(("value", self.value()))
            if rng.random() < 0.2:
                params.append(("dir", self.boolv()))
        elif kind == "get":
            method = rng.choice(["GET", "GET", "GET", "HEAD"])
            for name in ("recursive", "sorted", "quorum"):
                if rng.random() < 0.4:
                    params.append((name, self.boolv()))
        elif kind == "delete":
            method = "DELETE"
            if rng.random() < 0.5:
                params.append(("recursive", self.boolv()))
            if rng.random() < 0.4:
                params.append(("dir", self.boolv()))
            if rng.random() < 0.4:
                k = self.dirkey() if rng.random() < 0.7 else k
        elif kind == "post":
            method = "POST"
            k = self.dirkey() if rng.random() < 0.7 else k
            if rng.random() < 0.8:
                params.append(("value", self.value()))
            if rng.random() < 0.2:
                params.append(("dir", self.boolv()))
            if rng.random() < 0.2:
                params.append(("ttl", self.ttl()))
            if rng.random() < 0.15:
                params.append(("prevExist", self.boolv()))
        elif kind == "dir":
            k = self.dirkey() if rng.random() < 0.7 else k
            params.append(("dir", "true" if rng.random() < 0.8 else self.boolv()))
            if rng.random() < 0.3:
                params.append(("prevExist", self.boolv()))
            if rng.random() < 0.2:
                params.append(("ttl", self.ttl()))
            if rng.random() < 0.15:
                params.append(("value", self.value()))
        elif kind == "cas":
            params.append(("value", self.value()))
            for name in rng.sample(["prevExist", "prevValue", "prevIndex"], rng.randint(1, 3)):
                if name == "prevExist":
                    params.append((name, self.boolv()))
                elif name == "prevValue":
                    params.append((name, self.prev_value(k)))
                else:
                    params.append((name, self.index(k)))
        elif kind == "cad":
            method = "DELETE"
            for name in rng.sample(["prevValue", "prevIndex", "prevExist", "recursive", "dir"],
                                   rng.randint(1, 3)):
                if name == "prevValue":
                    params.append((name, self.prev_value(k)))
                elif name == "prevIndex":
                    params.append((name, self.index(k)))
                else:
                    params.append((name, self.boolv()))
        elif kind == "ttl":
            if rng.random() < 0.85:
                params.append(("value", self.value()))
            params.append(("ttl", self.ttl()))
            if rng.random() < 0.3:
                params.append(("prevExist", self.boolv()))
        elif kind == "refresh":
            params.append(("refresh", "true" if rng.random() < 0.85 else self.boolv()))
            if rng.random() < 0.85:
                params.append(("ttl", self.ttl()))
            if rng.random() < 0.3:
                params.append(("value", self.value()))
            r = rng.random()
            if r < 0.4:
                params.append(("prevExist", "true"))
            elif r < 0.55:
                params.append(("prevIndex", self.index(k)))
            elif r < 0.7:
                params.append(("prevValue", rng.choice(VALUES)))
            if rng.random() < 0.15:
                params.append(("dir", self.boolv()))
        elif kind == "wait":
            method = "GET"
            params.append(("wait", "true" if rng.random() < 0.9 else self.boolv()))
            if rng.random() < 0.5:
                params.append(("recursive", "true"))
                if rng.random() < 0.5:
                    k = rng.choice(["/", "/f", "/g", "/_hd"])
            if self.cur > 0:
                lo = max(1, self.cur - 50)
                r = rng.random()
                if r < 0.8:
                    params.append(("waitIndex", "{i%+d}" % rng.randint(lo, self.cur)))
                elif r < 0.85:
                    # possibly older than the 1000 events kept: 401 EventIndexCleared
                    params.append(("waitIndex", "{i%+d}" % rng.randint(1, max(1, self.cur - 900))))
                else:
                    params.append(("waitIndex", rng.choice(["abc", "", "-1", "0"])))
            else:
                params.append(("waitIndex", "abc"))
            wait_timeout = 1.0
        elif kind == "expire":
            # a key or directory that expires: the caller sleeps until both servers
            # have swept it, so listings, history and later writes see the expire event
            k = self.dirkey() if rng.random() < 0.5 else k
            params.append(("ttl", "1"))
            if rng.random() < 0.5:
                params.append(("dir", "true"))
            else:
                params.append(("value", self.value()))
            if rng.random() < 0.3:
                params.append(("prevExist", self.boolv()))
            step = self.place(method, k, params, None)
            step["sleep_after"] = 2.3
            return step
        elif kind == "method":
            method = rng.choice(["PATCH", "OPTIONS", "TRACE", "CONNECT", "FOO", "get"])
            if rng.random() < 0.5:
                params.append(("value", self.value()))
        elif kind == "root":
            method = rng.choice(["PUT", "POST", "DELETE", "GET"])
            k = rng.choice(["/", "", "//"])
            if rng.random() < 0.5:
                params.append(("recursive", "true"))
            if rng.random() < 0.5:
                params.append(("dir", "true"))
            if method in ("PUT", "POST") and rng.random() < 0.6:
                params.append(("value", self.value()))
        else:
            method = rng.choice(["PUT", "GET", "DELETE", "POST"])
            names = ["value", "dir", "ttl", "prevExist", "prevValue", "prevIndex", "recursive",
                     "sorted", "wait", "refresh", "quorum", "stream", "noValueOnSuccess",
                     "waitIndex", "bogus"]
            for name in rng.sample(names, rng.randint(1, 4)):
                if name in ("value", "prevValue", "bogus"):
                    params.append((name, rng.choice(VALUES)))
                elif name == "ttl":
                    params.append((name, self.ttl()))
                elif name in ("prevIndex", "waitIndex"):
                    params.append((name, self.index(k)))
                elif name in ("wait", "stream"):
                    params.append((name, "false"))
                else:
                    params.append((name, self.boolv()))
        # duplicated parameters
        if params and rng.random() < 0.08:
            n, _ = rng.choice(params)
            params.append((n, self.value() if n in ("value", "prevValue") else self.boolv()))
        return self.place(method, k, params, wait_timeout)

    def place(self, method, key, params, wait_timeout):
        """Puts the parameters into the query, a form body or both."""
        rng = self.rng
        query, form = [], []
        body_ok = method in ("PUT", "POST", "PATCH")
        mode = rng.random()
        for p in params:
            if body_ok and mode < 0.45:
                form.append(p)
            elif body_ok and mode < 0.55:
                (form if rng.random() < 0.5 else query).append(p)
            else:
                query.append(p)
        if body_ok and query and rng.random() < 0.05:
            # the same parameter in both places: the body wins
            n, _ = rng.choice(query)
            form.append((n, self.value() if n in ("value", "prevValue") else "false"))

        def enc(pairs):
            out = []
            for n, v in pairs:
                if v.startswith("{i") and v.endswith("}"):
                    out.append("%s=%s" % (n, v))
                else:
                    out.append("%s=%s" % (urllib.parse.quote(n), urllib.parse.quote(v, safe="")))
            return "&".join(out)

        path = "/v2/keys" + key
        qs = enc(query)
        if rng.random() < 0.05:
            # malformed query pieces: empty pairs, no '=', bad escapes, ';'
            junk = rng.choice(["&&", "value", ";x=1", "%zz=1", "x=%zz", "=v", "&sorted",
                               "value=a;b", "a=%", "%00=1", "value=a+b", "prevValue=a+b"])
            qs = qs + "&" + junk if qs else junk
        bad_path = rng.random() < 0.02
        if bad_path:
            path += rng.choice(["/%zz", "/%", "/%2", "/a%00b", "/%2e%2e/x", "/%2e"])
            # Go answers a malformed URL with 400 and closes at once: with a request
            # body left unread the close becomes a reset, so send none
            form = []
        if qs:
            path += "?" + qs
        step = {"req": "%s %s" % (method, path)}
        if form:
            step["form"] = [list(p) for p in form]
            ct = rng.choice([FORM] * 12 + ["application/x-www-form-urlencoded; charset=utf-8",
                                           "text/plain", "APPLICATION/X-WWW-FORM-URLENCODED",
                                           "application/x-www-form-urlencoded;",
                                           "application/x-www-form-urlencoded; charset",
                                           "multipart/form-data; boundary=x", "",
                                           " application/x-www-form-urlencoded",
                                           "application/x-www-form-urlencoded ; a=b"])
            step["headers"] = {"Content-Type": ct}
        elif body_ok and not bad_path and rng.random() < 0.03:
            step["body"] = ""
            step["headers"] = {"Content-Type": FORM}
        elif not body_ok and not bad_path and rng.random() < 0.05:
            # GET and DELETE bodies are not parsed (spec Q5)
            step["body"] = rng.choice(["value=x", "prevValue=zz&prevIndex=1", "recursive=true",
                                       "wait=true", "dir=true"])
            step["headers"] = {"Content-Type": FORM}
        if body_ok and not bad_path and rng.random() < 0.03:
            # malformed form bodies
            junk = rng.choice(["value=%zz", "value=a;b", "value=1&&prevExist=false", "=x",
                               "value", "value=a+b&ttl=%31%30", "value=1&value=2",
                               "dir=true&value=", "ttl=5&value=%"])
            step.pop("form", None)
            step["body"] = junk
            step["headers"] = {"Content-Type": FORM}
        if wait_timeout:
            step["timeout"] = wait_timeout
        return step

    def observe(self, norm, rel_cls):
        hdr = (norm.get("headers") or {}).get("x-etcd-index")
        if isinstance(hdr, str) and hdr.startswith("<i"):
            try:
                self.cur = max(self.cur, int(hdr[2:-1]))
            except ValueError:
                pass
        body = norm.get("body")
        if not isinstance(body, dict):
            return
        node = body.get("node")
        if not isinstance(node, dict) or not isinstance(node.get("key"), str):
            return
        key = node["key"]
        mi = node.get("modifiedIndex")
        if not isinstance(mi, rel_cls):
            return
        if body.get("action") in ("delete", "compareAndDelete", "expire"):
            for k in list(self.known):
                if k == key or k.startswith(key + "/"):
                    del self.known[k]
                    self.values.pop(k, None)
        elif body.get("action"):
            self.known[key] = mi.k
            if isinstance(node.get("value"), str):
                self.values[key] = node["value"]
        if len(self.known) > 200:
            k = sorted(self.known)[0]
            self.known.pop(k)
            self.values.pop(k, None)


# ---------------------------------------------------------------------------
# the run
# ---------------------------------------------------------------------------

def expires_soon(obj, approx_cls):
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "expiration" and isinstance(v, approx_cls) and v.value < 2.0:
                return True
            if expires_soon(v, approx_cls):
                return True
    elif isinstance(obj, list):
        return any(expires_soon(v, approx_cls) for v in obj)
    return False


def expirations(obj, approx_cls, out):
    """Seconds from now of every expiration in a normalized answer."""
    if isinstance(obj, dict):
        for k, v in obj.items():
            if k == "expiration" and isinstance(v, approx_cls):
                out.append(v.value)
            else:
                expirations(v, approx_cls, out)
    elif isinstance(obj, list):
        for v in obj:
            expirations(v, approx_cls, out)
    return out


# etcd removes expired nodes on its leader's 500 ms tick, etcetera at the expiration time, so
# for up to half a second the two differ by that removal (and its index).  No request is sent
# from just before a known expiration until both have surely removed the node.
EXPIRY_GUARD = (0.2, 1.2)


def wait_out_expiries(pending):
    now = time.monotonic()
    for t in sorted(pending):
        if t - EXPIRY_GUARD[0] <= now < t + EXPIRY_GUARD[1]:
            time.sleep(t + EXPIRY_GUARD[1] - now)
            now = time.monotonic()
    pending[:] = [t for t in pending if t + EXPIRY_GUARD[1] > now]


# In-order names (20 digits) inside a Location or redirect body, before the query.
IN_ORDER_Q = re.compile(r"(?<=/)(\d{20})(?=[?\"])")


def resort_nodes(obj):
    """Unsorted listings: order nodes by key and then createdIndex (distinct keys made of
    invalid UTF-8 both print as U+FFFD, so the key alone does not order them)."""
    if isinstance(obj, dict):
        for v in obj.values():
            resort_nodes(v)
        nodes = obj.get("nodes")
        if isinstance(nodes, list) and all(isinstance(n, dict) for n in nodes):
            nodes.sort(key=lambda n: (repr(n.get("key")), repr(n.get("createdIndex"))))
    elif isinstance(obj, list):
        for v in obj:
            resort_nodes(v)


# Headers whose presence may differ (transport details, spec Q13) or whose values are
# compared by the shared harness already.
LOOSE_HEADERS = {"connection", "keep-alive", "transfer-encoding", "content-length", "date",
                 "x-etcd-index", "x-etcd-cluster-id", "content-type", "location", "allow"}
# Headers whose values must be equal.
EXACT_HEADERS = {"access-control-allow-origin", "access-control-allow-methods",
                 "access-control-allow-headers", "x-content-type-options"}


def header_diffs(a, b):
    """Every header etcd sends must be there, with the same value where that is fixed."""
    if a.get("status") is None or b.get("status") is None:
        return []
    ha = {k.lower(): v for k, v in a["headers"]}
    hb = {k.lower(): v for k, v in b["headers"]}
    out = []
    for h in sorted(set(ha) | set(hb)):
        if h in LOOSE_HEADERS:
            continue
        if h not in hb:
            out.append("header %s: missing in target (reference: %r)" % (h, ha[h]))
        elif h not in ha:
            out.append("header %s: unexpected in target (%r)" % (h, hb[h]))
        elif h in EXACT_HEADERS and ha[h] != hb[h]:
            out.append("header %s: %r (reference) vs %r (target)" % (h, ha[h], hb[h]))
    return out


def run_seed(v2, args, seed, target_tpl, etcd_tpl):
    ref = v2.Server("reference", "fuzz")
    tgt = v2.Server("target", "fuzz")
    errors = []

    def start(s, tpl):
        try:
            s.start_process(tpl, 30)
        except Exception as e:  # noqa: BLE001
            errors.append("%s: %s" % (s.label, e))

    try:
        ths = [threading.Thread(target=start, args=(ref, etcd_tpl)),
               threading.Thread(target=start, args=(tgt, target_tpl))]
        for t in ths:
            t.start()
        for t in ths:
            t.join()
        if errors:
            print("seed %d: start-up failed: %s" % (seed, "; ".join(errors)))
            return None
        for s in (ref, tgt):
            s.ensure_nonzero_index()
        bases = [s.current_index() for s in (ref, tgt)]
        ctxs = [v2.Ctx(ref, bases[0]), v2.Ctx(tgt, bases[1])]
        gen = Gen(seed, slow=not args.short)
        diffs_found = []
        outcomes = {}
        pending_expiries = []  # time.monotonic() of expirations seen in answers
        for i in range(1, args.ops + 1):
            st = gen.next_request()
            while len(st["req"]) > 4000:
                # request lines over 4096 bytes: 3.4 resets the connection (spec Q12)
                st = gen.next_request()
            wait_out_expiries(pending_expiries)
            norms = []
            descs = []
            queries = []
            raws = []
            for ctx in ctxs:
                method, path, body, headers, meta = v2.build_request(st, ctx, None)
                res = ctx.server.request(method, path, body, headers,
                                         st.get("timeout", args.timeout))
                norms.append(v2.normalize_response(res, ctx, meta))
                raws.append(res)
                sorted_flag = meta.get("sorted")
                queries.append(urllib.parse.urlsplit(path).query)
                descs.append("%s %s%s%s" % (method, path, " body=%r" % body if body else "",
                                            " ct=%s" % headers["Content-Type"]
                                            if "Content-Type" in headers else ""))
            gen.observe(norms[0], v2.Rel)
            b = norms[0].get("body") if isinstance(norms[0].get("body"), dict) else {}
            oc = "%s %s" % (norms[0].get("status", norms[0].get("error")),
                            b.get("action") or b.get("errorCode") or "")
            outcomes[oc.strip()] = outcomes.get(oc.strip(), 0) + 1
            for n, q, ctx in zip(norms, queries, ctxs):
                if not sorted_flag:
                    resort_nodes(n.get("body"))
                loc = (n.get("headers") or {}).get("location")
                if loc:
                    n["headers"]["location"] = IN_ORDER_Q.sub(
                        lambda m: repr(v2.Rel(int(m.group(1)) - ctx.base)), loc)
                if isinstance(n.get("body"), str):
                    n["body"] = IN_ORDER_Q.sub(
                        lambda m: repr(v2.Rel(int(m.group(1)) - ctx.base)), n["body"])
                loc = (n.get("headers") or {}).get("location")
                if q and loc and loc.endswith("?" + q):
                    n["headers"]["location"] = loc[:-len(q)] + "<query>"
                if q and isinstance(n.get("body"), str):
                    n["body"] = n["body"].replace(q.replace("&", "&amp;"), "<query>")
            sent = time.monotonic()
            pending_expiries.extend(sent + left for left in
                                    expirations(norms[0], v2.Approx, []) if left >= 2.0)
            if st.get("sleep_after"):
                time.sleep(st["sleep_after"])
            elif expires_soon(norms[0], v2.Approx) or expires_soon(norms[1], v2.Approx):
                # a node that expires at once (ttl=0, an overflowing ttl) is removed
                # on each server's next expiry tick: let both ticks pass
                time.sleep(1.5)
            probs = v2.compare_results(norms[0], norms[1], st) + header_diffs(raws[0], raws[1])
            if args.verbose:
                print("  %d %s -> %s / %s" % (i, descs[0][:200], norms[0].get("status"),
                                             norms[1].get("status")))
            if probs:
                diffs_found.append(i)
                if len(diffs_found) <= args.max_show:
                    print("seed %d op %d: %s" % (seed, i, descs[0][:400]))
                    for p in probs[:10]:
                        print("    - %s" % p[:400])
                    if args.raw:
                        for lab, r in zip(("reference", "target"), raws):
                            print("    raw %s: %s %r" % (lab, r.get("status"), r.get("body")))
                    print("    reference: %s" % v2.show(norms[0], 800))
                    print("    target:    %s" % v2.show(norms[1], 800))
                if args.stop_after and len(diffs_found) >= args.stop_after:
                    break
            if not tgt.alive():
                print("seed %d: target exited (status %s) after op %d\n%s" % (
                    seed, tgt.proc.returncode, i, tgt.log_tail()))
                diffs_found.append(i)
                break
        if args.outcomes:
            print("seed %d reference outcomes: %s" % (seed, ", ".join(
                "%s x%d" % kv for kv in sorted(outcomes.items(), key=lambda kv: -kv[1]))))
        # a sanitizer build reports at exit (leaks) or while running: stop the target
        # first and read its log before the harness removes it
        if tgt.proc is not None and tgt.proc.poll() is None:
            os.killpg(tgt.proc.pid, signal.SIGTERM)
            try:
                tgt.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        log = tgt.log_tail(100000)
        for pat in ("AddressSanitizer", "LeakSanitizer", "runtime error:", "ThreadSanitizer"):
            if pat in log:
                print("seed %d: sanitizer report in the target's log:\n%s" % (
                    seed, log[log.index(pat) - 200 if log.index(pat) > 200 else 0:][:3000]))
                diffs_found.append(0)
                break
        return diffs_found
    finally:
        for s in (ref, tgt):
            s.stop()


def parse_seeds(text):
    out = []
    for part in text.split(","):
        if "-" in part:
            a, b = part.split("-", 1)
            out.extend(range(int(a), int(b) + 1))
        elif part:
            out.append(int(part))
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--server", required=True, help="etcetera binary, or 'etcd' for a self-check")
    p.add_argument("--shared", default=DEFAULT_SHARED, help="the shared/ directory")
    p.add_argument("--etcd-bin", default="etcd")
    p.add_argument("--seeds", default="1", help="e.g. 1-5 or 3,7 (default 1)")
    p.add_argument("--ops", type=int, default=2000, help="requests per seed")
    p.add_argument("--short", action="store_true", help="seed 1, 500 requests (the ctest case)")
    p.add_argument("--timeout", type=float, default=10.0)
    p.add_argument("--max-show", type=int, default=10, help="differences printed per seed")
    p.add_argument("--stop-after", type=int, default=0, help="stop a seed after N differences")
    p.add_argument("--raw", action="store_true", help="print raw bodies of differences")
    p.add_argument("--outcomes", action="store_true", help="print the reference's outcomes")
    p.add_argument("-v", "--verbose", action="store_true")
    args = p.parse_args()
    if args.short:
        args.seeds, args.ops = "1", 500

    v2path = os.path.join(args.shared, "conformance")
    if not os.path.isfile(os.path.join(v2path, "v2diff.py")):
        skip("%s/v2diff.py is missing (shared harness)" % v2path)
    if not shutil.which(args.etcd_bin):
        skip("etcd is not installed; it is the reference")
    sys.path.insert(0, v2path)
    import v2diff as v2  # noqa: E402

    etcd_tpl = TEMPLATE.format(bin=shlex.quote(args.etcd_bin), extra="--enable-v2 ")
    if args.server == "etcd":
        target_tpl = etcd_tpl
    else:
        if not (os.path.isfile(args.server) and os.access(args.server, os.X_OK)):
            skip("server binary '%s' not built" % args.server)
        target_tpl = TEMPLATE.format(bin=shlex.quote(os.path.abspath(args.server)),
                                     extra="--enable-v2 ")
    t0 = time.time()
    total = 0
    failed_seeds = []
    for seed in parse_seeds(args.seeds):
        res = None
        for _attempt in (1, 2):
            res = run_seed(v2, args, seed, target_tpl, etcd_tpl)
            if res is not None:
                break
        if res is None:
            failed_seeds.append(seed)
            continue
        total += len(res)
        print("seed %d: %d requests, %d differences" % (seed, args.ops, len(res)))
        if res:
            failed_seeds.append(seed)
        sys.stdout.flush()
    print("diff_fuzz: %d differences, seeds failing: %s (%.0fs)" % (
        total, failed_seeds or "none", time.time() - t0))
    return 1 if failed_seeds else 0


if __name__ == "__main__":
    sys.exit(main())
