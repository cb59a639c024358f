"""The repository stands alone: a fresh clone, with nothing beside it, passes the deployment
validation (deploy/tools/k8s_validate.py, what `make k8s-validate` runs).

The clone is of the committed HEAD, into an empty temporary folder; the validator imports the
clone's own code (it puts the clone's sources first on sys.path), so this proves that nothing
it needs lives outside the repository, such as CRD schemas in a folder beside it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


def test_a_fresh_clone_validates_with_nothing_beside_it(tmp_path: Path, promtool: str) -> None:
    parent = tmp_path / "empty"
    parent.mkdir()
    clone = parent / "tansiq"
    subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True, timeout=120)
    assert sorted(p.name for p in parent.iterdir()) == ["tansiq"]
    env = {k: v for k, v in os.environ.items() if not k.startswith("TANSIQ_CRD")}
    # The tools, not the files: promtool and kustomize where this checkout keeps them.
    env["PATH"] = os.pathsep.join([str(Path(promtool).parent), env.get("PATH", "")])
    result = subprocess.run(
        [sys.executable, "deploy/tools/k8s_validate.py"],
        cwd=clone,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    output = result.stdout + result.stderr
    assert result.returncode == 0, output
    assert result.stdout.strip().splitlines()[-1].startswith("k8s-validate: OK"), output
    # Its own copies were used: the schemas and the code it checked are the clone's.
    assert (clone / "deploy" / "k8s" / "crd-schemas" / "LICENSE").is_file()
    beside = "/".join(("..", "shared"))  # spelt so that this file does not contain it
    for folder in ("deploy", "tests/deploy"):
        for path in (clone / folder).rglob("*"):
            if path.is_file() and path.suffix in {".py", ".sh", ".yaml", ".md", ".json"}:
                text = path.read_text(encoding="utf-8", errors="replace")
                assert beside not in text, path
