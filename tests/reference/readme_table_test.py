"""The README's table of references names, for every bundled submission, a reference test that
covers it, and a commit that the test or one of the ports it imports was ported from."""

from __future__ import annotations

import re

from algoperf_lab import listing
from tests.helpers import REPO_ROOT
from tests.reference import common

README = REPO_ROOT / "README.md"
HEADER = "| submissions | authors' (or de-facto) reference: repository, file, commit | test |"


def _rows() -> list[tuple[list[str], str, str]]:
  """(submission paths, reference text, test file) per row of the README's table."""
  lines = README.read_text().splitlines()
  start = lines.index(HEADER) + 2
  rows = []
  for line in lines[start:]:
    if not line.startswith("|"):
      break
    submissions, reference, test = (cell.strip() for cell in line.strip("|").split("|"))
    rows.append((_expand(submissions), reference, test.strip("`")))
  return rows


def _expand(cell: str) -> list[str]:
  """`a/b.py`, `a/{b,c}.py` and `moe/*.py` (4) as repository paths."""
  paths = []
  for item in re.findall(r"`([^`]+)`", cell):
    if "*" in item:
      paths += [str(p.relative_to(REPO_ROOT))
                for p in sorted((REPO_ROOT / "submissions").glob(item))
                if p.name != "__init__.py"]
    elif "{" in item:
      head, names, tail = re.match(r"(.*)\{(.*)\}(.*)", item).groups()
      paths += [f"submissions/{head}{name}{tail}" for name in names.split(",")]
    else:
      paths.append(f"submissions/{item}")
  return paths


def _test_and_ports_text(test_file: str) -> str:
  """The test module's text with that of every tests/reference module or port it imports."""
  folder = REPO_ROOT / "tests" / "reference"
  text = (folder / test_file).read_text()
  imported = re.findall(r"from tests\.reference\.ports\.(\w+) import", text)
  for names in re.findall(r"from tests\.reference\.ports import ([\w, ]+)", text):
    imported += [name.strip().split(" as ")[0] for name in names.split(",")]
  text += "".join((folder / "ports" / f"{name}.py").read_text() for name in imported)
  for names in re.findall(r"from tests\.reference import ([\w, ]+)", text):
    for module in (name.strip() for name in names.split(",")):
      if module != "common" and (folder / f"{module}.py").is_file():
        text += _test_and_ports_text(f"{module}.py")
  return text


def test_every_bundled_submission_has_a_row_and_the_rows_match_the_tests():
  covered = common.covered_submissions()
  listed = set()
  for paths, reference, test_file in _rows():
    assert paths, f"a row names no submission: {reference}"
    text = _test_and_ports_text(test_file)
    for path in paths:
      assert test_file in covered.get(path, []), f"{test_file} does not list {path} in COVERS"
    for commit in re.findall(r"\b[0-9a-f]{7}\b", reference):
      assert commit in text, f"commit {commit} of {reference!r} is not in {test_file} or its ports"
    listed.update(paths)
  bundled = {str(p.relative_to(REPO_ROOT)) for p in listing.bundled_submissions()}
  assert listed == bundled, (sorted(bundled - listed), sorted(listed - bundled))
