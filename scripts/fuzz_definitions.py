"""Mutate the catalog's definition files and load each mutant through ``crmetrics.Engine``.

Every mutant must either load or raise one of crmetrics' own errors within the per-file
timeout. The script counts the other outcomes: a traceback (any other exception) and a hang
(the worker did not answer in time and was killed). Mutants are made from a seeded random
generator, so a run is reproducible: the same ``--seed`` and ``--count`` give the same files.

Usage::

    python scripts/fuzz_definitions.py --count 3000 --seed 15 --timeout 5 [--save-failures DIR]

A worker process loads the mutants one after another under a memory limit; when it does not
answer within ``--timeout`` seconds it is killed and a new one takes over, and the mutant is
tried once more with three times the timeout: only a second timeout counts as a hang, so a
busy machine does not pass for a slow loader.
"""

from __future__ import annotations

import argparse
import multiprocessing as mp
import os
import random
import re
import resource
import sys
import tempfile
import time
from collections import Counter
from multiprocessing.connection import Connection
from pathlib import Path

CATALOG = Path(__file__).resolve().parent.parent / "definitions"
MEMORY_LIMIT = 3 * 1024**3

_ALIAS_BOMB = b'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]\n' + b"".join(
    f"{chr(98 + i)}: &{chr(98 + i)} [{','.join(['*' + chr(97 + i)] * 9)}]\n".encode() for i in range(8)
)
_AGGREGATE = b"  - name: m0\n    type: aggregate\n    table: deals\n    time: created_at\n    expr: count(*)"
_TOKENS = [
    b"inf",
    b"-.inf",
    b".nan",
    b"1e309",
    b"NaN",
    b"[",
    b"]",
    b"{",
    b"}",
    b"*x",
    b"&x",
    b"!!python/object:os.system",
    b"!!binary AAAA",
    b"~",
    b"null",
    b"''",
    b"'",
    b'"',
    b"\\",
    b"? ",
    b": ",
    b"- ",
    b"%",
    b"@",
    b"`",
    b"\t",
    b"\x00",
    b"\xef\xbb\xbf",
    b"\xff\xfe",
    b"\xc3\x28",
    b"1/0",
    b"x IN (SELECT 1)",
    b"count(distinct a, b)",
    b"round(amount, 100000000)",
    b"read_csv('/etc/passwd')",
    b"'; DROP TABLE deals; --",
    b"/*",
    b"9" * 400,
    b"metric_" * 50,
]


def mutate(original: bytes, rng: random.Random) -> bytes:
    """One random mutation of ``original``; the kind is chosen by ``rng``."""
    data = bytearray(original)
    # Byte- and token-level damage is common; the costly hostile shapes (alias bombs, huge
    # strings, deep nesting, long chains of metrics) are rarer so a run stays short.
    kind = rng.choices(range(14), weights=[4, 4, 3, 6, 6, 3, 3, 1, 1, 1, 2, 2, 2, 1])[0]
    position = rng.randrange(len(data) + 1)
    if kind == 0:  # flip bytes
        for _ in range(rng.randint(1, 8)):
            if data:
                data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:  # random bytes inserted
        data[position:position] = rng.randbytes(rng.randint(1, 64))
    elif kind == 2:  # truncated
        del data[position:]
    elif kind == 3:  # a token inserted
        data[position:position] = rng.choice(_TOKENS)
    elif kind == 4:  # a token replaces a word
        end = min(len(data), position + rng.randint(1, 12))
        data[position:end] = rng.choice(_TOKENS)
    elif kind == 5:  # lines shuffled
        lines = bytes(data).split(b"\n")
        start = rng.randrange(len(lines))
        chunk = lines[start : start + rng.randint(2, 20)]
        rng.shuffle(chunk)
        lines[start : start + len(chunk)] = chunk
        data = bytearray(b"\n".join(lines))
    elif kind == 6:  # a line duplicated or deleted
        lines = bytes(data).split(b"\n")
        index = rng.randrange(len(lines))
        if rng.random() < 0.5:
            lines.insert(index, lines[index])
        else:
            del lines[index]
        data = bytearray(b"\n".join(lines))
    elif kind == 7:  # an alias bomb
        data = bytearray(_ALIAS_BOMB) + (data if rng.random() < 0.5 else b"")
    elif kind == 8:  # a huge string
        data[position:position] = b"x" * rng.choice([10_000, 1_000_000, 8_000_000])
    elif kind == 9:  # deep nesting
        depth = rng.choice([100, 1_000, 10_000, 100_000])
        data[position:position] = b"[" * depth + b"]" * depth
    elif kind == 10:  # pure binary
        data = bytearray(rng.randbytes(rng.randint(1, 4096)))
    elif kind == 11:  # a BOM or NUL byte up front
        data[0:0] = rng.choice([b"\xef\xbb\xbf", b"\x00", b"\xff\xfe", b"\t"])
    elif kind == 12:  # invalid UTF-8 inside a value
        data[position:position] = rng.choice([b"\xc3\x28", b"\xa0\xa1", b"\xf0\x28\x8c\xbc", b"\xed\xa0\x80"])
    else:  # a long chain of derived metrics, each reading the two before it
        count = rng.choice([50, 500, 3_000])
        lines = [b"metrics:", _AGGREGATE]
        for i in range(1, count):
            body = f"m{i - 1} + m{max(0, i - 2)}".encode()
            lines.append(f"  - name: m{i}\n    type: derived\n    expr: ".encode() + body)
        data = bytearray(b"\n".join(lines) + b"\n")
    return bytes(data)


