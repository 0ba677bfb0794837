#!/bin/sh
# Runs python-etcd's own integration tests (shipped by Debian's python3-etcd) against a server:
#
#   run_python_etcd_suite.sh --server etcd|PATH
#
# Those tests start their clusters themselves (1 or 3 members, single-dash etcd flags, client
# ports 6001-6003, peer ports 8001-8003) from whatever 'etcd' comes first in PATH, so PATH gets a
# directory whose 'etcd' is the server under test (real etcd 3.4 gets --enable-v2 there).
# Left out, as upstream leaves them out or as they fail against etcd 3.4 the same way:
#   - test_ssl.py's test_get_set_authenticated (upstream marks it @nottest; its SHA-1 test CA
#     is refused by OpenSSL and Go clients alike);
#   - test_auth.py (python-etcd's auth module reads etcd 2.2's user format; etcd >= 2.3,
#     3.4 included, answers with role objects and the client raises TypeError).
# The tests import nose only for its @nottest decorator; a stand-in is provided when nose is
# not installed (Debian 12 no longer pulls it in).
# Exits 77 (ctest's skip) when python-etcd's tests, pytest or the server are missing.
set -u
server=""
while [ $# -gt 0 ]; do
    case "$1" in
        --server) server=$2; shift 2 ;;
        *) echo "usage: $0 --server etcd|PATH" >&2; exit 2 ;;
    esac
done
skip() { echo "SKIP: $*"; exit 77; }

py=/usr/bin/python3
"$py" -c 'import pytest' 2>/dev/null || skip "no python3 with pytest (Debian: python3-pytest)"
suite=$("$py" -c 'import os, etcd.tests.integration as t; print(os.path.dirname(t.__file__))' \
    2>/dev/null) || skip "python-etcd's tests missing (Debian: python3-etcd)"
[ -f "$suite/test_simple.py" ] || skip "python-etcd's tests missing (Debian: python3-etcd)"
"$py" -c 'import OpenSSL' 2>/dev/null || skip "pyOpenSSL missing (Debian: python3-openssl)"

work=$(mktemp -d "${TMPDIR:-/tmp}/et-python-etcd.XXXXXX") || exit 1
trap 'rm -rf "$work"' EXIT INT TERM
mkdir -p "$work/bin" "$work/shim/nose"
case "$server" in
    etcd)
        real=$(command -v etcd) || skip "etcd is not installed (Debian: etcd-server)"
        printf '#!/bin/sh\nexec %s --enable-v2 "$@"\n' "$real" >"$work/bin/etcd"
        chmod +x "$work/bin/etcd" ;;
    "") skip "no server given (--server)" ;;
    *)
        [ -x "$server" ] || skip "server binary '$server' not built"
        ln -s "$(cd "$(dirname "$server")" && pwd)/$(basename "$server")" "$work/bin/etcd" ;;
esac
if ! "$py" -c 'import nose.tools' 2>/dev/null; then
    : >"$work/shim/nose/__init__.py"
    printf 'def nottest(f):\n    f.__test__ = False\n    return f\n' >"$work/shim/nose/tools.py"
fi

cd "$work" || exit 1
PATH="$work/bin:$PATH" PYTHONPATH="$work/shim${PYTHONPATH:+:$PYTHONPATH}" \
    PYTHONDONTWRITEBYTECODE=1 TMPDIR="$work" \
    "$py" -m pytest -q -rfEs -p no:cacheprovider -W ignore::DeprecationWarning \
    "$suite/test_simple.py" "$suite/test_ssl.py" -k "not test_get_set_authenticated"
