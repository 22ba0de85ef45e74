#!/usr/bin/env python3
"""Prints the FTS5 structure of a desk's search index: its levels, the segments of each (id,
first and last leaf page), and the merges in progress, read from the structure record
(`ticket_fts_data`, id 10). It shows how the automerge has left an index, for instance right
after a bulk build (bench/README.md, "The FTS5 statistics trap").

    bench/fts_structure.py DATA_DIR/supportdesk.db
"""
import sqlite3
import sys


def varint(b, i):
    """SQLite's varint (what FTS5 writes): 7 bits a byte, big end first, the ninth byte whole."""
    v = 0
    for k in range(9):
        c = b[i]
        i += 1
        if k == 8:
            return (v << 8) | c, i
        v = (v << 7) | (c & 0x7F)
        if not c & 0x80:
            return v, i
    return v, i


def structure(db):
    """(write counter, [(level, segments being merged, [(segment id, first page, last page)])])."""
    b = db.execute("SELECT block FROM ticket_fts_data WHERE id = 10").fetchone()[0]
    i = 4  # the cookie
    v2 = b[4:8] == b"\xff\x00\x00\x01"  # the second format adds five numbers per segment
    if v2:
        i = 8
    levels, i = varint(b, i)
    _segments, i = varint(b, i)
    writes, i = varint(b, i)
    out = []
    for level in range(levels):
        merging, i = varint(b, i)
        count, i = varint(b, i)
        segments = []
        for _ in range(count):
            segid, i = varint(b, i)
            first, i = varint(b, i)
            last, i = varint(b, i)
            if v2:
                for _ in range(5):
                    _, i = varint(b, i)
            segments.append((segid, first, last))
        out.append((level, merging, segments))
    return writes, out


if __name__ == "__main__":
    db = sqlite3.connect(f"file:{sys.argv[1]}?mode=ro", uri=True)
    writes, levels = structure(db)
    print(f"write counter {writes}")
    for level, merging, segments in levels:
        note = f", merging its first {merging}" if merging else ""
        listed = ", ".join(f"{s}: pages {f}-{l}" for s, f, l in segments)
        print(f"level {level} ({len(segments)} segments{note}): {listed}")
