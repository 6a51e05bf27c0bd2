"""Compare two JUnit reports of the same s3-tests selection: against s3gate
(in front of moto) and against moto directly. Prints the counts of each and,
for every test that fails through the gateway, how it fared on moto and the
first line of its failure, as Markdown (pasted into RESULTS.md)."""

from __future__ import annotations

import sys
from pathlib import Path
from xml.etree import ElementTree


def outcomes(path: Path) -> dict[str, tuple[str, str]]:
    out: dict[str, tuple[str, str]] = {}
    root = ElementTree.parse(path).getroot()  # noqa: S314 - our own pytest's report
    for case in root.iter("testcase"):
        name = f"{case.get('classname', '').rsplit('.', 1)[-1]}::{case.get('name')}"
        status, message = "passed", ""
        for child in case:
            if child.tag in ("failure", "error", "skipped"):
                status = {"failure": "failed"}.get(child.tag, child.tag)
                message = (child.get("message") or child.text or "").strip().splitlines()
                message = message[0][:160] if message else ""
                break
        out[name] = (status, message)
    return out


def counts(results: dict[str, tuple[str, str]]) -> str:
    tally: dict[str, int] = {}
    for status, _ in results.values():
        tally[status] = tally.get(status, 0) + 1
    return ", ".join(f"{n} {s}" for s, n in sorted(tally.items())) + f" (of {len(results)})"


def main() -> None:
    gateway, moto = outcomes(Path(sys.argv[1])), outcomes(Path(sys.argv[2]))
    print(f"through s3gate: {counts(gateway)}")
    print(f"moto directly:  {counts(moto)}")
    print()
    print("| test | s3gate | moto | s3gate's failure |")
    print("|---|---|---|---|")
    for name in sorted(gateway):
        status, message = gateway[name]
        if status in ("passed", "skipped"):
            continue
        direct = moto.get(name, ("not run", ""))[0]
        print(f"| `{name.split('::')[-1]}` | {status} | {direct} | {message.replace('|', '/')} |")


if __name__ == "__main__":
    main()
