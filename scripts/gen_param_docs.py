#!/usr/bin/env python3
"""Write docs/parameters.md from the nodes' parameter schemas (clopy.param_docs).

    source scripts/env.sh && python scripts/gen_param_docs.py [--check]

--check: write nothing; exit 1 when docs/parameters.md is not what the schemas give.
"""
from __future__ import annotations

import sys
from pathlib import Path

from clopy.param_docs import render

DOC = Path(__file__).resolve().parents[1] / 'docs' / 'parameters.md'


def main(argv: list[str]) -> int:
    text = render()
    if '--check' in argv:
        if not DOC.is_file() or DOC.read_text() != text:
            print(f'{DOC} is out of date: run python scripts/gen_param_docs.py', file=sys.stderr)
            return 1
        return 0
    DOC.write_text(text)
    print(f'wrote {DOC}')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv[1:]))
