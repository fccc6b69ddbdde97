"""The `specc` command line: wiring only; every stage lives in its own module.

Exit codes: 0 success; 1 invalid spec, stale generated/ or a diff found; 2 usage error;
3 internal error (a bug in specc: rerun as `specc --debug <command>` for the traceback).
"""

from __future__ import annotations

import difflib
import json
import os
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path

import click

from specc import __version__
from specc.diagnostics import EXIT_INVALID, EXIT_OK, EXIT_USAGE, Diagnostic, SpeccError
from specc.explain import explain as explain_text
from specc.pipeline import Result, build_spec, check_spec
from specc.reference import kinds_listing, markdown
from specc.schema import load_schema
from specc.write import write_if_changed

EXIT_INTERNAL = 3
SET_HELP = "Override one spec value, parsed like the file: --set train.lr=1e-4 (repeatable)."


def _report(diags: Sequence[Diagnostic], fallback: str) -> None:
    for d in diags:
        click.echo(d.format(fallback), err=True)


def _fail_on(result: Result, spec: Path, strict: bool) -> None:
    _report(result.diagnostics, str(spec))
    if not result.ok or (strict and result.diagnostics):
        raise SpeccError("invalid spec")


def _spec_args(f):  # noqa: ANN001, ANN202 - click decorator plumbing
    f = click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help=SET_HELP)(f)
    f = click.option("--strict", is_flag=True, help="Treat warnings as errors.")(f)
    return f


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.option("--debug", is_flag=True, help="Show tracebacks of internal errors.")
@click.version_option(__version__, prog_name="specc")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Compile flow-matching experiment specs (YAML) into standalone PyTorch scripts.

    \b
    Examples:
      specc build specs/toy_moons.yaml          # -> generated/toy_moons.py
      specc build specs/*.yaml
      specc build specs/toy_moons.yaml --set train.lr=3e-4 --stdout
      specc check                               # generated/ up to date with specs/?
      specc validate specs/toy_moons.yaml
      specc explain specs/toy_moons.yaml        # each value and where it came from
      specc diff specs/a.yaml specs/b.yaml      # the code two specs differ by
      specc list                                # sections and their kinds
    """
    ctx.ensure_object(dict)
    ctx.obj["debug"] = debug


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option(
    "-o",
    "--output",
    type=click.Path(path_type=Path),
    default=None,
    help="Output file (one spec only). Default: generated/<name>.py",
)
@click.option("--stdout", "to_stdout", is_flag=True, help="Print the script instead of writing it.")
@_spec_args
def build(
    specs: tuple[Path, ...],
    output: Path | None,
    to_stdout: bool,
    sets: tuple[str, ...],
    strict: bool,
) -> None:
    """Build each SPEC into generated/<name>.py (written only when it changes)."""
    if output is not None and to_stdout:
        raise click.UsageError("-o/--output and --stdout exclude each other")
    if (output is not None or to_stdout) and len(specs) > 1:
        raise click.UsageError("-o/--output and --stdout take exactly one SPEC")
    failed = False
    for spec in specs:
        label = output.as_posix() if output is not None and not output.is_absolute() else None
        if output is not None and output.is_absolute():
            label = output.name
        result = build_spec(spec, sets, script_label=label)
        _report(result.diagnostics, str(spec))
        if not result.ok or (strict and result.diagnostics) or result.text is None:
            failed = True
            continue
        if to_stdout:
            click.echo(result.text, nl=False)
            continue
        target = output if output is not None else Path("generated") / f"{result.name}.py"
        changed = write_if_changed(target, result.text)
        click.echo(f"{'wrote' if changed else 'unchanged'} {target.as_posix()}", err=True)
    if failed:
        raise SpeccError("invalid spec")


@cli.command()
@click.argument("specs", nargs=-1, required=True, type=click.Path(path_type=Path))
@_spec_args
def validate(specs: tuple[Path, ...], sets: tuple[str, ...], strict: bool) -> None:
    """Print every diagnostic of each SPEC, sorted by position; exit 1 if any is an error."""
    failed = False
    for spec in specs:
        result = check_spec(spec, sets)
        _report(result.diagnostics, str(spec))
        if not result.ok or (strict and result.diagnostics):
            failed = True
        elif not result.diagnostics:
            click.echo(f"{spec.as_posix()}: ok", err=True)
    if failed:
        raise SpeccError("invalid spec")


@cli.command()
@click.argument("spec", type=click.Path(path_type=Path))
@click.option("--set", "sets", multiple=True, metavar="KEY.PATH=VALUE", help=SET_HELP)
def explain(spec: Path, sets: tuple[str, ...]) -> None:
    """Print the resolved SPEC, each value marked with where it came from."""
    result = check_spec(spec, sets)
    _fail_on(result, spec, strict=False)
    assert result.resolved is not None
    click.echo(explain_text(result.resolved), nl=False)


@cli.command()
@click.option(
    "--specs",
    "specs_dir",
    type=click.Path(path_type=Path),
    default=Path("specs"),
    show_default=True,
    help="Directory of specs (its *.yaml files; not subdirectories).",
)
@click.option(
    "--generated",
    "gen_dir",
    type=click.Path(path_type=Path),
    default=Path("generated"),
    show_default=True,
    help="Directory of generated scripts.",
)
def check(specs_dir: Path, gen_dir: Path) -> None:
    """Rebuild every spec in memory; exit 1 with a diff if generated/ is stale."""
    if not specs_dir.is_dir():
        raise click.UsageError(f"no specs directory {specs_dir.as_posix()}")
    stale = False
    expected: set[str] = set()
    for spec in sorted(list(specs_dir.glob("*.yaml")) + list(specs_dir.glob("*.yml"))):
        result = build_spec(spec)
        _report(result.diagnostics, str(spec))
        if not result.ok or result.text is None:
            stale = True
            continue
        target = gen_dir / f"{result.name}.py"
        expected.add(target.name)
        current = target.read_text(encoding="utf-8") if target.is_file() else ""
        if current != result.text:
            stale = True
            diff = difflib.unified_diff(
                current.splitlines(keepends=True),
                result.text.splitlines(keepends=True),
                fromfile=f"{target.as_posix()} (committed)",
                tofile=f"{target.as_posix()} (from {spec.as_posix()})",
            )
            sys.stdout.writelines(diff)
            click.echo(f"stale: {target.as_posix()}", err=True)
    if gen_dir.is_dir():
        for orphan in sorted(p.name for p in gen_dir.glob("*.py") if p.name not in expected):
            stale = True
            click.echo(
                f"orphan: {(gen_dir / orphan).as_posix()} has no spec in {specs_dir.as_posix()}/",
                err=True,
            )
    if stale:
        click.echo(
            f"generated/ is stale: run `specc build {specs_dir.as_posix()}/*.yaml` "
            "(and delete orphans)",
            err=True,
        )
        raise SpeccError("stale")
    click.echo(f"ok: {len(expected)} scripts match their specs", err=True)


@cli.command()
@click.argument("a", type=click.Path(path_type=Path))
@click.argument("b", type=click.Path(path_type=Path))
def diff(a: Path, b: Path) -> None:
    """Unified diff of the scripts two specs generate; exit 1 when they differ."""
    ra, rb = build_spec(a), build_spec(b)
    _report(ra.diagnostics, str(a))
    _report(rb.diagnostics, str(b))
    if not ra.ok or not rb.ok or ra.text is None or rb.text is None:
        raise SpeccError("invalid spec")
    lines = list(
        difflib.unified_diff(
            ra.text.splitlines(keepends=True),
            rb.text.splitlines(keepends=True),
            fromfile=f"{a.as_posix()} -> generated/{ra.name}.py",
            tofile=f"{b.as_posix()} -> generated/{rb.name}.py",
        )
    )
    sys.stdout.writelines(lines)
    if lines:
        raise SpeccError("differ")


@cli.command(name="list")
def list_kinds() -> None:
    """List the spec's sections, their kinds and one-line descriptions."""
    for section, desc, kinds in kinds_listing():
        click.echo(f"{section}: {desc}")
        for kind, kdesc in kinds:
            first = kdesc.split(". ")[0].rstrip(".")
            click.echo(f"  {kind:<18} {first}")


@cli.command()
@click.option("--markdown", "as_markdown", is_flag=True, help="The spec reference in Markdown.")
def schema(as_markdown: bool) -> None:
    """Print the spec's JSON Schema (Draft 2020-12)."""
    if as_markdown:
        click.echo(markdown(), nl=False)
    else:
        click.echo(json.dumps(load_schema(), indent=2))


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI and map outcomes to exit codes; tracebacks only with --debug."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args or os.environ.get("SPECC_DEBUG") == "1"
    try:
        cli.main(args=args, prog_name="specc", standalone_mode=False)
    except SpeccError:
        return EXIT_INVALID
    except click.exceptions.Exit as exc:
        return int(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        return EXIT_USAGE if isinstance(exc, click.UsageError) else exc.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return EXIT_INVALID
    except (BrokenPipeError, KeyboardInterrupt):
        return EXIT_INVALID
    except Exception as exc:  # a bug in specc: one line unless --debug
        if debug:
            traceback.print_exc()
        else:
            click.echo(
                f"internal error: {type(exc).__name__}: {exc} (a bug in specc: rerun as "
                "`specc --debug <command> ...` for the traceback, and report it)",
                err=True,
            )
        return EXIT_INTERNAL
    return EXIT_OK
