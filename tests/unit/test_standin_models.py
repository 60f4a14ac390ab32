"""The Anthropic stand-in's model list is the installed SDK's, read from its file without
importing the SDK (the stand-ins process starts at every stack start)."""

from __future__ import annotations

import subprocess
import sys
import typing

from jiwa.dev.anthropic_standin import known_models, sdk_model_ids


def test_the_ids_read_from_the_file_are_the_sdks_own() -> None:
    from anthropic.types import model as model_module

    imported = {a for arm in typing.get_args(model_module.Model)
                for a in typing.get_args(arm) if isinstance(a, str)}
    assert sdk_model_ids() == imported
    assert "claude-sonnet-5-5" in known_models() <= imported


def test_reading_them_does_not_import_the_sdk() -> None:
    done = subprocess.run(
        [sys.executable, "-c", "import sys; from jiwa.dev.anthropic_standin import "
         "known_models; known_models(); print('anthropic' in sys.modules)"],
        capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == "False"
