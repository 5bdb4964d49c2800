"""The option table (codegen/options.py) drives argparse, the manifest keys, the
regenerate command, ``Options`` and the one-module check: each option of the table
reaches every one of them, and nothing else does."""

from __future__ import annotations

import dataclasses
import shlex
from pathlib import Path

import pytest

import cli
from codegen.errors import OptionError
from codegen.options import (
    MANIFEST_KEYS,
    OPTIONS,
    Option,
    Options,
    options_from_cli,
    options_from_toml,
)
from codegen.regen import FIX, load_manifest

#: a value for each option that is not its default: on the command line (argv after
#: the flag) and in the manifest (a TOML value)
SAMPLES: dict[str, tuple[list[str], str]] = {
    "backend": (["math"], '"math"'),
    "wrt": (["y, x"], '["y", "x"]'),
    "inputs": (["y,x"], '"y,x"'),
    "at": (["x=1", "y=2"], ""),
    "format": (["fast"], ""),
    "outputs": (["f"], '["f"]'),
    "target": (["layer"], '"layer"'),
    "name": (["affine"], '"affine"'),
    "mode": (["hvp,jvp"], '["hvp", "jvp"]'),
    "verify": ([], ""),  # a flag: no argument
    "stable": ([], "true"),  # a flag: no argument
    "chunks": ([], "true"),  # a flag: no argument
    "trace": ([], ""),  # a flag: no argument
    "graph": (["g.dot"], ""),
    "random": (["0"], ""),
}


def _value(option: Option) -> str | bool:
    """What argparse gives for the sample: its first argument, or True for a flag."""
    return SAMPLES[option.name][0][0] if option.kind != "flag" else True


def _argv(option: Option) -> list[str]:
    return ["x*y", option.flag, *SAMPLES[option.name][0]]


def _manifest(tmp_path: Path, entry: str) -> Path:
    pyproject = tmp_path / "pyproject.toml"
    pyproject.write_text(
        f'[tool.backpropgen.modules.lin]\nsource = "x*y"\n{entry}\n', encoding="utf-8"
    )
    return pyproject


def test_every_option_has_a_sample() -> None:
    assert set(SAMPLES) == {option.name for option in OPTIONS}


def test_table_and_options_agree() -> None:
    """The table's fields are ``Options``' fields (besides the computed command);
    names and flags are unique; a default is one of the choices."""
    table = [option.name for option in OPTIONS if option.field]
    assert {f.name for f in dataclasses.fields(Options)} == {*table, "regenerate"}
    assert (
        len({o.name for o in OPTIONS}) == len({o.flag for o in OPTIONS}) == len(OPTIONS)
    )
    for option in OPTIONS:
        assert option.flag.startswith("--")
        assert (
            option.default is None
            or option.choices is None
            or (option.default in option.choices)
        )
        if not option.field:
            assert not option.manifest and not option.regenerate


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_argparse_takes_every_option(option: Option) -> None:
    args = cli._parse_args(_argv(option))
    value = SAMPLES[option.name][0]
    assert getattr(args, option.name) == (value if option.many else _value(option))
    assert args.source == "x*y"
    assert getattr(cli._parse_args(["x*y"]), option.name) is None  # not given


def test_help_lists_the_options_in_table_order(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        cli.main(["--help"])
    text = capsys.readouterr().out
    listed = text[text.index("options:") :]
    positions = [listed.index(f"  {option.flag} ") for option in OPTIONS]
    assert positions == sorted(positions)
    for option in OPTIONS:
        assert option.help in " ".join(listed.split())


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_cli_values_reach_options(option: Option) -> None:
    options = cli._options(cli._parse_args(_argv(option)))
    if option.field:
        value = getattr(options, option.name)
        assert value == option.from_cli(_value(option)) != option.default
    else:  # --at changes no option
        assert options == Options(regenerate=options.regenerate)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_regenerate_command_repeats_the_options(option: Option) -> None:
    command = cli._regenerate_command(cli._parse_args(_argv(option)))
    shown = f" {option.flag}"
    if option.kind != "flag":
        shown += f" {shlex.quote(SAMPLES[option.name][0][0])}"
    assert (shown in command) == option.regenerate, command
    assert option.flag not in cli._regenerate_command(cli._parse_args(["x*y"]))
    if option.default is not None and option.kind != "flag":  # the default, given,
        # is not repeated (a flag given is never its default)
        default = option.default
        text = default if isinstance(default, str) else ",".join(default)
        args = cli._parse_args(["x*y", option.flag, text])
        assert option.flag not in cli._regenerate_command(args)


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
def test_manifest_takes_the_manifest_options(tmp_path: Path, option: Option) -> None:
    toml = SAMPLES[option.name][1]
    if not option.manifest:
        assert option.name not in MANIFEST_KEYS
        pyproject = _manifest(tmp_path, f'{option.name} = "{option.name}"')
        with pytest.raises(OptionError, match=f"unknown key '{option.name}'"):
            load_manifest(pyproject)
        return
    assert option.name in MANIFEST_KEYS
    (entry,) = load_manifest(_manifest(tmp_path, f"{option.name} = {toml}")).entries
    want = options_from_cli({option.name: _value(option)})
    assert entry.options == dataclasses.replace(want, regenerate=FIX)


def test_manifest_keys_are_the_sources_and_the_manifest_options() -> None:
    options = {option.name for option in OPTIONS if option.manifest}
    assert MANIFEST_KEYS == {"source", "file", *options}


def test_unknown_manifest_key_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(OptionError) as info:
        load_manifest(_manifest(tmp_path, 'colour = "red"'))
    assert info.value.render() == (
        "pyproject.toml: [tool.backpropgen.modules.lin]: unknown key 'colour'"
    )


@pytest.mark.parametrize(
    "option", [o for o in OPTIONS if o.manifest], ids=lambda o: o.name
)
def test_manifest_values_are_type_checked(option: Option) -> None:
    what = {
        "text": "must be a string",
        "names": "list of names",
        "flag": "must be true or false",
    }[option.kind]
    with pytest.raises(OptionError, match=what) as info:
        options_from_toml({option.name: 3}, "here")
    assert info.value.where in ("here", f"here {option.name}")


@pytest.mark.parametrize("option", OPTIONS, ids=lambda o: o.name)
@pytest.mark.parametrize("mode", ["--regen", "--check"])
def test_one_module_check_refuses_every_option(
    capsys: pytest.CaptureFixture[str], option: Option, mode: str
) -> None:
    argv = [mode, option.flag, *SAMPLES[option.name][0]]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    assert err.endswith(f"drop {option.flag}\n"), err
