"""Reading the kit's editable YAML rules files (return reasons, contact reasons, RFM segments): one reader, one error.

Each rules file is a mapping with a fixed set of top-level keys. :func:`read_rules` finds the file (a path, or the
packaged copy under ``ecomlib/rules/``), parses it and checks the top level; the review module then checks what
each key holds, raising :class:`~ecomlib.errors.RulesError` with the same wording.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Sequence

import yaml

from .errors import RulesError


def packaged(name: str) -> Path:
    """Path of the packaged rules file ``ecomlib/rules/<name>``."""
    return Path(str(resources.files("ecomlib").joinpath("rules", name)))


def read_rules(path: str | Path | None, *, name: str, keys: Sequence[str]) -> tuple[Path, dict]:
    """The top-level mapping of a rules file and the file it came from.

    path : the file, or None for the packaged ``ecomlib/rules/<name>``.
    keys : the top-level keys the file must have, all of them and no other.

    Raises :class:`RulesError` for a missing file, invalid YAML (with its line), a top level that is not a
    mapping, a missing key or an unknown key.

    >>> file, raw = read_rules(None, name="return_reasons.yaml", keys=["priority", "codes", "keywords"])
    >>> file.name, sorted(raw)
    ('return_reasons.yaml', ['codes', 'keywords', 'priority'])
    """
    file = packaged(name) if path is None else Path(path)
    try:
        raw = yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise RulesError(file, "(file)", "no such file", f"a YAML rules file such as the packaged "
                         f"ecomlib/rules/{name}, copied and edited") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "(file)"
        raise RulesError(file, where, f"not valid YAML ({getattr(exc, 'problem', exc)})",
                         "YAML laid out like the packaged file") from None
    if not isinstance(raw, dict):
        raise RulesError(file, "(top level)", f"holds {type(raw).__name__}, not a mapping",
                         f"a mapping with the keys {list(keys)}")
    for key in keys:
        if key not in raw:
            raise RulesError(file, key, "missing", f"the keys {list(keys)}")
    unknown = sorted(map(str, set(raw) - set(keys)))
    if unknown:
        raise RulesError(file, unknown[0], "unknown key", f"only the keys {list(keys)}")
    return file, raw
