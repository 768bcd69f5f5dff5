"""``d2l-grade``: build a course, grade it, let students check their work, run the demo."""

from __future__ import annotations

import argparse
import json
import sys

EXIT_CODES = """\
exit status:
  0  every submission graded and recorded in the gradebook
  1  d2l-grade check: a self-check failed
  2  nothing graded: a bad argument (no such course, assignment, release or submission), or an error
  3  cannot grade safely (the sandbox refused): nothing was recorded
  4  a hidden test broke (the grader's error): those exercises are withheld for grading by hand
  5  not every student was graded and recorded: a named student has no submission, or nbgrader
     could not record one (see the warnings); the others were graded and recorded
  4 wins over 5 when both happen."""


def _cmd_check(args) -> int:
    from autograder.selfcheck import CHECK_NOTE, check_notebook
    status, lines = check_notebook(args.notebook, verbose=args.verbose)
    print("\n".join(lines))
    print(CHECK_NOTE, file=sys.stderr)
    return status


def _cmd_course_build(args) -> int:
    from autograder.course import build_course
    from autograder.course_files import SETTINGS_NAME
    from autograder.paths import KitPaths
    course = build_course(args.dir, KitPaths(), assignments=args.assignment or None, force=args.force)
    print(f"Built an nbgrader course in {course.root}")
    print(f"Your settings (late penalty, zip_collect, ...) go in {course.root / SETTINGS_NAME}, "
          "which builds never overwrite")
    print(f"Release with: cd {course.root} && nbgrader generate_assignment ASSIGNMENT")
    print(f"Then, with submissions in {course.root / 'submitted'}/STUDENT/ASSIGNMENT/: "
          f"d2l-grade grade {course.root} ASSIGNMENT")
    return 0


def _cmd_grade(args) -> int:
    from autograder.course_grading import default_jobs, grade_course, results_table
    from autograder.progress import GradingProgress
    if args.jobs is not None and args.jobs < 1:
        raise ValueError("--jobs must be at least 1")
    # a bar only for a person watching: never in --json output or when stdout is not a terminal
    show = sys.stdout.isatty() and not args.json
    with GradingProgress(f"grading {args.assignment}", enabled=show) as progress:
        # the kit the course was built from (its nbgrader_config.py names it)
        report = grade_course(args.dir, args.assignment, None, students=args.student or None,
                              feedback=args.feedback, jobs=args.jobs or default_jobs(),
                              scheduler=args.scheduler, force=args.force, progress=progress)
    if args.json:
        print(json.dumps(report.results, indent=2, sort_keys=True))
    else:
        print(results_table(report.results))
    for line in report.warnings:
        print(f"warning: {line}", file=sys.stderr)
    for line in report.grader_errors:
        print(f"grader error: {line}", file=sys.stderr)
    incomplete = report.incomplete()
    if incomplete:
        who = ", ".join(incomplete[:10]) + (", ..." if len(incomplete) > 10 else "")
        print(f"d2l-grade: {len(incomplete)} student(s) not graded and recorded in the gradebook ({who}); "
              "see the warnings above, fix them and run the same command again (the others are kept)",
              file=sys.stderr)
    if report.grader_errors:
        print(f"d2l-grade: {len(report.grader_errors)} check(s) broke in the hidden tests themselves; "
              "those exercises are withheld (not zeroed) and flagged for manual grading; fix the tests "
              "and grade again", file=sys.stderr)
        return 4
    return 5 if incomplete else 0


def _cmd_export(args) -> int:
    from autograder.exports import export
    written, notes = export(args.dir, args.assignment, args.format, args.out,
                            all_students=args.all_students, visibility=args.visibility)
    for line in notes:
        print(f"warning: {line}", file=sys.stderr)
    print("\n".join(str(p) for p in written))
    return 0


def _cmd_report(args) -> int:
    from autograder.report import write_report
    page, notes = write_report(args.dir, args.assignment)
    for line in notes:
        print(f"warning: {line}", file=sys.stderr)
    print(page)
    return 0


def _cmd_demo(args) -> int:
    from autograder.demo import run_demo
    return run_demo(args.dir, assignments=args.assignment)


def version() -> str:
    """The installed distribution's version (``importlib.metadata``), else the package's own
    ``__version__`` (a clone run without installing it)."""
    from importlib import metadata
    try:
        return metadata.version("d2l-autograder")
    except metadata.PackageNotFoundError:
        from autograder import __version__
        return __version__


