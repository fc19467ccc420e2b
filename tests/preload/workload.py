# tests/preload/workload.py: the Python workload of preload.python. Allocates
# heavily (dicts, strings, json, bytearrays, cycles, 4 threads) and prints only
# deterministic results, so a run under LD_PRELOAD must print the same bytes.
import gc
import hashlib
import json
import sys
import queue
import threading

out = []


def emit(label, value):
    out.append("%s: %s" % (label, value))


def digest(s):
    return hashlib.sha256(s.encode() if isinstance(s, str) else s).hexdigest()[:16]


def lcg(seed):
    # Our own generator: the output must not depend on the random module's version.
    x = seed
    while True:
        x = (x * 6364136223846793005 + 1442695040888963407) & 0xFFFFFFFFFFFFFFFF
        yield x >> 33


def big_dicts():
    g = lcg(1)
    d = {}
    for i in range(80000):
        d["k%d-%d" % (i, next(g) % 1000)] = [i, str(i) * (i % 7), {"v": i}]
    # Delete half and refill: frees interleaved with allocations of other sizes.
    for i, k in enumerate(list(d)):
        if i % 2:
            del d[k]
    for i in range(40000):
        d[i] = "x" * (i % 300)
    emit("dict.len", len(d))
    emit("dict.keys", digest("|".join(map(str, d.keys()))))
    emit("dict.sum", sum(len(v) if isinstance(v, str) else v[0] for v in d.values()))


def json_round_trips():
    g = lcg(2)
    doc = {
        "items": [{"id": i, "name": "item-%d" % next(g), "tags": ["t%d" % (next(g) % 50)] * (i % 5),
                   "score": (next(g) % 10000) / 100.0} for i in range(10000)],
        "meta": {"nested": [[j] * 10 for j in range(500)]},
    }
    s = json.dumps(doc, sort_keys=True)
    for _ in range(3):
        doc = json.loads(s)
        s = json.dumps(doc, sort_keys=True, indent=1)
        s = json.dumps(json.loads(s), sort_keys=True)
    emit("json.len", len(s))
    emit("json.sha", digest(s))


def strings_and_buffers():
    g = lcg(3)
    parts = ["%08x" % next(g) for _ in range(50000)]
    joined = ",".join(parts)
    emit("join.sha", digest(joined))
    emit("split.len", len(joined.split(",")))
    emit("replace.sha", digest(joined.replace("a", "AAAA").upper()))
    # bytearray growth goes through realloc; large sizes through mmap-sized blocks.
    buf = bytearray()
    for i in range(20000):
        buf += bytes([i & 0xFF]) * (i % 97)
    big = [bytes(1 << k) for k in range(10, 25)]
    emit("buf.sha", digest(bytes(buf)))
    emit("big.total", sum(map(len, big)))


def cycles():
    class Node:
        def __init__(self, i):
            self.i = i
            self.peer = None
    total = 0
    for round_ in range(8):
        nodes = [Node(i) for i in range(5000)]
        for a, b in zip(nodes, nodes[1:] + nodes[:1]):
            a.peer = b
        total += sum(n.peer.i for n in nodes)
        del nodes
        gc.collect()
    emit("cycles.total", total)


def worker(tid, inbox, outbox, results):
    # Each thread sends the strings it built to the next thread, which frees
    # them: blocks freed by a thread other than the one that allocated them.
    g = lcg(100 + tid)
    h = hashlib.sha256()
    batch = []
    for i in range(25000):
        s = "t%d-%d-%s" % (tid, i, "y" * (next(g) % 64))
        h.update(s.encode())
        batch.append(s)
        if len(batch) == 500:
            outbox.put(batch)
            batch = []
    outbox.put(batch)
    outbox.put(None)
    received = 0
    while True:
        got = inbox.get()
        if got is None:
            break
        received += sum(map(len, got))
        del got
    d = {str(i): i * tid for i in range(20000)}
    results[tid] = (h.hexdigest()[:16], received, sum(d.values()), json.dumps(sorted(d.items())[:3]))


def threads():
    results = [None] * 4
    queues = [queue.Queue() for _ in range(4)]
    ts = [threading.Thread(target=worker, args=(t, queues[t], queues[(t + 1) % 4], results))
          for t in range(4)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    for tid, r in enumerate(results):
        emit("thread%d" % tid, r)


big_dicts()
json_round_trips()
strings_and_buffers()
cycles()
threads()
sys.stdout.write("\n".join(out) + "\n")
