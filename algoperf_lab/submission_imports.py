"""Imports a submission file as a member of a package made of its folder.

What this gives an unchanged AlgoPerf submission:
- modules beside it import: `from helper import x`, `from .helper import x`, and AlgoPerf's
  absolute forms (`from algorithms.<...>.jax.helper import x`, `from submissions.<...>.helper
  import x`), which resolve to the file beside the submission when no such module exists;
- `import algoperf`, `from algoperf import spec, jax_sharding_utils` and v0.5's
  `from algorithmic_efficiency import spec` resolve to the lab's modules when no real AlgoPerf
  package is installed (an installed one wins: the finder here is consulted last);
- its own modules see JAX's removed `jax.tree_map`-style names (see legacy_jax).

The finder is installed once, on the first submission loaded, and stays for the process, so
that a submission's lazy imports inside functions also resolve.
"""

from __future__ import annotations

import ast
import hashlib
import importlib
import importlib.abc
import importlib.machinery
import importlib.util
import re
import sys
import types
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from algoperf_lab import legacy_jax

# AlgoPerf's package names (current and v0.5) and the lab modules that stand in for them.
ALGOPERF_PACKAGES = ("algoperf", "algorithmic_efficiency")
STAND_INS = {"spec": "algoperf_lab.spec", "jax_sharding_utils": "algoperf_lab.jax_sharding_utils"}
PACKAGE_PREFIX = "algoperf_lab_submissions"
MAX_SCANNED_FILES = 500


class _AliasLoader(importlib.abc.Loader):
  """Makes `alias` the same module object as `target` (imported on first use)."""

  def __init__(self, target: str):
    self._target = target

  def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
    return None

  def exec_module(self, module: types.ModuleType) -> None:
    # The import system re-reads sys.modules after exec_module, so the target replaces the
    # placeholder module under the alias name.
    sys.modules[module.__name__] = importlib.import_module(self._target)


class _EmptyPackageLoader(importlib.abc.Loader):
  """A package with nothing in it but the submodules this finder provides."""

  def __init__(self, doc: str):
    self._doc = doc

  def create_module(self, spec: importlib.machinery.ModuleSpec) -> None:
    return None

  def exec_module(self, module: types.ModuleType) -> None:
    module.__doc__ = self._doc


class SubmissionSourceLoader(importlib.machinery.SourceFileLoader):
  """Executes a submission's own module with the JAX view of legacy_jax."""

  def exec_module(self, module: types.ModuleType) -> None:
    module.__dict__["__builtins__"] = legacy_jax.submission_builtins()
    super().exec_module(module)


def _file_of(folder: Path, parts: Sequence[str]) -> tuple[Path, bool] | None:
  """(file, is_package) of dotted `parts` below `folder`, or None."""
  target = folder.joinpath(*parts)
  if target.with_suffix(".py").is_file():
    return target.with_suffix(".py"), False
  if (target / "__init__.py").is_file():
    return target / "__init__.py", True
  return None


class _SubmissionFinder(importlib.abc.MetaPathFinder):
  """Last on sys.meta_path: answers only names that nothing else could import."""

  def __init__(self) -> None:
    self.folders: dict[str, Path] = {}  # package name -> the folder it is made of
    self.aliases: dict[str, str] = {}  # absolute name in a submission -> module beside it
    self.empty_packages: set[str] = set()  # the parents of those absolute names

  def find_spec(self, fullname: str, path: Any = None,
                target: Any = None) -> importlib.machinery.ModuleSpec | None:
    del path, target
    top, _, rest = fullname.partition(".")
    if top in ALGOPERF_PACKAGES:
      return self._algoperf_spec(fullname, rest)
    if fullname in self.aliases:
      return importlib.util.spec_from_loader(fullname, _AliasLoader(self.aliases[fullname]))
    if fullname in self.empty_packages:
      return importlib.util.spec_from_loader(
          fullname, _EmptyPackageLoader(f"stands in for {fullname} (a submission's import)"),
          is_package=True)
    for package, folder in self.folders.items():
      if fullname.startswith(package + "."):
        return self._member_spec(fullname, folder, fullname[len(package) + 1:].split("."))
    return None

  def _algoperf_spec(self, fullname: str, rest: str) -> importlib.machinery.ModuleSpec:
    if not rest:
      return importlib.util.spec_from_loader(
          fullname, _EmptyPackageLoader(f"algoperf_lab standing in for {fullname}"),
          is_package=True)
    if rest in STAND_INS:
      return importlib.util.spec_from_loader(fullname, _AliasLoader(STAND_INS[rest]))
    raise ModuleNotFoundError(
        f"No module named {fullname!r}: algoperf_lab stands in for AlgoPerf's "
        f"{sorted(STAND_INS)} only. Install AlgoPerf itself for the rest.", name=fullname)

  @staticmethod
  def _member_spec(fullname: str, folder: Path,
                   parts: list[str]) -> importlib.machinery.ModuleSpec | None:
    found = _file_of(folder, parts)
    if found is None:
      return None
    file, is_package = found
    return importlib.util.spec_from_file_location(
        fullname, file, loader=SubmissionSourceLoader(fullname, str(file)),
        submodule_search_locations=[] if is_package else None)


