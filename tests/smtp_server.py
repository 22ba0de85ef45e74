#!/usr/bin/env python3
"""A real SMTP server for the integration tests (aiosmtpd), on 127.0.0.1.

Prints `port N` once it listens. Each accepted message is written to --dir as NNNN.json:
the envelope, and the message as Python's own `email` package parses it (headers decoded,
the text and HTML parts), so the tests judge the desk's mail with an implementation that is
not the code under test. The raw bytes are kept beside it as NNNN.eml.

  --port P            listen on P (0: a free port)
  --reject ADDR       answer RCPT TO:<ADDR> with 550 (repeatable)
  --tempfail ADDR:N   answer RCPT TO:<ADDR> with 451 the first N times (repeatable)
  --stall ADDR        never answer the first message to ADDR after its data (writes a
                      `stalled` file then), as a server that hangs mid-conversation
"""

import argparse
import asyncio
import email
import email.policy
import json
import os
import sys

from aiosmtpd.smtp import SMTP


class Handler:
    def __init__(self, out_dir, reject, tempfail, stall):
        self.out_dir = out_dir
        self.stall = {a.lower() for a in stall}
        self.reject = {a.lower() for a in reject}
        self.tempfail = {}
        for spec in tempfail:
            addr, _, times = spec.rpartition(":")
            self.tempfail[addr.lower()] = int(times)
        self.count = 0

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        key = address.lower()
        if key in self.reject:
            return "550 5.1.1 <%s>: mailbox unavailable" % address
        if self.tempfail.get(key, 0) > 0:
            self.tempfail[key] -= 1
            return "451 4.3.0 try again later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        stalled = [a for a in envelope.rcpt_tos if a.lower() in self.stall]
        if stalled:
            self.stall.difference_update(a.lower() for a in stalled)
            with open(os.path.join(self.out_dir, "stalled"), "w") as f:
                f.write(" ".join(stalled))
            await asyncio.sleep(3600)
        self.count += 1
        raw = envelope.original_content or envelope.content
        msg = email.message_from_bytes(raw, policy=email.policy.default)
        headers = {}
        for name, value in msg.items():
            headers.setdefault(name.lower(), []).append(str(value))
        parts = {}
        for part in msg.walk():
            if part.get_content_maintype() == "multipart":
                continue
            parts.setdefault(part.get_content_type(), part.get_content())
        record = {
            "mail_from": envelope.mail_from,
            "rcpt_tos": envelope.rcpt_tos,
            "headers": headers,
            "content_type": msg.get_content_type(),
            "text": parts.get("text/plain"),
            "html": parts.get("text/html"),
            "defects": [type(d).__name__ for d in msg.defects],
        }
        stem = os.path.join(self.out_dir, "%04d" % self.count)
        with open(stem + ".eml", "wb") as f:
            f.write(raw)
        # Written whole, then renamed: a reader never sees half a record.
        with open(stem + ".tmp", "w") as f:
            json.dump(record, f)
        os.rename(stem + ".tmp", stem + ".json")
        return "250 Message accepted for delivery"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--dir", required=True)
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--reject", action="append", default=[])
    parser.add_argument("--tempfail", action="append", default=[])
    parser.add_argument("--stall", action="append", default=[])
    args = parser.parse_args()
    handler = Handler(args.dir, args.reject, args.tempfail, args.stall)
    loop = asyncio.get_running_loop()
    server = await loop.create_server(
        lambda: SMTP(handler, hostname="smtp.test"), "127.0.0.1", args.port
    )
    port = server.sockets[0].getsockname()[1]
    print("port %d" % port, flush=True)
    # Ends when the test closes our stdin (or kills us).
    await loop.run_in_executor(None, sys.stdin.read)
    server.close()


if __name__ == "__main__":
    asyncio.run(main())