def _worker(connection: Connection, root: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_LIMIT, MEMORY_LIMIT))
    # The mutated folder stands in for the built-in catalog; every other plugin stays.
    os.environ["CRMETRICS_DISABLE_PLUGINS"] = "catalog"
    import crmetrics
    from crmetrics.errors import CrmetricsError

    connection.send(("ready", ""))  # the import is not part of any mutant's time
    while True:
        message = connection.recv()
        if message is None:
            return
        folder = Path(message)
        try:
            crmetrics.Engine(definitions=[folder]).validate()
            connection.send(("ok", ""))
        except CrmetricsError:
            connection.send(("error", ""))
        except BaseException as error:  # the point of the fuzzer: anything else is counted
            # Grouped by kind: the type and the message's start without numbers.
            message = re.sub(r"\d+", "N", str(error).splitlines()[0] if str(error) else "")[:70]
            connection.send(("traceback", f"{type(error).__name__}: {message}"))


class Runner:
    """A worker process that loads mutants, replaced when it hangs or dies."""

    def __init__(self, root: str) -> None:
        self.root = root
        self._start()

    def _start(self) -> None:
        self.parent, child = mp.Pipe()
        self.process = mp.get_context("fork").Process(target=_worker, args=(child, self.root), daemon=True)
        self.process.start()
        self.parent.recv()

    def load(self, folder: Path, timeout: float) -> tuple[str, str]:
        self.parent.send(str(folder))
        if self.parent.poll(timeout):
            try:
                return self.parent.recv()
            except EOFError:
                pass
        else:
            self.restart()
            return "hang", ""
        self.restart()
        return "traceback", "worker died"

    def restart(self) -> None:
        self.process.kill()
        self.process.join()
        self._start()

    def close(self) -> None:
        self.parent.send(None)
        self.process.join(5)


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=3000)
    parser.add_argument("--seed", type=int, default=15)
    parser.add_argument("--timeout", type=float, default=5.0, help="seconds per mutant")
    parser.add_argument("--save-failures", type=Path, help="copy each failing mutant here")
    args = parser.parse_args()

    originals = {path.name: path.read_bytes() for path in sorted(CATALOG.glob("*.yaml"))}
    rng = random.Random(args.seed)
    outcomes: Counter[str] = Counter()
    messages: Counter[str] = Counter()
    runner = Runner(str(CATALOG))
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as scratch:
        for index in range(args.count):
            folder = Path(scratch) / f"m{index}"
            folder.mkdir()
            target = rng.choice(sorted(originals))
            for name, content in originals.items():
                (folder / name).write_bytes(mutate(content, rng) if name == target else content)
            outcome, message = runner.load(folder, args.timeout)
            if outcome == "hang":  # on a busy machine, try once more with thrice the time
                outcome, message = runner.load(folder, 3 * args.timeout)
            outcomes[outcome] += 1
            if outcome in ("traceback", "hang"):
                messages[message or outcome] += 1
                if args.save_failures:
                    args.save_failures.mkdir(parents=True, exist_ok=True)
                    (args.save_failures / f"{index}-{outcome}-{target}").write_bytes(
                        (folder / target).read_bytes()
                    )
            for path in folder.iterdir():
                path.unlink()
            folder.rmdir()
    runner.close()
    elapsed = time.monotonic() - started
    print(f"{args.count} mutants in {elapsed:.0f} s (seed {args.seed}, timeout {args.timeout} s)")
    for outcome in ("ok", "error", "traceback", "hang"):
        print(f"  {outcome:9} {outcomes[outcome]}")
    for message, count in messages.most_common(15):
        print(f"  {count:5} x {message}")
    return 1 if outcomes["traceback"] or outcomes["hang"] else 0


if __name__ == "__main__":
    sys.exit(main())
