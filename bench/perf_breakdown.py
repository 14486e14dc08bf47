#!/usr/bin/env python3
"""Where a server's CPU goes, from `perf script` output, by component of the request path.

    perf record -F 999 -g --call-graph dwarf,16384 -o perf.data -p PID -- sleep 10
    perf script -i perf.data -F comm,tid,ip,sym,dso --no-demangle | bench/perf_breakdown.py - 62

The second argument (optional) is the server's CPU time per request in microseconds
(bench/run prints it as `srv us/req`); each share is then also given in us/request.

Each sample goes to the first component (in the order below) that one of its
frames matches, so a Redis socket write counts as Redis, not as response writing.
Kernel time is attributed by the user-space call path that entered the kernel.
The `kernel`, `malloc` and `memcpy` columns are the share of all samples whose leaf
frame is in the kernel, in malloc/free, or in memmove/memcpy.
"""

import collections
import re
import sys

COMPONENTS = [
    ("cache: near cache lookup (moka)", r"4near9NearCache3get|moka"),
    ("cache: Entry::decode", r"5entry5Entry6decode|5entry6Reader"),
    ("cache: Redis client (GET over the multiplexed conn)", r"redis"),
    ("cache: Cache::lookup other (budget timer, breaker)", r"6handle5Cache6lookup"),
    (
        "cache: serve_entry (hit headers, coding, validators)",
        r"7respond11serve_entry|7respond14set_validators|7respond10write_body|8encoding",
    ),
    ("cache: on_response other", r"PageCache\$u20\$as\$u20\$rocket..fairing..Fairing\$GT\$11on_response"),
    (
        "cache: on_request (policy, bypass, key)",
        r"PageCache\$u20\$as\$u20\$rocket..fairing..Fairing\$GT\$10on_request|3key8page_key"
        r"|Policies7resolve|bypass_reason|6decide",
    ),
    ("rocket: route handler (HitRoute / floor's index)", r"HitRoute|5floor5index|Handler\$GT\$6handle"),
    ("rocket: Shield fairing headers", r"Shield\$u20\$as"),
    ("rocket: routing", r"6router|Orbit\$GT\$\$GT\$5route|Orbit\$GT\$\$GT\$8dispatch"),
    ("hyper: write response (writev of head+body, kernel TCP)", r"Buffered\$LT\$T\$C\$B\$GT\$10poll_flush"),
    ("rocket/hyper: build response head + body chunks", r"send_response|write_head|write_body|poll_write"),
    (
        "hyper: read + parse request",
        r"poll_read_head|Buffered\$LT\$T\$C\$B\$GT\$5parse|poll_read_from_io|poll_read_keep_alive",
    ),
    ("rocket: request setup, fairing loop", r"Orbit\$GT\$\$GT\$5serve|hyper_service_fn|rocket..request"),
]
OTHER = "other (tokio scheduler, epoll, timers)"
ALLOC = re.compile(r"^(malloc|_int_malloc|_int_free|free|cfree|realloc|_int_realloc|malloc_consolidate"
                   r"|unlink_chunk\S*|__libc_malloc|__libc_free)$")
LIBC_SYSCALL = re.compile(r"writev|libc_write|libc_recv|libc_read|libc_send|epoll_wait")


def samples(stream):
    frames = []
    for line in stream:
        if not line.strip() or line[0] not in " \t":
            if frames:
                yield frames
            frames = []
            continue
        frames.append(line.strip())
    if frames:
        yield frames


def symbol(frame):
    parts = frame.split(None, 1)
    return parts[1].rsplit(" (", 1)[0] if len(parts) > 1 else ""


def main():
    source = sys.stdin if len(sys.argv) < 2 or sys.argv[1] == "-" else open(sys.argv[1], errors="replace")
    us = float(sys.argv[2]) if len(sys.argv) > 2 else 0.0
    rules = [(name, re.compile(pattern)) for name, pattern in COMPONENTS]
    share, kernel, alloc, copy = (collections.Counter() for _ in range(4))
    redis_detail = collections.Counter()
    total = 0
    for frames in samples(source):
        total += 1
        stack = "\n".join(frames)
        name = next((n for n, r in rules if r.search(stack)), OTHER)
        share[name] += 1
        leaf = frames[0]
        if "[kernel.kallsyms]" in leaf:
            kernel[name] += 1
        if ALLOC.match(symbol(leaf)):
            alloc[name] += 1
        if "memmove" in leaf or "memcpy" in leaf:
            copy[name] += 1
        if name.startswith("cache: Redis"):
            if "[kernel.kallsyms]" in leaf:
                libc = next((symbol(f) for f in frames if "libc.so" in f and LIBC_SYSCALL.search(f)), "?")
                what = "recv" if "recv" in libc or "read" in libc else "send" if "writ" in libc or "send" in libc else "other"
                redis_detail[f"kernel, {what} syscalls"] += 1
            elif re.search(r"parser|ValueCodec|combine", stack):
                redis_detail["RESP parse"] += 1
            elif "memmove" in leaf or "memcpy" in leaf:
                redis_detail["memcpy (reply into Vec<u8>)"] += 1
            elif ALLOC.match(symbol(leaf)):
                redis_detail["malloc/free"] += 1
            else:
                redis_detail["pipeline, channels, command encoding"] += 1
    if total == 0:
        print("no samples")
        return
    head = f"{total} samples" + (f", {us:g} us of server CPU per request" if us else "")
    print(head)
    print(f"  {'component':58} {'share':>6} {'us/req':>7} {'kernel':>7} {'malloc':>7} {'memcpy':>7}")
    for name, n in share.most_common():
        print(f"  {name:58} {100 * n / total:5.1f}% {us * n / total:7.1f} {100 * kernel[name] / total:6.1f}%"
              f" {100 * alloc[name] / total:6.1f}% {100 * copy[name] / total:6.1f}%")
    print(f"  {'all':58} {100.0:5.1f}% {us:7.1f} {100 * sum(kernel.values()) / total:6.1f}%"
          f" {100 * sum(alloc.values()) / total:6.1f}% {100 * sum(copy.values()) / total:6.1f}%")
    if redis_detail:
        print("  Redis client, in detail:")
        for name, n in redis_detail.most_common():
            print(f"    {name:56} {100 * n / total:5.1f}% {us * n / total:7.1f}")


if __name__ == "__main__":
    main()
