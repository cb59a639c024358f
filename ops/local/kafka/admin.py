"""Small Kafka questions ops/local/kafka.sh asks, in the project's Python (no JVM start).

admin.py wait --bootstrap HOST:PORT [--timeout S] [--list]
    exit 0 once the cluster answers a metadata request with at least one broker (prints its
    topics with --list), 2 if it does not within the timeout: a broker that is up, or a port
    that is not Kafka at all
admin.py spec
    the topics `tansiq events topics` creates, one `name partitions` a line (for the fast
    path of a second `up`, which checks their partition directories instead of asking)
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import sys
import time

from aiokafka.admin import AIOKafkaAdminClient


async def cluster_topics(bootstrap: str, seconds: float) -> list[str] | None:
    deadline = time.monotonic() + seconds
    last: Exception | None = None
    while True:
        admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap, request_timeout_ms=3000)
        try:
            await admin.start()
            if (await admin.describe_cluster())["brokers"]:
                return sorted(await admin.list_topics())
        except Exception as error:  # not reachable or not ready yet: retried until the deadline
            last = error
        finally:
            await admin.close()
        if time.monotonic() >= deadline:
            print(f"Kafka at {bootstrap}: {last!r}", file=sys.stderr)
            return None
        await asyncio.sleep(0.25)


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="command", required=True)
    wait = sub.add_parser("wait")
    wait.add_argument("--bootstrap", required=True)
    wait.add_argument("--timeout", type=float, default=30)
    wait.add_argument("--list", action="store_true")
    sub.add_parser("spec")
    args = parser.parse_args(argv)
    if args.command == "spec":
        from tansiq_common.events.topics import DOMAIN_TOPICS

        for spec in DOMAIN_TOPICS.values():
            print(spec.name, spec.partitions)
        return 0
    logging.disable(logging.CRITICAL)  # connection retries while the broker starts are expected
    topics = asyncio.run(cluster_topics(args.bootstrap, args.timeout))
    if topics is None:
        print(f"no answer within {args.timeout:g} s", file=sys.stderr)
        return 2
    if args.list:
        print("\n".join(topics))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
