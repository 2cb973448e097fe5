"""Generate ``engine/crmetrics/schema_accept.py``, the compiled yes-or-no check of definitions.

fastjsonschema turns ``engine/crmetrics/schema/definitions.schema.json`` into Python code
that accepts or refuses a definitions document in a fraction of jsonschema's time; compiling
it takes about 70 ms, more than checking the whole catalog, so the code is generated here
once and shipped. The module records the SHA-256 of the schema text it was made from:
crmetrics uses it only while that matches the shipped schema, and a test fails when it
does not.

Run it from anywhere after changing the schema::

    python scripts/generate_schema_check.py           # rewrite the module
    python scripts/generate_schema_check.py --check   # exit 1 if it is stale, write nothing
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from pathlib import Path

import fastjsonschema

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "engine" / "crmetrics" / "schema" / "definitions.schema.json"
MODULE = ROOT / "engine" / "crmetrics" / "schema_accept.py"
COMMAND = "python scripts/generate_schema_check.py"

HEADER = '''"""Accept or refuse a definitions document: generated code, do not edit.

Written by ``{command}`` with fastjsonschema {version} from
``schema/definitions.schema.json``; ``crmetrics.schema_check`` uses it while
``SCHEMA_SHA256`` is the hash of that file's text. It only says yes or no: what it refuses
is checked again by jsonschema, which locates every error.
"""

# ruff: noqa
# mypy: ignore-errors

SCHEMA_SHA256 = "{digest}"

'''


def generated() -> str:
    """The module's text for the schema as it is now."""
    text = SCHEMA.read_text(encoding="utf-8")
    # Checking must never write a schema's defaults into the document.
    code = fastjsonschema.compile_to_code(json.loads(text), use_default=False)
    entry = code.split("def ", 1)[1].split("(", 1)[0]
    header = HEADER.format(
        command=COMMAND, version=fastjsonschema.VERSION, digest=hashlib.sha256(text.encode()).hexdigest()
    )
    return f"{header}{code.rstrip()}\n\n\nvalidate = {entry}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="exit 1 if the module is stale")
    args = parser.parse_args()
    text = generated()
    current = MODULE.read_text(encoding="utf-8") if MODULE.exists() else ""
    if args.check:
        if current != text:
            sys.exit(f"{MODULE.relative_to(ROOT)} is stale: run {COMMAND}")
        return
    if current != text:
        MODULE.write_text(text, encoding="utf-8")
        print(f"wrote {MODULE.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
