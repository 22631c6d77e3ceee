"""Conflicts of plscaffold's three-way merge against ``git merge-file``, on random edit pairs.

The files are the default project's, as rendered (from ``tests/golden/defaults.txt``).
Each pair edits one file twice at random, as a user and a template change would: a line
replaced, inserted or deleted, a block appended at the end, a line moved; half the pairs
edit within four lines of each other. For each
merger: how many pairs conflict, how many conflict where git merges cleanly, and how
many merge cleanly where git conflicts, and how many clean merges differ from git's result.
With git installed plscaffold merges with ``git merge-file`` itself (the reference row);
"merge3, difflib defaults" is how it merged before, and "plscaffold without git" is its
fallback where git is not installed.

    python benchmarks/merge_corpus.py [--pairs 2000] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
from pathlib import Path

from merge3 import Merge3

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from plscaffold.merge import git_merge_file, merge3_merge  # noqa: E402


def _golden_files() -> dict[str, list[str]]:
    files: dict[str, list[str]] = {}
    current: list[str] | None = None
    for line in (ROOT / "tests" / "golden" / "defaults.txt").read_text().splitlines():
        if line.startswith("===== ") and line.endswith(" =====") and "(mode" in line:
            current = files.setdefault(line[6:].split(" (mode")[0], [])
        elif current is not None:
            current.append(line)
    return {name: lines for name, lines in files.items() if len(lines) >= 10}


def _edit(lines: list[str], rng: random.Random, tag: str, at: int) -> list[str]:
    changed = list(lines)
    at = min(max(at, 0), len(changed) - 1)
    kind = rng.choice(["replace", "insert", "delete", "append", "move"])
    if kind == "replace":
        changed[at] = f"{tag} {changed[at]}"
    elif kind == "insert":
        changed.insert(at, f"{tag} inserted")
    elif kind == "delete":
        del changed[at]
    elif kind == "append":
        changed += ["", f"## {tag}", "", f"{tag} text."]
    else:
        line = changed.pop(at)
        changed.insert(rng.randrange(len(changed) + 1), line)
    return changed


def _text(lines: list[str]) -> bytes:
    return "".join(line + "\n" for line in lines).encode()


def _merge3_default(base: bytes, yours: bytes, template: bytes) -> tuple[bytes, bool]:
    texts = [content.decode().splitlines(keepends=True) for content in (base, yours, template)]
    merger = Merge3(*texts)
    merged = "".join(merger.merge_lines(name_a="yours", name_b="template"))
    return merged.encode(), any(region[0] == "conflict" for region in merger.merge_regions())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    files = _golden_files()
    names = sorted(files)
    mergers = {
        "merge3, difflib defaults": _merge3_default,
        "plscaffold without git": merge3_merge,
    }
    counts = {
        name: {"conflicts": 0, "only here": 0, "only git": 0, "differs": 0} for name in mergers
    }
    git_conflicts = 0
    for _ in range(args.pairs):
        lines = files[rng.choice(names)]
        base = _text(lines)
        at = rng.randrange(len(lines))
        # Half the pairs edit within four lines of each other: where mergers differ.
        near = at + rng.randint(-4, 4) if rng.random() < 0.5 else rng.randrange(len(lines))
        yours = _text(_edit(lines, rng, "yours", at))
        template = _text(_edit(lines, rng, "tmpl", near))
        merged = git_merge_file(base, yours, template)
        assert merged is not None, "git merge-file did not run"
        git_content, git_conflicted = merged
        git_conflicts += git_conflicted
        for name, merge in mergers.items():
            content, conflicted = merge(base, yours, template)
            counts[name]["conflicts"] += conflicted
            counts[name]["only here"] += conflicted and not git_conflicted
            counts[name]["only git"] += git_conflicted and not conflicted
            counts[name]["differs"] += (
                not conflicted and not git_conflicted and (content != git_content)
            )
    print(f"{args.pairs} edit pairs over {len(names)} files of the default project")
    header = ("merger", "conflicts", "git merges", "git conflicts", "clean, differs")
    print(f"{header[0]:<26} {header[1]:>9} {header[2]:>11} {header[3]:>14} {header[4]:>15}")
    print(f"{'git merge-file':<26} {git_conflicts:>9} {0:>11} {0:>14} {0:>15}")
    for name, c in counts.items():
        print(
            f"{name:<26} {c['conflicts']:>9} {c['only here']:>11} {c['only git']:>14}"
            f" {c['differs']:>15}"
        )


if __name__ == "__main__":
    main()
