#!/bin/sh
# tests/raft/nm_check.sh - the pure raft core must not reach the clock, threads, sockets, files,
# randomness or io_uring. Lists the undefined symbols of the core's objects and fails on any
# forbidden one.
set -eu
lib="$1"
bad=$(nm -u "$lib" | awk '{print $NF}' | sed 's/@.*//' | grep -E -x \
  '(clock_gettime|clock|time|gettimeofday|nanosleep|usleep|sleep|rand|random|srand|srandom|getrandom|arc4random|pthread_.*|thrd_.*|mtx_.*|socket|connect|accept|accept4|bind|listen|send|sendto|sendmsg|recv|recvfrom|recvmsg|open|open64|openat|close|read|write|pread|pwrite|pread64|pwrite64|fopen|fopen64|fclose|fread|fwrite|fsync|fdatasync|mmap|io_uring_.*|epoll_.*|poll|select)' || true)
if [ -n "$bad" ]; then
    echo "forbidden symbols in the pure raft core:"
    echo "$bad"
    exit 1
fi
echo "pure raft core: no clock/thread/socket/file/random symbols ($(nm -u "$lib" | wc -l) undefined symbols checked)"
