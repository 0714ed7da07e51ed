"""The built wheel is the product: it ships its package data and works with no checkout around it."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A wheel built offline from a copy of the sources (building in place would write build/ into
    the checkout that other runs share)."""
    tmp = tmp_path_factory.mktemp("wheel")
    source = tmp / "src"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO_ROOT / name, source / name)
    shutil.copytree(REPO_ROOT / "harness", source / "harness", ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                            "-w", str(tmp / "dist"), str(source)], capture_output=True, text=True, timeout=600)
    assert built.returncode == 0, built.stderr
    [found] = (tmp / "dist").glob("policy_harness-*.whl")
    return found


def test_wheel_ships_every_package_data_file(wheel: Path) -> None:
    data = {p.relative_to(REPO_ROOT).as_posix() for p in (REPO_ROOT / "harness").rglob("*")
            if p.is_file() and p.suffix not in (".py", ".pyc") and "__pycache__" not in p.parts}
    assert {"harness/py.typed", "harness/reviewers/prompt_templates/reviewer_v1.md", "harness/reporting/templates/report.css",
            "harness/workspace/template/experiment.yaml"} <= data
    shipped = set(zipfile.ZipFile(wheel).namelist())
    assert sorted(data - shipped) == []
    assert any(name.endswith("entry_points.txt") for name in shipped)


def _fresh_venv(tmp: Path) -> Path:
    """A virtualenv outside the checkout holding only the wheel; the dependencies come from this
    interpreter's site-packages through a .pth path line (so nothing is downloaded). A path line does
    not run that folder's own .pth files, so the checkout's editable install stays out."""
    venv = tmp / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=300)
    python = venv / "bin" / "python"
    purelib = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                             capture_output=True, text=True, check=True).stdout.strip()
    deps = [p for p in site.getsitepackages() if Path(p).is_dir()]
    Path(purelib, "_policy_harness_test_deps.pth").write_text("\n".join(deps) + "\n", encoding="utf-8")
    return venv


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    return {**env, "MLFLOW_TRACKING_URI": f"sqlite:///{tmp / 'mlflow.db'}", "PYTHONIOENCODING": "utf-8",
            "POLICY_HARNESS_CACHE": str(tmp / "cache.sqlite"), "LITELLM_LOCAL_MODEL_COST_MAP": "True"}


@pytest.mark.slow
def test_installed_wheel_runs_a_workspace_outside_the_checkout(wheel: Path, tmp_path: Path) -> None:
    venv = _fresh_venv(tmp_path)
    python, tool = venv / "bin" / "python", venv / "bin" / "policy-harness"
    env = _clean_env(tmp_path)
    work = tmp_path / "work"
    work.mkdir()

    def run(*args: str | Path) -> subprocess.CompletedProcess[str]:
        result = subprocess.run([str(a) for a in args], cwd=work, env=env, capture_output=True, text=True,
                                timeout=900)
        assert result.returncode == 0, f"{args}\n{result.stdout}\n{result.stderr}"
        return result

    run(python, "-m", "pip", "install", "--no-deps", "--no-index", "--force-reinstall", "-q", wheel)
    where = run(python, "-c", "import harness; print(harness.__file__)").stdout.strip()
    assert Path(where).is_relative_to(venv), f"harness imported from {where}, not the fresh venv"
    assert not Path(where).is_relative_to(REPO_ROOT)

    assert "init" in run(tool, "--help").stdout
    run(tool, "init", "ws")
    assert "ok  experiment violent_speech" in run(tool, "validate", "ws/experiment.yaml").stdout
    ran = run(tool, "run", "ws/experiment.yaml", "--out", "out")
    assert "violent_speech@v1" in ran.stdout
    run(tool, "report", "out")
    for name in ("report.html", "metrics.json", "record.json"):
        assert "violent_speech" in (work / "out" / name).read_text(encoding="utf-8"), name
    assert json.loads((work / "out" / "metrics.json").read_text(encoding="utf-8"))["policy"] == "violent_speech@v1"

    # An LLM reviewer without `prompt:` gets the template that ships inside the wheel.
    label = run(python, "-c", "from harness.reviewers.prompts import reviewer_template; from pathlib import Path; "
                "t = reviewer_template(None, Path('.')); print(t.label, t.path)").stdout.split()
    assert label == ["reviewer@v1", "builtin:reviewer_v1"]
