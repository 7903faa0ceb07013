"""Running the ``sanshe`` command in-process, as a test sees it: exit code, stdout, stderr."""

from __future__ import annotations

import pytest

from dispatch.cli import main


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    try:
        main(list(argv))
        code = 0
    except SystemExit as exc:
        code = int(exc.code or 0)
    out, err = capsys.readouterr()
    return code, out, err