def build_parser() -> argparse.ArgumentParser:
    """The command-line interface."""
    parser = argparse.ArgumentParser(prog="d2l-grade", description=__doc__.split("\n\n")[0],
                                     epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", action="version", version=f"%(prog)s {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    check = sub.add_parser("check", help="run the public self-checks on your notebook")
    check.add_argument("notebook")
    check.add_argument("-v", "--verbose", action="store_true", help="one line per check")
    check.set_defaults(func=_cmd_check)

    course = sub.add_parser("course", help="instructor: manage an nbgrader course")
    course_sub = course.add_subparsers(dest="course_command", required=True)
    build = course_sub.add_parser("build", help="create an nbgrader course from the kit")
    build.add_argument("dir")
    build.add_argument("--assignment", action="append", help="only these assignments (repeatable)")
    build.add_argument("--force", action="store_true",
                       help="rewrite nbgrader_config.py even if it was edited by hand (your settings "
                       "belong in course_config.py, which is never overwritten)")
    build.set_defaults(func=_cmd_course_build)

    grade = sub.add_parser("grade", help="instructor: grade submitted/ in a sandbox into the gradebook",
                           description="Settings are read as `nbgrader autograde` reads them in the course "
                           "directory: your nbgrader_config.py (~/.jupyter, or $JUPYTER_CONFIG_DIR), then "
                           "the course's nbgrader_config.py and course_config.py; there are no nbgrader "
                           "flags here.",
                           epilog=EXIT_CODES, formatter_class=argparse.RawDescriptionHelpFormatter)
    grade.add_argument("dir", help="the course directory (`.` when you are in it)")
    grade.add_argument("assignment")
    grade.add_argument("--student", action="append", help="only these students (repeatable)")
    grade.add_argument("--json", action="store_true", help="print per-student, per-exercise results as JSON")
    grade.add_argument("--feedback", action="store_true", help="also generate feedback HTML")
    grade.add_argument("--jobs", "-j", type=int, default=None, metavar="N",
                       help="sandboxed grading workers on this machine (default: $D2L_GRADE_JOBS, else the "
                       "number of cores)")
    grade.add_argument("--scheduler", metavar="tcp://HOST:PORT",
                       help="grade on a Dask distributed cluster (its workers need the kit installed); "
                       "results are recorded here")
    grade.add_argument("--force", action="store_true",
                       help="grade everyone again (default: keep results of unchanged notebooks "
                       "already graded and recorded, e.g. after a crash)")
    grade.set_defaults(func=_cmd_grade)

    export = sub.add_parser("export", help="instructor: write a graded assignment's results as CSV, an "
                            "LMS CSV or Gradescope results.json files (prints the paths written)")
    export.add_argument("dir", help="the course directory")
    export.add_argument("assignment")
    export.add_argument("--format", choices=("csv", "lms", "gradescope"), default="csv",
                        help="csv: one column per exercise; lms: student_id,total,max; gradescope: "
                        "results.json per student (default: csv)")
    export.add_argument("--out", metavar="DIR", help="where to write (default: COURSE/exports)")
    export.add_argument("--all-students", action="store_true",
                        help="csv/lms: a row for every student the course knows, not only those graded")
    export.add_argument("--visibility", choices=("visible", "hidden", "after_due_date", "after_published"),
                        help="gradescope: the results' top-level visibility (default: Gradescope's)")
    export.set_defaults(func=_cmd_export)

    report = sub.add_parser("report", help="instructor: write a graded assignment's class report, one HTML "
                            "page with its figures in COURSE/reports/ASSIGNMENT/ (prints the page's path)")
    report.add_argument("dir", help="the course directory")
    report.add_argument("assignment")
    report.set_defaults(func=_cmd_report)

    demo = sub.add_parser("demo", help="build, release and grade a demo course with sample submissions")
    demo.add_argument("dir", nargs="?", default=None, help="where to build it (default: a fresh directory)")
    demo.add_argument("--assignment", action="append", metavar="NAME",
                      help="only this assignment (repeat for more; default: all six)")
    demo.set_defaults(func=_cmd_demo)
    return parser


def missing_module_message(exc: BaseException) -> str | None:
    """What to tell a person whose command stopped because a module the kit imports is not installed
    (``exc`` a :class:`ModuleNotFoundError` naming a module outside the kit): which module, and the
    command that installs it into the Python that runs ``d2l-grade``.  None for any other error."""
    if not isinstance(exc, ModuleNotFoundError) or not exc.name:
        return None
    top = exc.name.split(".")[0]
    if top == "autograder":
        return None  # a part of the kit itself is missing: a broken install, not a missing dependency
    python = sys.executable or "python3"
    # a bare `pip install torch` pulls a CUDA build of several GB on Linux: name the CPU build
    package = ("'torch>=2.2,<2.14' --index-url https://download.pytorch.org/whl/cpu" if top == "torch"
               else top)
    return (f"the kit needs the Python module {top!r}, which is not installed in this environment "
            f"({python}); install it with: {python} -m pip install {package}")


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``d2l-grade`` console script."""
    # jsonschema (under nbformat) compiles rfc3987-syntax's grammars when it is installed: about 2 s
    # of every command, for an "iri" format that no notebook schema uses
    sys.modules.setdefault("rfc3987_syntax", None)
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except KeyboardInterrupt:
        return 130
    except Exception as exc:  # noqa: BLE001 - one clear line instead of a traceback
        missing = missing_module_message(exc)  # first: the imports below may need the same module
        if missing:
            print(f"d2l-grade: error: {missing}", file=sys.stderr)
            return 2
        from autograder.sandbox import SandboxUnavailable
        if isinstance(exc, SandboxUnavailable):
            print(f"d2l-grade: cannot grade safely, nothing was recorded: {exc}", file=sys.stderr)
            return 3
        from autograder.notebook import NotebookError
        kind = "error" if isinstance(exc, (NotebookError, FileNotFoundError, ValueError)) else "internal error"
        print(f"d2l-grade: {kind}: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
