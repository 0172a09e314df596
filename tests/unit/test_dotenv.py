"""``.env`` files are read as python-dotenv reads them (stkpi_tools.dotenv): the cases the
hand-written reader got wrong, a literal ``${VAR}``, and a line that does not parse."""

from __future__ import annotations

from pathlib import Path

import pytest

from stkpi.errors import ConfigError
from stkpi_tools.dotenv import environ_with_dotenv, read_dotenv


def _env(tmp_path: Path, text: str) -> dict[str, str]:
    path = tmp_path / ".env"
    path.write_text(text, encoding="utf-8")
    return read_dotenv(path)


def test_a_quoted_value_followed_by_a_comment_is_the_quoted_text(tmp_path: Path) -> None:
    # The old reader kept the quotes: '"s3cr#t"' (quotes and all) went to the auth server.
    assert _env(tmp_path, 'ST_CLIENT_SECRET="s3cr#t" # rotated in May\n') == {
        "ST_CLIENT_SECRET": "s3cr#t"
    }


def test_escapes_in_double_quotes_are_decoded(tmp_path: Path) -> None:
    # "a\nb" is a newline between a and b in double quotes, two characters in single ones.
    assert _env(tmp_path, "A=\"a\\nb\"\nB='a\\nb'\n") == {"A": "a\nb", "B": "a\\nb"}


def test_a_multi_line_quoted_value_is_one_value(tmp_path: Path) -> None:
    text = 'KEY="-----BEGIN-----\nabc\n-----END-----"\nNEXT=1\n'
    assert _env(tmp_path, text) == {"KEY": "-----BEGIN-----\nabc\n-----END-----", "NEXT": "1"}


def test_dollar_braces_stay_literal(tmp_path: Path) -> None:
    # A secret may contain "$": no interpolation from the environment or the file.
    assert _env(tmp_path, 'A=x\nST_CLIENT_SECRET=p${A}ss\nB="${HOME}"\n') == {
        "A": "x",
        "ST_CLIENT_SECRET": "p${A}ss",
        "B": "${HOME}",
    }


def test_export_prefix_spaces_and_an_empty_value(tmp_path: Path) -> None:
    assert _env(tmp_path, "export ST_A=1\nST_B = 'two words'\nST_E=\nBARE\n") == {
        "ST_A": "1",
        "ST_B": "two words",
        "ST_E": "",
    }


def test_a_line_that_does_not_parse_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"line 3: 'ST_TENANT_ID 1000'"):
        _env(tmp_path, "ST_A=1\n\nST_TENANT_ID 1000\nST_B=2\n")


def test_the_environment_wins_over_the_file(tmp_path: Path) -> None:
    (tmp_path / ".env").write_text("ST_A=file\nST_B=file\n")
    env, from_file = environ_with_dotenv({"ST_A": "env"}, tmp_path)
    assert env == {"ST_A": "env", "ST_B": "file"} and from_file == ["ST_B"]
