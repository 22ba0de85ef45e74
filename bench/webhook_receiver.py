#!/usr/bin/env python3
"""A minimal webhook receiver for bench/webhooks: HTTP/1.1 with keep-alive on 127.0.0.1,
answers every POST 200 with an empty body, and records for each request its arrival time, its
`webhook-id` and the payload's `timestamp` (the event's commit time). On SIGTERM it writes the
records, one `arrival<TAB>webhook-id<TAB>timestamp` line each, to OUT and exits.

    webhook_receiver.py PORTFILE OUT      (writes the port it bound to PORTFILE)
"""
import asyncio, re, signal, sys, time

TIMESTAMP = re.compile(rb'"timestamp":"([^"]+)"')
records = []


async def handle(reader, writer):
    try:
        while True:
            head = await reader.readuntil(b"\r\n\r\n")
            length, msg_id = 0, b""
            for line in head.split(b"\r\n")[1:]:
                name, _, value = line.partition(b":")
                name = name.strip().lower()
                if name == b"content-length":
                    length = int(value)
                elif name == b"webhook-id":
                    msg_id = value.strip()
            body = await reader.readexactly(length)
            arrived = time.time()
            found = TIMESTAMP.search(body)
            records.append((arrived, msg_id, found.group(1) if found else b""))
            writer.write(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n")
    except (asyncio.IncompleteReadError, asyncio.LimitOverrunError, ConnectionError, ValueError,
            asyncio.CancelledError):
        # A closed connection, or the receiver stopping: nothing to answer.
        pass
    writer.close()


async def main():
    portfile, out = sys.argv[1], sys.argv[2]
    server = await asyncio.start_server(handle, "127.0.0.1", 0, backlog=1024)
    with open(portfile, "w") as f:
        f.write(str(server.sockets[0].getsockname()[1]))
    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    await stop.wait()
    with open(out, "w") as f:
        for arrived, msg_id, ts in records:
            f.write(f"{arrived:.6f}\t{msg_id.decode()}\t{ts.decode()}\n")


asyncio.run(main())