_FINDER = _SubmissionFinder()


def _install_finder() -> None:
  if _FINDER not in sys.meta_path:
    sys.meta_path.append(_FINDER)


def install_algoperf_stand_ins() -> None:
  """Lets `import algoperf` (or `algorithmic_efficiency`) resolve to the lab's modules."""
  _install_finder()


def _python_files(folder: Path) -> Iterator[Path]:
  for count, file in enumerate(sorted(folder.rglob("*.py"))):
    if count >= MAX_SCANNED_FILES:
      return
    yield file


def _absolute_imports(file: Path) -> Iterator[str]:
  """Dotted module names a file imports absolutely, including `from a.b import c` as a.b.c."""
  try:
    tree = ast.parse(file.read_text(errors="replace"))
  except SyntaxError:
    return
  for node in ast.walk(tree):
    if isinstance(node, ast.Import):
      yield from (alias.name for alias in node.names)
    elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
      yield node.module
      yield from (f"{node.module}.{alias.name}" for alias in node.names if alias.name != "*")


def _sibling_aliases(folder: Path, package: str) -> dict[str, str]:
  """Absolute names used in the folder's files whose last part names a module beside them."""
  aliases = {}
  for file in _python_files(folder):
    for name in _absolute_imports(file):
      parts = name.split(".")
      if parts[0] in ALGOPERF_PACKAGES or _file_of(folder, parts[-1:]) is None:
        continue
      aliases[name] = f"{package}.{parts[-1]}"
  return aliases


def package_name(folder: Path) -> str:
  digest = hashlib.sha1(str(folder.resolve()).encode()).hexdigest()[:10]
  readable = re.sub(r"\W", "_", folder.name) or "root"
  return f"{PACKAGE_PREFIX}.{readable}_{digest}"


def _ensure_package(name: str, doc: str, folder: Path | None = None) -> None:
  if name in sys.modules:
    return
  module = types.ModuleType(name, doc)
  module.__path__ = []  # type: ignore[attr-defined]  # members come from the finder
  if folder is not None:
    module.__file__ = str(folder / "__init__.py")
  sys.modules[name] = module


def import_file_as_package_member(path: Path) -> types.ModuleType:
  """Imports `path` as `<package of its folder>.<stem>`; raises what the module raises."""
  _install_finder()
  folder = path.resolve().parent
  package = package_name(folder)
  _ensure_package(PACKAGE_PREFIX, "Submissions loaded by path, one package per folder.")
  _ensure_package(package, f"The submission folder {folder}", folder)
  _FINDER.folders[package] = folder
  for alias, target in _sibling_aliases(folder, package).items():
    _FINDER.aliases[alias] = target
    parts = alias.split(".")
    _FINDER.empty_packages.update(".".join(parts[:i]) for i in range(1, len(parts)))
  module_name = f"{package}.{path.stem}"
  sys.modules.pop(module_name, None)  # a reload picks up edits to the file
  try:
    return importlib.import_module(module_name)
  except BaseException:
    sys.modules.pop(module_name, None)
    raise
