#!/bin/sh
# Runs the whole integration suite against real etcd 3.4 (--enable-v2): this is
# what proves the tests themselves right.  Extra arguments go to pytest
# (e.g. -k watch, -x).  ET_SKIP_CONFORMANCE=1 leaves out the v2diff self-check.
set -u
here=$(cd "$(dirname "$0")" && pwd)
"$here/run_pytest.sh" --server etcd --needs "curl etcdctl python-etcd" \
    test_keys.py test_watch.py test_endpoints.py test_http.py test_python_etcd.py \
    test_etcdctl.py test_kill9.py test_cluster.py test_auto_tls.py test_faults.py -- "$@"
rc=$?
"$here/run_python_etcd_suite.sh" --server etcd || rc=1
if [ "${ET_SKIP_CONFORMANCE:-0}" != 1 ]; then
    # etcd against etcd with our own scenarios (the harness's self-check).
    "$here/run_conformance.py" --server etcd --only ours || rc=1
fi
exit $rc
