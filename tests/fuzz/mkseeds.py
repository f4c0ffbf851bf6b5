#!/usr/bin/env python3
# SPDX-License-Identifier: MIT
"""Write the committed seed corpora, tests/fuzz/corpus/<target>/.

Run from anywhere: python3 tests/fuzz/mkseeds.py. Rewrites the seeds it
knows (named by what they hold) and leaves any other file alone, so
crash-* inputs kept from fuzzing runs survive. Journal records are built
as core/record.h lays them out (little-endian header, zlib CRC32, SHA-256
chain); the journal target's input layout is described in fuzz_journal.c.
"""
import gzip
import hashlib
import json
import os
import struct
import zlib

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")

REC_SUBMIT, REC_STATE, REC_START = 5, 6, 1


def put(target, name, data):
    d = os.path.join(CORPUS, target)
    os.makedirs(d, exist_ok=True)
    if isinstance(data, str):
        data = data.encode()
    with open(os.path.join(d, name), "wb") as f:
        f.write(data)


def record(rtype, seq, ts, prev, body, version=1, crc_ok=True):
    if isinstance(body, (dict, list)):
        body = json.dumps(body, separators=(",", ":"))
    if isinstance(body, str):
        body = body.encode()
    rest = struct.pack("<HHIQQ", rtype, version, len(body), seq, ts) + prev + body
    crc = zlib.crc32(rest) & 0xFFFFFFFF
    if not crc_ok:
        crc ^= 1
    return struct.pack("<II", len(rest) + 4, crc) + rest


def chain(specs, first_seq=1, prev=bytes(32)):
    """specs: [(type, body)] -> list of encoded records, consecutive seqs."""
    out = []
    for i, (t, body) in enumerate(specs):
        r = record(t, first_seq + i, 1700000000_000000000 + i * 1000000, prev, body)
        prev = hashlib.sha256(r).digest()
        out.append(r)
    return out


def body(what, extra):
    b = dict(extra)
    b.update({"who": {"actor": "client", "uid": 1000, "user": "alice"},
              "what": what, "when": 1700000000.123,
              "where": {"host": "box", "htmd_pid": 42},
              "why": "submitted by uid 1000", "how": "control socket"})
    return b


TASK = {"id": 1, "name": "build", "state": "queued", "priority": "normal",
        "origin": "user_request", "uid": 1000, "gid": 1000, "cgroup": None,
        "cgroup_id": None, "budget": None, "pid": None, "exit_code": None,
        "signal": None, "submitted_at": 1700000000.5, "started_at": None,
        "finished_at": None, "deadline": None, "sla": 30, "timeout": 600,
        "risk": "low", "batch": None, "reason": None, "cwd": "/tmp",
        "argv": ["make", "-j4"]}

SPECS = [
    (REC_START, body("daemon.start", {"version": "0.1.0"})),
    (REC_SUBMIT, body("task.submit", {"task": TASK})),
    (REC_STATE, body("task.state", {"task": 1, "from": "queued", "to": "running",
                                    "pid": 4242, "cgroup": "/sys/fs/cgroup/htm.slice/t1"})),
    (REC_STATE, body("task.state", {"task": 1, "from": "running", "to": "succeeded",
                                    "exit_code": 0})),
]


