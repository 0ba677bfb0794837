#!/bin/sh
# tools/include-check.sh ROOT - fail when a module includes a header it may not (STYLE.md, the
# module table): dependencies point one way, core <- store, raft <- api, net <- server main().
# Each line of $rules: module, then the modules whose headers it may include.
set -eu
root=${1:-.}
rules='core core
store core store
raft core raft
api core store raft api
net core net
tools core tools
bench core bench'
status=0
echo "$rules" | while read -r mod allowed; do
    [ -d "$root/$mod" ] || continue
    # every quoted include naming a tree module: "mod/file.h"
    grep -rnoE '#include "[a-z_]+/' --include='*.[ch]' "$root/$mod" 2>/dev/null |
        while IFS= read -r hit; do
            dep=$(printf '%s\n' "$hit" | sed -E 's/.*#include "([a-z_]+)\/.*/\1/')
            case " $allowed " in
            *" $dep "*) ;;
            *) echo "include-check: ${hit%%:#include*}: $mod may not include $dep/"; exit 1 ;;
            esac
        done || exit 1
done || status=1
[ $status -eq 0 ] && echo "include-check: ok"
exit $status
