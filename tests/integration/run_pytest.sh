#!/bin/sh
# Runs integration test files with pytest against one server binary.
#
#   run_pytest.sh --server etcd|PATH [--needs "curl etcdctl"] FILE... [-- PYTEST-ARGS]
#
# Exits 77 (ctest's skip code) with a message when something the tests need is
# missing: a Python with pytest, the server binary, or a listed client tool.
# Otherwise exits with pytest's status.
set -u
here=$(cd "$(dirname "$0")" && pwd)
server=""
needs=""
files=""
while [ $# -gt 0 ]; do
    case "$1" in
        --server) server=$2; shift 2 ;;
        --needs) needs=$2; shift 2 ;;
        --) shift; break ;;
        *) files="$files $here/$1"; shift ;;
    esac
done

skip() { echo "SKIP: $*"; exit 77; }

py=""
for cand in /usr/bin/python3 python3; do
    if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import pytest' 2>/dev/null; then
        py=$cand
        break
    fi
done
[ -n "$py" ] || skip "no python3 with pytest (Debian: python3-pytest)"

case "$server" in
    "") skip "no server given (--server)" ;;
    etcd) command -v etcd >/dev/null 2>&1 || skip "etcd is not installed (Debian: etcd-server)" ;;
    *) [ -x "$server" ] || skip "server binary '$server' not built" ;;
esac

for tool in $needs; do
    case "$tool" in
        python-etcd) "$py" -c 'import etcd' 2>/dev/null || skip "python-etcd missing (Debian: python3-etcd)" ;;
        *) command -v "$tool" >/dev/null 2>&1 || skip "$tool is not installed" ;;
    esac
done

cd "$here" || exit 1
export PYTHONDONTWRITEBYTECODE=1
# shellcheck disable=SC2086
"$py" -m pytest -q -rfEs -p no:cacheprovider --server "$server" $files "$@"
rc=$?
[ $rc -eq 5 ] && skip "no tests collected"
exit $rc