def requests():
    seeds = {
        "submit": {"v": 1, "cmd": "submit", "argv": ["sleep", "1"]},
        "submit-full": {"v": 1, "cmd": "submit", "argv": ["make", "-j4"], "name": "build",
                        "cwd": "/src", "batch": "nightly", "user": "alice",
                        "priority": "high", "origin": "scheduler", "risk": "medium",
                        "sla": "30s", "timeout": 600, "budget": "5ms"},
        "list": {"v": 1, "cmd": "list", "state": "running"},
        "show": {"v": 1, "cmd": "show", "id": 42},
        "cancel": {"v": 1, "cmd": "cancel", "id": 9007199254740992},
        "wait": {"v": 1, "cmd": "wait", "id": 3, "timeout": "2m"},
        "status": {"v": 1.0, "cmd": "status"},
        "top": {"v": 1, "cmd": "top"},
        "log": {"v": 1, "cmd": "log", "task": 7, "actor": "client", "type": "task.state",
                "since": "1h", "limit": 100, "verify": True},
    }
    for name, obj in seeds.items():
        put("request", "ok-" + name, json.dumps(obj, separators=(",", ":")))
    bad = {
        "malformed": '{"v":1,"cmd":}',
        "trailing": '{"v":1,"cmd":"status"}{"v":1,"cmd":"status"}',
        "trailing-blank": '{"v":1,"cmd":"status"} \t\r',
        "nul-escape": '{"v":1,"cmd":"submit","argv":["a\\u0000b"]}',
        "nul-byte": b'{"v":1,"cmd":"status"}\x00',
        "no-version": '{"cmd":"status"}',
        "version-2": '{"v":2,"cmd":"status"}',
        "unknown-cmd": '{"v":1,"cmd":"approve","id":1}',
        "duplicate": '{"v":1,"cmd":"show","id":1,"id":2}',
        "unknown-field": '{"v":1,"cmd":"status","x":true}',
        "bad-enum": '{"v":1,"cmd":"submit","argv":["x"],"priority":"urgent"}',
        "bad-duration": '{"v":1,"cmd":"wait","id":1,"timeout":"5 fortnights"}',
        "argv-empty": '{"v":1,"cmd":"submit","argv":[]}',
        "argv-number": '{"v":1,"cmd":"submit","argv":["x",1]}',
        "id-fraction": '{"v":1,"cmd":"show","id":1.5}',
        "id-huge": '{"v":1,"cmd":"show","id":1e300}',
        "array": '[{"v":1,"cmd":"status"}]',
        "escapes": '{"v":1,"cmd":"submit","argv":["\\ud83d\\ude00","\\"\\\\\\/\\b\\f\\n\\r\\t"]}',
        "unterminated": '{"v":1,"cmd":"status',
        "empty": "",
    }
    for name, text in bad.items():
        put("request", "bad-" + name, text)


def configs():
    full = {
        "socket": "/run/htm/htmd.sock", "state_dir": "/var/lib/htm",
        "cgroup_root": "/sys/fs/cgroup/htm.slice", "slots": 4,
        "history_limit": 5000, "log_level": "debug", "observe": False,
        "priorities": {
            "critical": {"cpu_weight": 10000, "io_weight": 10000, "rq_budget": "10ms"},
            "high": {"cpu_weight": 1000}, "normal": {"io_weight": 100},
            "low": {"cpu_weight": 10, "cpu_idle": True}},
        "sample_period": "1s", "bpf_pin_dir": "", "delay_accounting": True,
        "psi_triggers": {"cpu": "some 150000 1000000", "memory": "full 100000 2000000",
                         "io": ""},
        "stress": {"cpu_some": [10, 30, 60], "memory_full": [1, 5, 20],
                   "exit_ratio": 0.5, "cooldown": "30s"},
        "journal_segment_bytes": 8388608,
    }
    put("config", "ok-full", json.dumps(full, indent=2) + "\n")
    put("config", "ok-empty-object", "{}\n")
    put("config", "ok-slots", '{"slots":0,"priorities":{"low":{"cpu_idle":true}}}')
    bad = {
        "unknown-field": '{"bogus":1}',
        "nested-unknown": '{"priorities":{"low":{"bogus":1}}}',
        "slots-range": '{"slots":4097}',
        "slots-type": '{"slots":"4"}',
        "relative-socket": '{"socket":"htmd.sock"}',
        "long-socket": json.dumps({"socket": "/" + "s" * 120}),
        "psi-window": '{"psi_triggers":{"cpu":"some 1 100"}}',
        "stress-levels": '{"stress":{"io_some":[1,2]}}',
        "exit-ratio": '{"stress":{"exit_ratio":2}}',
        "trailing": '{"slots":2}\n{"slots":3}',
        "nul-escape": '{"state_dir":"/var\\u0000/lib"}',
        "not-object": "[1,2,3]",
        "malformed": '{\n  "slots": 2,\n  "observe": tru\n}',
        "duplicate": '{"slots":1,"slots":2}',
        "segment-bytes": '{"journal_segment_bytes":1e30}',
    }
    for name, text in bad.items():
        put("config", "bad-" + name, text)


def records():
    recs = chain(SPECS)
    put("record", "ok-one", recs[0])
    put("record", "ok-stream", b"".join(recs))
    put("record", "ok-empty-body", record(REC_START, 1, 0, bytes(32), b""))
    put("record", "torn-tail", b"".join(recs[:2]) + recs[2][:50])
    put("record", "torn-header", recs[0][:3])
    put("record", "bad-crc", recs[0] + record(REC_STATE, 2, 1, bytes(32), "{}", crc_ok=False))
    put("record", "bad-version", record(REC_START, 1, 0, bytes(32), "{}", version=2))
    short = bytearray(record(REC_START, 1, 0, bytes(32), "{}"))
    struct.pack_into("<I", short, 0, 10)
    put("record", "bad-short-len", bytes(short))
    huge = bytearray(record(REC_START, 1, 0, bytes(32), "{}"))
    struct.pack_into("<I", huge, 0, 0xFFFFFFFF)
    put("record", "bad-huge-len", bytes(huge))
    put("record", "zeros", bytes(128))


