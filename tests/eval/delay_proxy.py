# A userspace TCP proxy that delays each direction by a chosen one-way delay plus uniform jitter,
# preserving byte order, because netem is not available here. One process per remote session.
# Usage: python delay_proxy.py --listen PORT --target PORT --delay-ms D --jitter-ms J [--seed S]
import argparse
import asyncio
import random
import socket
import time


async def pump(reader, writer, delay_s, jitter_s, rng):
    """Copies one direction: each chunk leaves at arrival + delay + U(0, jitter), never before
    the chunk ahead of it (TCP is a byte stream, so order is kept, as on a real path)."""
    queue = asyncio.Queue()

    async def send():
        while True:
            due_s, data = await queue.get()
            if data is None:
                break
            wait_s = due_s - time.monotonic()
            if wait_s > 0:
                await asyncio.sleep(wait_s)
            writer.write(data)
            await writer.drain()
        writer.close()

    sender = asyncio.create_task(send())
    last_due_s = 0.0
    try:
        while True:
            data = await reader.read(1 << 16)
            if not data:
                break
            due_s = max(time.monotonic() + delay_s + rng.uniform(0.0, jitter_s), last_due_s)
            last_due_s = due_s
            queue.put_nowait((due_s, data))
    except (ConnectionError, OSError):
        pass
    queue.put_nowait((0.0, None))
    try:
        await sender
    except (ConnectionError, OSError):
        pass


def no_delay(writer):
    sock = writer.get_extra_info("socket")
    if sock is not None:
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--listen", type=int, required=True)
    parser.add_argument("--target", type=int, required=True)
    parser.add_argument("--delay-ms", type=float, required=True)
    parser.add_argument("--jitter-ms", type=float, default=0.0)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    delay_s, jitter_s = args.delay_ms / 1000.0, args.jitter_ms / 1000.0
    # The event loop's own sleep granularity would add to the delay; asyncio sleeps are precise
    # to about a millisecond on Linux, which the measured figures include.

    async def handle(client_reader, client_writer):
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", args.target)
        no_delay(client_writer)
        no_delay(server_writer)
        await asyncio.gather(
            pump(client_reader, server_writer, delay_s, jitter_s, rng),
            pump(server_reader, client_writer, delay_s, jitter_s, rng),
        )

    server = await asyncio.start_server(handle, "127.0.0.1", args.listen)
    print("listening", flush=True)
    async with server:
        await server.serve_forever()


if __name__ == "__main__":
    asyncio.run(main())
