"""check-config: every error with its file, its YAML path and what is expected."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import yaml

from bot.settings import ROOT


def run_check(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "bot", "check-config", str(path)], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)


def test_demo_config_is_valid() -> None:
    r = run_check(ROOT / "config" / "demo.yaml")
    assert r.returncode == 0, r.stdout + r.stderr
    assert "配置有效" in r.stdout


def test_errors_name_file_path_and_choices(tmp_path: Path) -> None:
    data = yaml.safe_load((ROOT / "config" / "demo.yaml").read_text(encoding="utf-8"))
    data["groups"][3]["region"] = "吉林省长春"
    data["people"][0]["roles"].append("boss")
    data["people"][1]["backup"] = "nobody"
    data["units"][0]["kind"] = "ministry"
    (tmp_path / "regions.yaml").write_text((ROOT / "config" / "regions.yaml").read_text(encoding="utf-8"), encoding="utf-8")
    bad = tmp_path / "bad.yaml"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    r = run_check(bad)
    assert r.returncode == 1
    out = r.stdout
    assert "units[0].kind" in out
    data["units"][0]["kind"] = "bureau"
    bad.write_text(yaml.safe_dump(data, allow_unicode=True), encoding="utf-8")
    out = run_check(bad).stdout
    assert 'bad.yaml: groups[3].region: 未知地区 "吉林省长春" (可选: 省本级, 长春市, 吉林市' in out
    assert 'people[0].roles[2]: 未知角色 "boss"' in out
    assert 'people[1].backup: 未知人员 "nobody"' in out


def test_malformed_yaml_is_reported_with_its_line(tmp_path: Path) -> None:
    bad = tmp_path / "broken.yaml"
    bad.write_text("units:\n  - id: a\n    name: [unclosed\n", encoding="utf-8")
    r = run_check(bad)
    assert r.returncode == 1 and "YAML 格式错误" in r.stdout and "行" in r.stdout


def test_missing_file(tmp_path: Path) -> None:
    r = run_check(tmp_path / "nope.yaml")
    assert r.returncode == 1 and "文件不存在" in r.stdout