def journal_input(segments, gz=(), fix_crc=False, fix_chain=False, name_by_index=False):
    flags = (len(segments) - 1) | (0x20 if fix_crc else 0) | \
        (0x40 if fix_chain else 0) | (0x80 if name_by_index else 0)
    for i in gz:
        flags |= 4 << i
    out = bytes([flags])
    for s in segments[:-1]:
        out += struct.pack("<H", len(s))
    return out + b"".join(segments)


def journals():
    recs = chain(SPECS)
    allr = b"".join(recs)
    put("journal", "ok-one-segment", journal_input([allr]))
    put("journal", "ok-two-segments", journal_input([recs[0] + recs[1], recs[2] + recs[3]]))
    put("journal", "ok-three-sealed", journal_input([recs[0], recs[1] + recs[2], recs[3]],
                                                    gz=(0, 1)))
    put("journal", "ok-empty", journal_input([b""]))
    put("journal", "torn-tail", journal_input([allr + recs[0][:30]]))
    put("journal", "torn-zeros", journal_input([allr + bytes(100)]))
    mid = len(recs[0]) + 70     # a flipped byte in the second record
    put("journal", "broken-middle", journal_input([allr[:mid] + b"x" + allr[mid + 1:]]))
    put("journal", "broken-sealed-tail", journal_input([recs[0], recs[1] + recs[2][:20]],
                                                        gz=(1,)))
    put("journal", "broken-gap", journal_input([recs[0] + recs[2]]))
    put("journal", "broken-seq", journal_input([recs[0], recs[2] + recs[3]]))
    put("journal", "broken-chain", journal_input(
        [recs[0] + record(REC_STATE, 2, 0, bytes(32), SPECS[2][1])]))
    put("journal", "broken-name", journal_input([recs[1], recs[2]], name_by_index=True))
    # fix-ups on: record bodies and seqs as written, CRC and chain computed
    edited = [record(t, 1 + i, i, bytes(32), b) for i, (t, b) in enumerate(SPECS)]
    put("journal", "fixup-chain", journal_input([b"".join(edited)], fix_crc=True,
                                                fix_chain=True))
    odd = dict(TASK, id=2**53, uid=4294967295, gid=0, pid=-1, sla=0.001, timeout=1e-9,
               name="", cwd=None, argv=["x", "", "\u00e9"], reason="r" * 300)
    put("journal", "fixup-odd-task", journal_input(
        [record(REC_SUBMIT, 1, 0, bytes(32), body("task.submit", {"task": odd}))],
        fix_crc=True, fix_chain=True))
    # Known bug (see the fuzz report): a task.submit body whose task.id is
    # outside int64 makes htm_task_from_json cast 1e300 to int64_t (UB).
    # Kept as a regression input; fails `make fuzz-corpus` until fixed.
    # crash-task-from-json-gid-1e23 is the same bug as the fuzzer found it
    # (minimized); seconds_to_ns() has its own cast, hence the sla input.
    for name, task in (("id-1e300", dict(TASK, id=1e300)),
                       ("sla-1e300", dict(TASK, sla=1e300))):
        put("journal", "crash-task-from-json-" + name, journal_input(
            [record(REC_SUBMIT, 1, 0, bytes(32), body("task.submit", {"task": task}))],
            fix_crc=True, fix_chain=True))
    # Known bug (see the fuzz report): a sealed segment that is not valid
    # gzip makes gzread fail, and load_gz returns without gzclose (leak).
    put("journal", "crash-load-gz-leak-corrupt-gzip",
        journal_input([b"\x1f\x8b\x08\x00" + bytes(20)], gz=(0,)))
    put("journal", "raw-truncated-gzip", journal_input([gzip.compress(allr)[:60]], gz=(0,),
                                                       name_by_index=True))
    put("journal", "raw-gzip", journal_input([gzip.compress(allr)], gz=(0,),
                                             name_by_index=True))


if __name__ == "__main__":
    requests()
    configs()
    records()
    journals()
